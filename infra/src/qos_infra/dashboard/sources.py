"""What the dashboard reads: the metric store, the Parquet lake and the event log's tail.

Every source may be missing (the stack just started): each reader then answers "nothing yet"
rather than failing, and opens the file on a later request once it is there. Nothing here writes
to the data: the store and the log are only queried, the lake is only read.

Sessions (the list and one viewer's timeline) come from two places, so a request never scans the
whole log:

- the lake, read with DuckDB: only the `dt=/hour=` partitions whose hours overlap the asked time
  range, and for a timeline only the rows whose `session_id` matches (Parquet statistics and the
  column reader keep that cheap);
- the event log's *tail*: the records after the lake's newest commit marker, which the lake writer
  has not flushed yet (normally seconds of traffic). At most `TAIL_CAP` of the newest are read; a
  reply says `tail_truncated` when the lake writer is further behind than that.

The tail is cut at the same commit position the lake files are listed with, so each record is
counted exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from qos_lake.layout import committed_through, live_files, partitions
from qos_lake.queries import NamedQuery, QueryParams
from qos_lake.queries import local as lake_local
from qos_lake.schema import lake_schema, to_table
from qos_realtime.api import MetricReader, MetricRow
from qos_shared.eventlog import EventLog, LogEntry

HOUR_MS = 3_600_000
TAIL_CAP = 100_000  # newest log records read past the lake's commit, at most, per request
_READ_BATCH = 20_000
_KNOWN_TTL_S = 2.0


@dataclass(frozen=True, slots=True)
class DataPaths:
    """The files of a `qos up` data directory."""

    data_dir: Path

    @property
    def log_path(self) -> Path:
        return self.data_dir / "events.sqlite"

    @property
    def store_path(self) -> Path:
        return self.data_dir / "metrics.sqlite"

    @property
    def lake_root(self) -> Path:
        return self.data_dir / "lake"


class LakeChanged(RuntimeError):
    """A lake file went away during a read (a compaction): the caller may retry."""


# -- the metric store --------------------------------------------------------------------------


class RealtimeSource:
    """The metric store, through the realtime service's `MetricReader`, plus a short-lived
    cache of each dimension's values (the filters ask for them on every request)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reader = MetricReader(path)
        self._known: dict[str, tuple[float, list[str]]] = {}

    @property
    def present(self) -> bool:
        return self.reader.present

    def latest_window(self) -> tuple[int, int] | None:
        return self.reader.latest_window()

    def tile_window(self) -> tuple[tuple[int, int], bool] | None:
        return self.reader.tile_window()

    def groups(
        self, dimension: str, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[str]:
        return self.reader.groups(dimension, start_ms, end_ms)

    def known(self, dimension: str) -> list[str]:
        """Every value of `dimension` in the store (cached for a moment: the filters ask often)."""
        cached = self._known.get(dimension)
        now = time.monotonic()
        if cached is not None and now - cached[0] < _KNOWN_TTL_S:
            return cached[1]
        values = self.reader.groups(dimension)
        self._known[dimension] = (now, values)
        return values

    def series(
        self, metric: str, dimension: str, value: str, start_ms: int, end_ms: int
    ) -> list[MetricRow]:
        return self.reader.series(
            metric, dimension=dimension, dimension_value=value, start_ms=start_ms, end_ms=end_ms
        )

    def window(self, window_start: int) -> list[MetricRow]:
        return self.reader.window(window_start)

    def close(self) -> None:
        self.reader.close()


# -- the lake ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LakeAnswer:
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    empty_reason: str | None  # set when the lake has nothing for the request


class LakeSource:
    """Named queries over the lake (cached until the lake commits again), and session reads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._answers: dict[tuple[object, ...], LakeAnswer] = {}
        self._file_values: dict[Path, tuple[frozenset[str], frozenset[str]]] = {}

    @property
    def present(self) -> bool:
        return committed_through(self.root) > 0

    def committed(self) -> int:
        return committed_through(self.root)

    def query(self, query: NamedQuery, params: QueryParams) -> LakeAnswer:
        key = (query.name, params, self.committed())
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None:
            return cached
        try:
            result = _retrying(lambda: lake_local.run(self.root, query, params))
        except lake_local.EmptyLake:
            answer = LakeAnswer(
                (),
                [],
                "The lake has no data yet (the lake writer commits a "
                "flush every few seconds once events arrive).",
            )
        except lake_local.NoDataInRange:
            answer = LakeAnswer(
                (), [], f"The lake has no data from {params.from_day} to {params.to_day}."
            )
        else:
            rows = [{k: _plain(v) for k, v in r.items()} for r in result.records()]
            reason = None if rows else "No rows match these filters in this date range."
            answer = LakeAnswer(result.columns, rows, reason)
        with self._lock:
            if len(self._answers) > 256:
                self._answers.clear()
            self._answers[key] = answer
        return answer

    def known(self) -> tuple[list[str], list[str]]:
        """(platforms, channels) in the lake's live files; each file is read once (files never
        change: a compaction writes new ones)."""
        files = _files(self.root, self.committed(), None, None)
        with self._lock:
            missing = [f for f in files if f not in self._file_values]
        for path in missing:
            try:
                with duckdb.connect() as con:
                    found = con.execute(
                        "SELECT DISTINCT client_platform, channel_watched FROM read_parquet(?)",
                        [str(path)],
                    ).fetchall()
            except duckdb.IOException:
                continue  # compacted away meanwhile
            values = (
                frozenset(str(p) for p, _ in found if p),
                frozenset(str(c) for _, c in found if c),
            )
            with self._lock:
                self._file_values[path] = values
        with self._lock:
            live = set(files)
            for gone in [p for p in self._file_values if p not in live]:
                del self._file_values[gone]
            platforms = set().union(*(v[0] for v in self._file_values.values()))
            channels = set().union(*(v[1] for v in self._file_values.values()))
        return sorted(platforms), sorted(channels)


def _retrying(run: Any) -> Any:
    """One retry when a file vanished under the read (a compaction finished meanwhile)."""
    try:
        return run()
    except duckdb.IOException:
        time.sleep(0.05)
        try:
            return run()
        except duckdb.IOException as exc:
            raise LakeChanged(f"the lake changed during the read: {exc}") from exc


def _plain(value: Any) -> Any:
    """DuckDB values as JSON ones (decimals and dates appear in some aggregates)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _hour_of(partition: Path) -> int:
    """Epoch ms of a `dt=YYYY-MM-DD/hour=HH` partition's first instant."""
    day = partition.parent.name.removeprefix("dt=")
    hour = int(partition.name.removeprefix("hour="))
    start = datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)
    return int(start.timestamp() * 1000)


def _files(root: Path, committed: int, start_ms: int | None, end_ms: int | None) -> list[Path]:
    """Live files committed at or before `committed`, of the hours overlapping the range."""
    found: list[Path] = []
    for partition in partitions(root):
        hour = _hour_of(partition)
        if start_ms is not None and hour + HOUR_MS <= start_ms:
            continue
        if end_ms is not None and hour >= end_ms:
            continue
        found.extend(live_files(partition, committed))
    return found


# -- the event log's tail and sessions ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tail:
    table: pa.Table  # lake schema, plus nothing: the same columns as a lake file
    truncated: bool


class SessionSource:
    """Sessions from the lake (hour-pruned) and the event log's unflushed tail."""

    def __init__(self, log_path: Path, lake: LakeSource) -> None:
        self.log_path = log_path
        self.lake = lake
        self._lock = threading.Lock()
        self._log: EventLog | None = None
        self._schema = lake_schema()

    def _event_log(self) -> EventLog | None:
        with self._lock:
            if self._log is None and self.log_path.is_file():
                self._log = EventLog(self.log_path)
            return self._log

    @property
    def present(self) -> bool:
        return self.log_path.is_file()

    def last_position(self) -> int:
        log = self._event_log()
        return 0 if log is None else log.last_position()

    def _tail_entries(self, committed: int) -> tuple[Iterator[list[LogEntry]], bool]:
        log = self._event_log()
        if log is None:
            return iter(()), False
        last = log.last_position()
        after = max(committed, last - TAIL_CAP)

        def batches() -> Iterator[list[LogEntry]]:
            position = after
            while position < last:
                entries = log.read(after=position, limit=_READ_BATCH)
                if not entries:
                    return
                yield [e for e in entries if e.position <= last]
                position = entries[-1].position

        return batches(), after > committed

    def _tail(self, committed: int, session_id: str | None = None) -> Tail:
        batches, truncated = self._tail_entries(committed)
        records: list[dict[str, Any]] = []
        for entries in batches:
            for entry in entries:
                if session_id is not None and entry.partition_key != session_id:
                    continue
                try:
                    record = orjson.loads(entry.data)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(record, dict) and (
                    session_id is None or record.get("session_id") == session_id
                ):
                    records.append(record)
        return Tail(to_table(records, self._schema).table, truncated)

    @contextmanager
    def _events(
        self, start_ms: int | None, end_ms: int | None, session_id: str | None = None
    ) -> Iterator[tuple[duckdb.DuckDBPyConnection, str, bool]]:
        """A DuckDB connection with a relation of every stored event in the hours of the range
        (lake files + the log's tail), each with its `source`; yields (con, relation, truncated)."""
        committed = self.lake.committed()
        files = _files(self.lake.root, committed, start_ms, end_ms)
        tail = self._tail(committed, session_id)
        with duckdb.connect() as con:
            con.register("tail_events", tail.table)
            parts = ["SELECT *, 'log' AS source FROM tail_events"]
            if files:
                con.sql(
                    "SELECT *, 'lake' AS source FROM read_parquet($files,"
                    " hive_partitioning = false, union_by_name = true)",
                    params={"files": [str(f) for f in files]},
                ).create_view("lake_events")
                parts.insert(0, "SELECT * FROM lake_events")
            yield con, "(" + " UNION ALL BY NAME ".join(parts) + ")", tail.truncated

    def sessions(
        self,
        start_ms: int,
        end_ms: int,
        platform: str | None,
        channel: str | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """(the newest sessions with an event in range, newest first; how many in all; whether
        the log's tail was truncated)."""

        def run() -> tuple[list[dict[str, Any]], int, bool]:
            with self._events(start_ms, end_ms) as (con, events, truncated):
                # `events` is this module's fixed relation text; values are bound, not spliced.
                cursor = con.execute(
                    "WITH ev AS (SELECT * FROM " + events + " AS e"  # noqa: S608
                    " WHERE event_time >= $start AND event_time < $end"
                    " AND ($platform IS NULL OR client_platform = $platform)"
                    " AND ($channel IS NULL OR channel_watched = $channel))"
                    " SELECT session_id,"
                    " arg_min(user_id, event_time) AS user_id,"
                    " arg_min(client_platform, event_time) AS client_platform,"
                    " arg_min(channel_watched, event_time) AS channel_watched,"
                    " min(event_time) AS first_event_ms,"
                    " max(event_time) AS last_event_ms,"
                    " count(*) AS events,"
                    " count(*) FILTER (WHERE metric_type = 'PLAY') > 0 AS played,"
                    " count(*) FILTER (WHERE metric_type = 'ERROR') AS errors,"
                    " coalesce(bool_or(metric_type = 'ERROR' AND fatal), false) AS fatal_error,"
                    " count(*) FILTER (WHERE metric_type = 'STOP') > 0 AS ended,"
                    " count(*) OVER () AS total"
                    " FROM ev WHERE session_id IS NOT NULL GROUP BY session_id"
                    " ORDER BY last_event_ms DESC, session_id LIMIT $limit",
                    {
                        "start": start_ms,
                        "end": end_ms,
                        "platform": platform,
                        "channel": channel,
                        "limit": limit,
                    },
                )
                names = [d[0] for d in cursor.description or ()]
                rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
            total = int(rows[0].pop("total")) if rows else 0
            for row in rows[1:]:
                row.pop("total")
            return [{k: _plain(v) for k, v in r.items()} for r in rows], total, truncated

        result: tuple[list[dict[str, Any]], int, bool] = _retrying(run)
        return result

    def timeline(
        self, session_id: str, start_ms: int, end_ms: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Every stored event of one session in the hours of the range, oldest first, with its
        `source` (lake / log); null fields left out."""

        def run() -> tuple[list[dict[str, Any]], bool]:
            with self._events(start_ms, end_ms, session_id) as (con, events, truncated):
                cursor = con.execute(
                    "SELECT * FROM " + events + " AS e WHERE session_id = $sid"  # noqa: S608
                    " ORDER BY event_time, event_id",
                    {"sid": session_id},
                )
                names = [d[0] for d in cursor.description or ()]
                found = cursor.fetchall()
            out: list[dict[str, Any]] = []
            for row in found:
                event = {n: _plain(v) for n, v in zip(names, row, strict=True) if v is not None}
                extra = event.get("extra_fields")
                if isinstance(extra, str):
                    with suppress(orjson.JSONDecodeError):
                        event["extra_fields"] = orjson.loads(extra)
                out.append(event)
            return out, truncated

        result: tuple[list[dict[str, Any]], bool] = _retrying(run)
        return result

    def close(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.close()
            self._log = None
