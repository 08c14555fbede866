"""Golden data for the lake's queries: generated sessions, a real lake, and a hand-written oracle.

The sessions come from the one seeded generator (`qos_shared.testing.sessions`): stored records
(flat event + enrichment fields) for sessions over three UTC days, across platforms, channels
(one with a quote in its name) and countries (some unknown), with every event type the catalogue
reads; long sessions cross hour and day boundaries. Then they are lost as clients lose them
(`lose`): some sessions lose their last record (a STOP, or the exit beacon: an exit before start
is then an ATTEMPT alone), fatal errors lose their `phase`, and some sessions pause longer than
a view's inactivity timeout halfway (two views). The live channels' IVS stream records
(`qos_shared.testing.ivs.channel_streams`) are among them. Their views are the hand-written
views oracle's (`qos_shared.testing.views_oracle.views`), put in the views log as the realtime
engine does.
The oracle computes every KPI and every named query's expected rows in plain Python, metric by
metric, without reading the catalogue's definitions or the SQL: it is the independent truth the
queries are checked against.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from qos_lake.domain.layout import EVENTS, VIEWS, Table
from qos_lake.domain.queries import QueryParams
from qos_lake.service import LakeWriter, WriterConfig
from qos_shared.eventlog import EventLog
from qos_shared.eventtime import HOUR_MS
from qos_shared.testing.ivs import channel_streams, stored_record
from qos_shared.testing.oracle import ORACLE, SHARE_METRICS, Record, rendition_shares
from qos_shared.testing.sessions import (
    LogNormal,
    Sessions,
    as_clients_lose_them,
    every_outcome,
    weighted,
)

from .lake import append

Row = tuple[Any, ...]

__all__ = ["ORACLE", "SHARE_METRICS", "Record", "Row"]

# 2026-11-01T20:00:00Z: sessions start over 48 hours, so the data covers 2026-11-01..03.
BASE_MS = int(datetime(2026, 11, 1, 20, tzinfo=UTC).timestamp() * 1000)
FIRST_DAY, LAST_DAY = date(2026, 11, 1), date(2026, 11, 3)
PLATFORMS = ("web", "ios", "android", "other")
CHANNELS = ("ch-news", "ch-sport", "O'Neil TV", "ch-kids")


def generate(seed: int = 11, sessions: int = 400) -> list[Record]:
    """Stored records of `sessions` viewing sessions, in event-time order."""
    spec = every_outcome(BASE_MS, 48 * HOUR_MS, sessions)
    spec = replace(spec, platforms=weighted(*PLATFORMS), channels=weighted(*CHANNELS))
    # Long sessions (up to an hour of summaries) cross hour and day boundaries.
    spec = replace(spec, duration=LogNormal(8 * 60_000, 1.2, 60_000, HOUR_MS))
    records = as_clients_lose_them(Sessions(spec, seed).records(), random.Random(seed))
    # The live channels' IVS stream events, as ingest stores them (received in time); half the
    # streams fail, so that every stream KPI has a value.
    live = [r for r in records if r["is_live"]]
    events = channel_streams(seed, live, failure_share=0.5)
    streams = [stored_record(e, BASE_MS) for e in events]
    return sorted(records + streams, key=lambda r: r["event_time"])


def write_lake(
    records: list[Record],
    root: Path,
    log_path: Path,
    views: list[Record] | None = None,
) -> None:
    """The records through the event log and the real writer, in several flushes; `views`
    (view records) through a views log beside it (`views_log_path`) and the views writer."""
    logs: list[tuple[list[Record], Path, Table]] = [(records, log_path, EVENTS)]
    if views is not None:
        logs.append((views, views_log_path(log_path), VIEWS))
    for rows, path, table in logs:
        log = EventLog(path, synchronous="NORMAL")
        try:
            append(log, rows)
            config = WriterConfig(flush_records=3_000, read_batch=1_000)
            writer = LakeWriter(log, root, config, table=table)
            try:
                while writer.poll()[0]:
                    pass
                writer.flush()
            finally:
                writer.close()
        finally:
            log.close()


def views_log_path(log_path: Path) -> Path:
    """The views log beside an event log (`events.sqlite` -> `events-views.sqlite`)."""
    return log_path.with_name(f"{log_path.stem}-views{log_path.suffix}")


def day_of(record: Record) -> str:
    return datetime.fromtimestamp(record["event_time"] / 1000, UTC).date().isoformat()


_KEY: dict[str, Callable[[Record], Any]] = {
    "day": day_of,
    "client_platform": lambda r: r.get("client_platform"),
    "channel_watched": lambda r: r.get("channel_watched"),
    "viewer_country": lambda r: r.get("viewer_country"),
    "rendition_name": lambda r: r.get("rendition_name"),
    "outcome": lambda r: r.get("outcome"),
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
        rows += [(*key, name, share) for name, share in rendition_shares(rs).items()]
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
