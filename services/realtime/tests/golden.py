"""Golden data for the realtime tests: generated sessions, and an oracle written by hand.

The sessions come from the one seeded generator (`qos_shared.testing.sessions`): stored records
the way ingest would make them (flat event + enrichment fields) for viewers across platforms and
channels, with every event type, and enough of each outcome (start failures, exits before start,
playback failures, buffering, errors, pauses, switches both ways) that every metric has a value;
and the live channels' IVS stream events (`qos_shared.testing.ivs.channel_streams`).
The expected rows come from the hand-written oracle in `qos_shared.testing.oracle` (written from
METRICS.md, not from the catalogue's definitions): the independent computation the engines are
checked against.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from qos_shared.testing.ivs import channel_streams, stored_record
from qos_shared.testing.oracle import ORACLE, Record, rendition_shares
from qos_shared.testing.sessions import Sessions, every_outcome, weighted
from qos_shared.testing.views_oracle import views

__all__ = ["BASE_MS", "ORACLE", "expected_rows", "generate"]

BASE_MS = 1_795_000_020_000  # a window boundary for 5, 10, 30 and 60 s windows


def generate(
    seed: int = 7,
    *,
    sessions: int = 120,
    span_s: int = 300,
    channels: int = 4,
    legacy_share: float = 0.2,
) -> list[Record]:
    """Stored records of `sessions` viewing sessions starting within `span_s` seconds (a few
    minutes each), in event-time order."""
    names = weighted(*(f"ch{n}" for n in range(channels)))
    spec = every_outcome(BASE_MS, span_s * 1000, sessions)
    outcomes = replace(spec.outcomes, legacy=legacy_share)
    spec = replace(spec, channels=names, outcomes=outcomes)
    records = Sessions(spec, seed).records()
    # The live channels' IVS stream events, as ingest stores them (received in time); half the
    # streams fail, so that the data has failures too.
    live = [r for r in records if r["is_live"]]
    events = channel_streams(seed, live, failure_share=0.5)
    streams = [stored_record(e, BASE_MS) for e in events]
    return sorted(records + streams, key=lambda r: r["event_time"])


Key = tuple[int, str, str, str, str]  # window_start, metric, dimension, dimension_value, split


def expected_rows(
    records: list[Record], *, window_s: int, top_n: int, view_timeout_ms: int | None = None
) -> dict[Key, float | None]:
    """What every engine must produce for these records, keyed like MetricRow.key(): with the
    records of their views (the oracle's, with this timeout or the default), at their close
    times."""
    window_ms = window_s * 1000
    windows: dict[int, list[Record]] = defaultdict(list)
    timeout = {} if view_timeout_ms is None else {"timeout_ms": view_timeout_ms}
    for r in [*records, *views(records, **timeout)]:
        windows[r["event_time"] // window_ms * window_ms].append(r)
    out: dict[Key, float | None] = {}
    for start, rs in windows.items():
        sessions: dict[str, set[str]] = defaultdict(set)
        for r in rs:
            sessions[r["channel_watched"]].add(r["session_id"])
        ranked = sorted(sessions, key=lambda c: (-len(sessions[c]), c))
        keep = set(ranked[:top_n])
        groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
        for r in rs:
            groups[("all", "")].append(r)
            # A stream record has no platform: the engines' platform group "".
            groups[("client_platform", r.get("client_platform") or "")].append(r)
            channel = r["channel_watched"] if r["channel_watched"] in keep else "other"
            groups[("channel_watched", channel)].append(r)
        for (dimension, value), group in groups.items():
            for name, compute in ORACLE.items():
                out[(start, name, dimension, value, "")] = compute(group)
            for rendition, share in rendition_shares(group).items():
                out[(start, "rendition_share", dimension, value, rendition)] = share
    return out
