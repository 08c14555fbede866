"""Golden data for the lake's queries: generated sessions, a real lake, and a hand-written oracle.

The generator makes stored records (flat event + enrichment fields) for sessions over three UTC
days, across platforms, channels (one with a quote in its name) and countries (some
unknown), with every event type the catalogue reads. The oracle computes every KPI and every named
query's expected rows in plain Python, metric by metric, without reading the catalogue's
definitions or the SQL: it is the independent truth the queries are checked against.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from qos_lake.queries import QueryParams
from qos_lake.writer import LakeWriter, WriterConfig
from qos_shared.eventlog import EventLog

from .lake import append

Record = dict[str, Any]
Row = tuple[Any, ...]

# 2026-11-01T20:00:00Z: sessions start over 48 hours, so the data covers 2026-11-01..03.
BASE_MS = int(datetime(2026, 11, 1, 20, tzinfo=UTC).timestamp() * 1000)
FIRST_DAY, LAST_DAY = date(2026, 11, 1), date(2026, 11, 3)
PLATFORMS = ("web", "ios", "android", "other")
CHANNELS = ("ch-news", "ch-sport", "O'Neil TV", "ch-kids")
COUNTRIES = ("FR", "US", "DE", None)
RENDITIONS = (("1080p", 6_000_000), ("720p", 3_000_000), ("480p", 1_200_000))


def generate(seed: int = 11, sessions: int = 400) -> list[Record]:
    """Stored records of `sessions` viewing sessions, in event-time order."""
    rng = random.Random(seed)
    records: list[Record] = []
    for n in range(sessions):
        legacy = rng.random() < 0.2
        base: Record = {
            "session_id": f"s{n:04d}",
            "user_id": f"u{n % 41}",
            "client_platform": rng.choice(PLATFORMS),
            "channel_watched": rng.choice(CHANNELS),
            "is_live": rng.random() < 0.7,
            "source_format": "legacy" if legacy else "v1",
        }
        country = rng.choice(COUNTRIES)
        if country is not None:
            base["viewer_country"] = country
        t = BASE_MS + rng.randrange(48 * 3_600_000)

        def emit(metric_type: str, at: int, base: Record = base, **fields: Any) -> None:
            event_id = f"{base['session_id']}-{len(records)}"
            records.append(
                {**base, "metric_type": metric_type, "event_time": at, "event_id": event_id}
                | fields
            )

        if not legacy:
            emit("ATTEMPT", t)
        outcome = rng.random()
        if not legacy and outcome < 0.08:
            emit("ERROR", t + 900, error_code="NETWORK", fatal=True, phase="startup")
            emit("STOP", t + 950, exit_before_start=False)
            continue
        if not legacy and outcome < 0.14:
            emit("STOP", t + 700, exit_before_start=True)
            continue
        startup = rng.randrange(300, 6000)
        t += startup
        emit("PLAY", t, startup_latency_ms=startup)
        rendition, bitrate = rng.choice(RENDITIONS)
        # Long sessions (up to an hour of summaries) cross hour and day boundaries.
        for _ in range(rng.choice([1, 2, 3, 5, 20, 60])):
            buffering = rng.choice([0, 0, 0, rng.randrange(100, 4000)])
            playing = rng.choice([0, 30_000]) if rng.random() < 0.1 else 60_000 - buffering
            t += 60_000
            summary: Record = {
                "playing_time_ms": playing,
                "buffering_time_ms": buffering,
                "buffering_count": 0 if buffering == 0 else rng.randrange(1, 4),
                "error_count": rng.choice([0, 0, 0, 1]),
                "rendition_name": rendition,
            }
            if base["is_live"]:
                summary["live_latency_ms"] = rng.randrange(1500, 9000)
            if not legacy:
                summary["bitrate_bps"] = bitrate
            emit("PLAYBACK_SUMMARY", t, **summary)
            if not legacy and rng.random() < 0.2:
                new_rendition, new_bitrate = rng.choice(RENDITIONS)
                if new_rendition != rendition:
                    direction = "UP" if new_bitrate > bitrate else "DOWN"
                    emit("QUALITY_CHANGED", t + 5, step_direction=direction)
                    rendition, bitrate = new_rendition, new_bitrate
        if not legacy and rng.random() < 0.1:
            emit("ERROR", t + 10, error_code="DECODE", fatal=True, phase="playback")
        if not legacy:
            emit("STOP", t + 20, exit_before_start=False)
    records.sort(key=lambda r: r["event_time"])
    return records


def write_lake(records: list[Record], root: Path, log_path: Path) -> None:
    """The records through the event log and the real writer, in several flushes."""
    log = EventLog(log_path, synchronous="NORMAL")
    append(log, records)
    writer = LakeWriter(log, root, WriterConfig(flush_records=3_000, read_batch=1_000))
    try:
        while writer.poll()[0]:
            pass
        writer.flush()
    finally:
        writer.close()


# --- the oracle: each KPI by hand ---------------------------------------------------------------


def _of(rs: Iterable[Record], *types: str) -> list[Record]:
    return [r for r in rs if r["metric_type"] in types]


def _ratio(numerator: float, denominator: float, scale: float = 1.0) -> float | None:
    return None if denominator == 0 else numerator / denominator * scale


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    h = (len(ordered) - 1) * q
    lo, hi = math.floor(h), math.ceil(h)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (h - lo)


def _attempts(rs: list[Record]) -> int:
    legacy_plays = sum(1 for r in _of(rs, "PLAY") if r["source_format"] == "legacy")
    return len(_of(rs, "ATTEMPT")) + legacy_plays


def _watch_ms(rs: list[Record]) -> int:
    return sum(r["playing_time_ms"] + r["buffering_time_ms"] for r in _of(rs, "PLAYBACK_SUMMARY"))


def _live_ms(rs: list[Record]) -> list[float]:
    return [
        r["live_latency_ms"]
        for r in _of(rs, "PLAYBACK_SUMMARY")
        if r["is_live"] and r.get("live_latency_ms") is not None
    ]


def _startups_ms(rs: list[Record]) -> list[float]:
    return [r["startup_latency_ms"] for r in _of(rs, "PLAY")]


def _fatal(rs: list[Record], phase: str) -> int:
    return sum(1 for r in _of(rs, "ERROR") if r.get("fatal") is True and r.get("phase") == phase)


def _mean_s(values: list[float]) -> float | None:
    return sum(values) / len(values) / 1000 if values else None


def _pct_s(values: list[float], q: float) -> float | None:
    p = percentile(values, q)
    return None if p is None else p / 1000


def _bitrate(rs: list[Record]) -> float | None:
    rated = [r for r in _of(rs, "PLAYBACK_SUMMARY") if r.get("bitrate_bps") is not None]
    return _ratio(
        sum(r["bitrate_bps"] * r["playing_time_ms"] for r in rated),
        sum(r["playing_time_ms"] for r in rated),
    )


def _switches(rs: list[Record], direction: str) -> float:
    return float(sum(1 for r in _of(rs, "QUALITY_CHANGED") if r["step_direction"] == direction))


ORACLE: dict[str, Callable[[list[Record]], float | None]] = {
    "startup_time": lambda rs: _mean_s(_startups_ms(rs)),
    "errors": lambda rs: float(sum(r["error_count"] for r in _of(rs, "PLAYBACK_SUMMARY"))),
    "rebuffering_ratio": lambda rs: _ratio(
        sum(r["buffering_time_ms"] for r in _of(rs, "PLAYBACK_SUMMARY")), _watch_ms(rs), 100
    ),
    "live_latency": lambda rs: _mean_s(_live_ms(rs)),
    "concurrency": lambda rs: float(len({r["session_id"] for r in _of(rs, "PLAYBACK_SUMMARY")})),
    "attempts": lambda rs: float(_attempts(rs)),
    "plays": lambda rs: float(len(_of(rs, "PLAY"))),
    "video_start_failure": lambda rs: _ratio(_fatal(rs, "startup"), _attempts(rs), 100),
    "exits_before_video_start": lambda rs: _ratio(
        sum(1 for r in _of(rs, "STOP") if r.get("exit_before_start") is True), _attempts(rs), 100
    ),
    "startup_time_p50": lambda rs: _pct_s(_startups_ms(rs), 0.5),
    "startup_time_p90": lambda rs: _pct_s(_startups_ms(rs), 0.9),
    "startup_time_p95": lambda rs: _pct_s(_startups_ms(rs), 0.95),
    "rebuffer_frequency": lambda rs: _ratio(
        sum(r["buffering_count"] for r in _of(rs, "PLAYBACK_SUMMARY")), _watch_ms(rs), 60_000
    ),
    "playback_failure": lambda rs: _ratio(_fatal(rs, "playback"), len(_of(rs, "PLAY")), 100),
    "average_bitrate": _bitrate,
    "quality_switches_up": lambda rs: _switches(rs, "UP"),
    "quality_switches_down": lambda rs: _switches(rs, "DOWN"),
    "live_latency_p50": lambda rs: _pct_s(_live_ms(rs), 0.5),
    "live_latency_p95": lambda rs: _pct_s(_live_ms(rs), 0.95),
    "concurrent_viewers": lambda rs: float(
        len({r["session_id"] for r in _of(rs, "PLAYBACK_SUMMARY") if r["playing_time_ms"] > 0})
    ),
    "watch_time": lambda rs: (
        sum(r["playing_time_ms"] for r in _of(rs, "PLAYBACK_SUMMARY")) / 60_000
    ),
}
SHARE_METRICS = frozenset({"rendition_share"})


def day_of(record: Record) -> str:
    return datetime.fromtimestamp(record["event_time"] / 1000, UTC).date().isoformat()


_KEY: dict[str, Callable[[Record], Any]] = {
    "day": day_of,
    "client_platform": lambda r: r.get("client_platform"),
    "channel_watched": lambda r: r.get("channel_watched"),
    "viewer_country": lambda r: r.get("viewer_country"),
    "rendition_name": lambda r: r.get("rendition_name"),
}


def in_scope(records: list[Record], params: QueryParams) -> list[Record]:
    first, last = params.from_day.isoformat(), params.to_day.isoformat()
    wanted = {
        "client_platform": params.platform,
        "channel_watched": params.channel,
        "viewer_country": params.country,
    }
    return [
        r
        for r in records
        if first <= day_of(r) <= last and all(v is None or r.get(k) == v for k, v in wanted.items())
    ]


def _nulls_last(value: Any) -> tuple[bool, Any]:
    return (value is None, "" if value is None else value)


def grouped(records: list[Record], columns: tuple[str, ...]) -> dict[Row, list[Record]]:
    groups: dict[Row, list[Record]] = defaultdict(list)
    for r in records:
        groups[tuple(_KEY[c](r) for c in columns)].append(r)
    return groups


def expected_metric_rows(
    records: list[Record],
    group: tuple[str, ...],
    metrics: tuple[tuple[str, str], ...],
    rank_by: tuple[str, ...] = (),
) -> list[Row]:
    """One row per group: the group's key, then each (column, metric) from the oracle."""
    rows = [
        (*key, *(ORACLE[name](rs) for _, name in metrics))
        for key, rs in grouped(records, group).items()
    ]
    columns = [*group, *(column for column, _ in metrics)]
    ranks = [columns.index(c) for c in rank_by]

    def order(row: Row) -> tuple[Any, ...]:
        return (*(-row[i] for i in ranks), *(_nulls_last(v) for v in row[: len(group)]))

    return sorted(rows, key=order)


def expected_share_rows(records: list[Record], group: tuple[str, ...]) -> list[Row]:
    """Rendition share: each rendition's playing time over its group's, in percent."""
    rows: list[Row] = []
    for key, rs in grouped(records, group).items():
        named = [r for r in _of(rs, "PLAYBACK_SUMMARY") if r.get("rendition_name") is not None]
        total = sum(r["playing_time_ms"] for r in named)
        per_rendition: dict[str, int] = defaultdict(int)
        for r in named:
            per_rendition[r["rendition_name"]] += r["playing_time_ms"]
        rows += [(*key, name, _ratio(ms, total, 100)) for name, ms in per_rendition.items()]
    return sorted(rows, key=lambda row: tuple(_nulls_last(v) for v in row[:-1]))


def same(actual: list[Row], expected: list[Row], rel: float = 1e-9) -> bool:
    """Equal rows, floats within `rel` (summation order differs between engines)."""
    if len(actual) != len(expected):
        return False
    for got_row, want_row in zip(actual, expected, strict=True):
        if len(got_row) != len(want_row):
            return False
        for got, want in zip(got_row, want_row, strict=True):
            if isinstance(want, float) and isinstance(got, float):
                if not math.isclose(got, want, rel_tol=rel, abs_tol=1e-12):
                    return False
            elif got != want:
                return False
    return True
