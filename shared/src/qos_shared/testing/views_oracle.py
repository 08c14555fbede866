"""Views computed by hand, in plain Python, from stored records: the independent computation the
engines' view tests check against, written from the definitions in docs/metrics.md ("Views"),
without the SQL of `qos_shared.views`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

Record = dict[str, Any]

TIMEOUT_MS = 180_000
MAX_LENGTH_MS = 4 * 3_600_000
QUALITY_REFERENCE_BPS = 6_000_000


def split_views(
    records: Iterable[Record], *, timeout_ms: int = TIMEOUT_MS, max_length_ms: int = MAX_LENGTH_MS
) -> list[list[Record]]:
    """Each view's records: per session, in event time, a new view after `timeout_ms` with no
    record and at each multiple of `max_length_ms` since the epoch."""
    by_session: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_session[r["session_id"]].append(r)
    views: list[list[Record]] = []
    for rs in by_session.values():
        rs.sort(key=lambda r: r["event_time"])
        current: list[Record] = []
        for r in rs:
            if current and (
                r["event_time"] - current[-1]["event_time"] >= timeout_ms
                or r["event_time"] // max_length_ms != current[0]["event_time"] // max_length_ms
            ):
                views.append(current)
                current = []
            current.append(r)
        if current:
            views.append(current)
    return views


def _first(rs: list[Record], test: Any) -> int | None:
    times = [r["event_time"] for r in rs if test(r)]
    return min(times) if times else None


def view_record(rs: list[Record], *, timeout_ms: int = TIMEOUT_MS) -> Record:
    """One view's record from its records, field by field from the definitions."""
    start = min(r["event_time"] for r in rs)
    last = max(r["event_time"] for r in rs)
    kinds = [r["metric_type"] for r in rs]
    first_frame = _first(rs, lambda r: r["metric_type"] in ("PLAY", "PLAYBACK_SUMMARY"))
    fatal = _first(rs, lambda r: r["metric_type"] == "ERROR" and r.get("fatal") is True)
    stopped = "STOP" in kinds
    if fatal is not None and (first_frame is None or fatal < first_frame):
        outcome = "start_failure"
    elif fatal is not None:
        outcome = "playback_failure"
    elif first_frame is None:
        outcome = "exit_before_start"
    else:
        outcome = "played" if stopped else "abandoned"
    summaries = [r for r in rs if r["metric_type"] == "PLAYBACK_SUMMARY"]
    playing = sum(r["playing_time_ms"] for r in summaries)
    buffering = sum(r["buffering_time_ms"] for r in summaries)
    stalls = sum(r["buffering_count"] for r in summaries)
    rated = [r for r in summaries if r.get("bitrate_bps") is not None]
    rated_ms = sum(r["playing_time_ms"] for r in rated)
    bitrate = (
        sum(r["bitrate_bps"] * r["playing_time_ms"] for r in rated) / rated_ms
        if rated_ms > 0
        else None
    )
    startups = [r["startup_latency_ms"] for r in rs if r["metric_type"] == "PLAY"]
    startup = min(startups) if startups else None

    startup_score = None if startup is None else 100 * 8 / (8 + startup / 1000)
    smooth = None
    if playing + buffering > 0:
        smooth = (
            100 / math.sqrt(1 + (stalls / 2) ** 2)
            + 100 * math.exp(-10 * buffering / (playing + buffering))
        ) / 2
    quality = None if bitrate is None else 100 * min(1.0, bitrate / QUALITY_REFERENCE_BPS)
    failed = outcome in ("start_failure", "playback_failure")
    if outcome == "exit_before_start":
        failure_score, score = None, None
    elif failed:
        failure_score, score = 0.0, 0.0
    else:
        failure_score = 100.0
        parts = [p for p in (startup_score, smooth, quality) if p is not None]
        score = sum(parts) / len(parts) if parts else None

    def biggest(field: str) -> Any:
        values = [r[field] for r in rs if r.get(field) is not None]
        return max(values) if values else None

    session = rs[0]["session_id"]
    attempts = [
        r["event_time"]
        for r in rs
        if r["metric_type"] == "ATTEMPT"
        or (r["metric_type"] == "PLAY" and r.get("source_format") == "legacy")
    ]
    return {
        "metric_type": "VIEW",
        "event_id": f"view:{session}:{start}",
        "view_id": f"{session}:{start}",
        "session_id": session,
        "user_id": biggest("user_id"),
        "client_platform": biggest("client_platform"),
        "channel_watched": biggest("channel_watched"),
        "viewer_country": biggest("viewer_country"),
        "device_class": biggest("device_class"),
        "is_live": any(r.get("is_live") is True for r in rs),
        "event_time": last + timeout_ms - 1,
        "view_start": start,
        "view_end": last,
        "attempt_time": min(attempts) if attempts else None,
        "first_frame_time": first_frame,
        "fatal_time": fatal,
        "startup_latency_ms": startup,
        "playing_time_ms": playing,
        "buffering_time_ms": buffering,
        "buffering_count": stalls,
        "error_count": kinds.count("ERROR"),
        "average_bitrate_bps": bitrate,
        "stopped": stopped,
        "records": len(rs),
        "outcome": outcome,
        "score": score,
        "score_failure": failure_score,
        "score_startup": startup_score,
        "score_smoothness": smooth,
        "score_quality": quality,
    }


def views(
    records: Iterable[Record], *, timeout_ms: int = TIMEOUT_MS, max_length_ms: int = MAX_LENGTH_MS
) -> list[Record]:
    """Every view of these records (unique by event_id: a record held twice counts once). Only
    viewers' records make views: VIEW records and IVS stream records are left out."""
    unique = {
        r["event_id"]: r
        for r in records
        if r.get("metric_type") not in ("VIEW", "STREAM_STATE", "STREAM_HEALTH")
    }
    return [
        view_record(rs, timeout_ms=timeout_ms)
        for rs in split_views(unique.values(), timeout_ms=timeout_ms, max_length_ms=max_length_ms)
    ]
