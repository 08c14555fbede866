"""Every KPI of METRICS.md computed by hand, in plain Python, over stored records.

View KPIs (views, start failures, exits before start, playback failures, experience score) read
the view records (metric_type VIEW) among the records: `qos_shared.testing.views_oracle` builds
them by hand from the events.

This is the independent computation each engine's tests check against (the local window engine,
the Flink job, the lake's queries, and later the search index): written metric by metric from
METRICS.md, without reading the catalogue's data structures or its SQL, so a mistake in a
definition or a rendering shows up as a disagreement.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

Record = dict[str, Any]


def of(records: Iterable[Record], *metric_types: str) -> list[Record]:
    return [r for r in records if r["metric_type"] in metric_types]


def ratio(numerator: float, denominator: float, scale: float = 1.0) -> float | None:
    return None if denominator == 0 else numerator / denominator * scale


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default, Flink's PERCENTILE)."""
    if not values:
        return None
    ordered = sorted(values)
    h = (len(ordered) - 1) * q
    lo, hi = math.floor(h), math.ceil(h)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (h - lo)


def _summaries(rs: list[Record]) -> list[Record]:
    return of(rs, "PLAYBACK_SUMMARY")


def _attempts(rs: list[Record]) -> int:
    # Old players send no ATTEMPT: their PLAY (legacy envelope) is the attempt.
    legacy_plays = sum(1 for r in of(rs, "PLAY") if r.get("source_format") == "legacy")
    return len(of(rs, "ATTEMPT")) + legacy_plays


def _watch_ms(rs: list[Record]) -> int:
    return sum(r["playing_time_ms"] + r["buffering_time_ms"] for r in _summaries(rs))


def _live_ms(rs: list[Record]) -> list[float]:
    return [
        r["live_latency_ms"]
        for r in _summaries(rs)
        if r["is_live"] and r.get("live_latency_ms") is not None
    ]


def _startups_ms(rs: list[Record]) -> list[float]:
    return [r["startup_latency_ms"] for r in of(rs, "PLAY")]


def _views(rs: list[Record], *outcomes: str) -> int:
    """View records (metric_type VIEW) with one of these outcomes; all views when none given."""
    return sum(1 for r in of(rs, "VIEW") if not outcomes or r.get("outcome") in outcomes)


def _score(rs: list[Record]) -> float | None:
    scores = [r["score"] for r in of(rs, "VIEW") if r.get("score") is not None]
    return sum(scores) / len(scores) if scores else None


def _mean_s(values: list[float]) -> float | None:
    return sum(values) / len(values) / 1000 if values else None


def _pct_s(values: list[float], q: float) -> float | None:
    p = percentile(values, q)
    return None if p is None else p / 1000


def _bitrate(rs: list[Record]) -> float | None:
    rated = [r for r in _summaries(rs) if r.get("bitrate_bps") is not None]
    return ratio(
        sum(r["bitrate_bps"] * r["playing_time_ms"] for r in rated),
        sum(r["playing_time_ms"] for r in rated),
    )


def _switches(rs: list[Record], direction: str) -> float:
    return float(sum(1 for r in of(rs, "QUALITY_CHANGED") if r.get("step_direction") == direction))


# What players send (EVENTS.md §2), and the IVS stream events ingest stores from EventBridge.
CLIENT_TYPES = ("ATTEMPT", "PLAY", "PLAYBACK_SUMMARY", "QUALITY_CHANGED", "STOP", "ERROR")
STREAM_TYPES = ("STREAM_STATE", "STREAM_HEALTH")


def _stream(rs: list[Record], metric_type: str, event_name: str) -> float:
    return float(
        sum(1 for r in rs if r["metric_type"] == metric_type and r.get("event_name") == event_name)
    )


ORACLE: dict[str, Callable[[list[Record]], float | None]] = {
    "startup_time": lambda rs: _mean_s(_startups_ms(rs)),
    "errors": lambda rs: float(sum(r["error_count"] for r in _summaries(rs))),
    "rebuffering_ratio": lambda rs: ratio(
        sum(r["buffering_time_ms"] for r in _summaries(rs)), _watch_ms(rs), 100
    ),
    "live_latency": lambda rs: _mean_s(_live_ms(rs)),
    "concurrency": lambda rs: float(len({r["session_id"] for r in _summaries(rs)})),
    "attempts": lambda rs: float(_attempts(rs)),
    "plays": lambda rs: float(len(of(rs, "PLAY"))),
    "views": lambda rs: float(_views(rs)),
    "video_start_failure": lambda rs: ratio(_views(rs, "start_failure"), _views(rs), 100),
    "exits_before_video_start": lambda rs: ratio(_views(rs, "exit_before_start"), _views(rs), 100),
    "startup_time_p50": lambda rs: _pct_s(_startups_ms(rs), 0.5),
    "startup_time_p90": lambda rs: _pct_s(_startups_ms(rs), 0.9),
    "startup_time_p95": lambda rs: _pct_s(_startups_ms(rs), 0.95),
    "rebuffer_frequency": lambda rs: ratio(
        sum(r["buffering_count"] for r in _summaries(rs)), _watch_ms(rs), 60_000
    ),
    "playback_failure": lambda rs: ratio(
        _views(rs, "playback_failure"),
        _views(rs, "played", "abandoned", "playback_failure"),
        100,
    ),
    "average_bitrate": _bitrate,
    "quality_switches_up": lambda rs: _switches(rs, "UP"),
    "quality_switches_down": lambda rs: _switches(rs, "DOWN"),
    "live_latency_p50": lambda rs: _pct_s(_live_ms(rs), 0.5),
    "live_latency_p95": lambda rs: _pct_s(_live_ms(rs), 0.95),
    "concurrent_viewers": lambda rs: float(
        len({r["session_id"] for r in _summaries(rs) if r["playing_time_ms"] > 0})
    ),
    "watch_time": lambda rs: sum(r["playing_time_ms"] for r in _summaries(rs)) / 60_000,
    "experience_score": _score,
    # IVS stream events (EventBridge): a channel's stream, never a viewer.
    "live_channels": lambda rs: float(
        len(
            {r["channel_watched"] for r in rs if r["metric_type"] in STREAM_TYPES}
            | {
                r["channel_watched"]
                for r in rs
                if r["metric_type"] in CLIENT_TYPES and r["is_live"]
            }
        )
    ),
    "stream_starts": lambda rs: _stream(rs, "STREAM_STATE", "Stream Start"),
    "stream_ends": lambda rs: _stream(rs, "STREAM_STATE", "Stream End"),
    "stream_failures": lambda rs: _stream(rs, "STREAM_STATE", "Stream Failure"),
    "starvations": lambda rs: _stream(rs, "STREAM_HEALTH", "Stream Starvation Start"),
}
# Metrics split by a field: computed by `rendition_shares`, not by ORACLE.
SHARE_METRICS = frozenset({"rendition_share"})


def rendition_shares(rs: list[Record]) -> dict[str, float | None]:
    """Each rendition's share of the playing time of summaries that name one, in percent."""
    named = [r for r in _summaries(rs) if r.get("rendition_name") is not None]
    total = sum(r["playing_time_ms"] for r in named)
    parts: dict[str, int] = defaultdict(int)
    for r in named:
        parts[r["rendition_name"]] += r["playing_time_ms"]
    return {name: ratio(part, total, 100) for name, part in parts.items()}
