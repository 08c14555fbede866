"""Golden data for the realtime tests: generated sessions, and an oracle written by hand.

The sessions come from the one seeded generator (`qos_shared.testing.sessions`): stored records
the way ingest would make them (flat event + enrichment fields) for viewers across platforms and
channels, with every event type, and enough of each outcome (start failures, exits before start,
playback failures, buffering, errors, pauses, switches both ways) that every metric has a value.
The expected rows come from the hand-written oracle in `qos_shared.testing.oracle` (written from
METRICS.md, not from the catalogue's definitions): the independent computation the engines are
checked against.
"""

from __future__ import annotations

from collections import defaultdict

from qos_shared.testing.oracle import ORACLE, Record, rendition_shares
from qos_shared.testing.sessions import LADDER, Sessions, SessionSpec, weighted

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
    spec = SessionSpec(
        start_ms=BASE_MS,
        span_ms=span_s * 1000,
        sessions=sessions,
        viewers=37,
        platforms=weighted("web", "ios", "android", "other"),
        channels=weighted(*(f"ch{n}" for n in range(channels))),
        ladder=LADDER[1:],
        ladder_weights=(1, 1, 1),
        live_share=0.8,
        legacy_share=legacy_share,
        exit_before_start_share=0.06,
        start_failure_share=0.085,
        playback_failure_share=0.1,
        duration_median_ms=150_000,
        duration_sigma=0.5,
        duration_min_ms=60_000,
        duration_max_ms=240_000,
        buffering_share=0.25,
        buffering_ms=(100, 4_000),
        paused_share=0.1,
        summary_error_share=0.25,
        bitrate_share=0.85,
        switches_per_hour=18.0,
        recoverable_errors_per_hour=3.0,
    )
    return Sessions(spec, seed).records()


Key = tuple[int, str, str, str, str]  # window_start, metric, dimension, dimension_value, split


def expected_rows(records: list[Record], *, window_s: int, top_n: int) -> dict[Key, float | None]:
    """What every engine must produce for these records, keyed like MetricRow.key()."""
    window_ms = window_s * 1000
    windows: dict[int, list[Record]] = defaultdict(list)
    for r in records:
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
            groups[("client_platform", r["client_platform"])].append(r)
            channel = r["channel_watched"] if r["channel_watched"] in keep else "other"
            groups[("channel_watched", channel)].append(r)
        for (dimension, value), group in groups.items():
            for name, compute in ORACLE.items():
                out[(start, name, dimension, value, "")] = compute(group)
            for rendition, share in rendition_shares(group).items():
                out[(start, "rendition_share", dimension, value, rendition)] = share
    return out
