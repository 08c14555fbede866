"""Golden events for the Flink job's tests, and a plain-Python oracle of a few metrics.

`generate` makes stored records as ingest would (flat event + enrichment fields), with the one
seeded generator (`qos_shared.testing.sessions`), for viewing sessions across four platforms and
five channels, with every event type: ATTEMPT (or, for old players, none), PLAY, PLAYBACK_SUMMARY
with rendition, bitrate (not always) and live latency (live sessions only), QUALITY_CHANGED,
recoverable and fatal ERRORs in both phases, STOP with and without exit_before_start. Then, as
clients lose them (`lose`): a third of the sessions lose their last record (the STOP, or the exit
beacon: an exit before start is then an ATTEMPT alone), half the fatal errors lose their
`phase`, and a tenth of the sessions pause for five minutes halfway (two views). Records come out
of event-time order, but never by more than `max_disorder_ms`, which a test keeps below the
allowed lateness so that no record is late. Startup times repeat (`other` platforms report
whole seconds), and a few exceed 20 s (one distribution row's span of values, so some groups'
values take two rows): the tests assert both.

The oracle is written from METRICS.md, not from the catalogue, for a handful of metrics and for
the values behind the percentiles (the distribution rows).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import replace

from qos_shared.testing.oracle import ORACLE, Record, rendition_shares
from qos_shared.testing.sessions import Sessions, as_clients_lose_them, every_outcome, weighted
from qos_shared.testing.views_oracle import views

__all__ = ["ORACLE", "Record"]
Key = tuple[int, str, str, str, str]  # MetricRow.key(): window, metric, dimension, value, split
# DistributionRow.key(): window, source, dimension, dimension value
DistributionKey = tuple[int, str, str, str]
BASE_MS = 1_796_000_000_000  # a multiple of 60 s: windows start on round epoch seconds
# The job's settings for the golden data: the disorder stays below the lateness.
WINDOW_S = 30
LATENESS_S = 5.0
CHANNELS = ("news", "sports", "music", "kids", "movies")


def generate(
    seed: int = 20_240_601,
    *,
    sessions: int = 90,
    span_ms: int = 150_000,
    max_disorder_ms: int = 4_000,
) -> list[Record]:
    """Stored records of `sessions` sessions starting within `span_ms`, slightly out of order."""
    spec = every_outcome(BASE_MS, span_ms, sessions)
    # Summaries every 15 s: several per window, so the distributions have values to repeat.
    playback = replace(spec.playback, summary_every_ms=15_000)
    spec = replace(spec, channels=weighted(*CHANNELS), playback=playback)
    spec = replace(spec, disorder_ms=0)
    rng = random.Random(seed)
    records = as_clients_lose_them(Sessions(spec, seed).records(), rng)
    # Out of order: each record delayed by up to max_disorder_ms.
    delays = {r["event_id"]: rng.randrange(max_disorder_ms) for r in records}
    return sorted(records, key=lambda r: r["event_time"] + delays[r["event_id"]])


# --- the oracle: every metric, from the hand-written module shared by the engines' tests ------


def oracle_rows(records: list[Record], *, window_s: int) -> dict[Key, float | None]:
    """Every metric of the oracle, and the rendition shares, of every window and group: over
    the records and the records of their views (`views_oracle`), at their close times."""
    window_ms = window_s * 1000
    groups: dict[tuple[int, str, str], list[Record]] = defaultdict(list)
    for r in [*records, *views(records)]:
        start = r["event_time"] - r["event_time"] % window_ms
        groups[(start, "all", "")].append(r)
        groups[(start, "client_platform", r["client_platform"])].append(r)
        groups[(start, "channel_watched", r["channel_watched"])].append(r)
    out: dict[Key, float | None] = {}
    for (start, dimension, value), rs in groups.items():
        for name, compute in ORACLE.items():
            out[(start, name, dimension, value, "")] = compute(rs)
        for rendition, share in rendition_shares(rs).items():
            out[(start, "rendition_share", dimension, value, rendition)] = share
    return out


def _groups(record: Record) -> list[tuple[str, str]]:
    return [
        ("all", ""),
        ("client_platform", record["client_platform"]),
        ("channel_watched", record["channel_watched"]),
    ]


def oracle_distributions(
    records: list[Record], *, window_s: int
) -> dict[DistributionKey, Counter[int]]:
    """The values behind the percentiles, per window, group and source field, from METRICS.md:
    the startup time of PLAY events, the live latency of live PLAYBACK_SUMMARY events that
    report one. Only groups with a value have an entry."""
    window_ms = window_s * 1000
    out: dict[DistributionKey, Counter[int]] = defaultdict(Counter)
    for r in records:
        start = r["event_time"] - r["event_time"] % window_ms
        found: list[tuple[str, int]] = []
        if r["metric_type"] == "PLAY" and r.get("startup_latency_ms") is not None:
            found.append(("startup_latency_ms", r["startup_latency_ms"]))
        if (
            r["metric_type"] == "PLAYBACK_SUMMARY"
            and r["is_live"]
            and r.get("live_latency_ms") is not None
        ):
            found.append(("live_latency_ms", r["live_latency_ms"]))
        for source, value in found:
            for dimension, dimension_value in _groups(r):
                out[(start, source, dimension, dimension_value)][value] += 1
    return dict(out)
