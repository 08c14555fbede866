"""Reading the lake back: named queries, known dimensions, sessions and their timelines.

`LakeReader` answers the named queries (cached until the lake commits again), lists the known
dimensions, and reads sessions and one session's timeline from the lake's files plus the event
log's unflushed tail (the records after the newest commit marker, at most `TAIL_CAP` of the newest;
a reply says when it was truncated). The tail is cut at the same commit position the lake files
are listed with, so each record is counted exactly once.
"""

from __future__ import annotations

import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from qos_lake.adapters import duckdb_query, duckdb_reads
from qos_lake.adapters.arrow import lake_schema, to_table
from qos_lake.adapters.duckdb_query import QueryResult
from qos_lake.adapters.event_log import read_tail
from qos_lake.adapters.files import committed_through, live_files_in_hours
from qos_lake.domain.errors import EmptyLake, NoDataInRange
from qos_lake.domain.layout import VIEWS
from qos_lake.domain.named_query import NamedQuery
from qos_lake.domain.queries import QueryParams
from qos_shared.eventlog import EventLog

TAIL_CAP = 100_000  # newest log records read past the lake's commit, at most, per request


def run_query(root: Path, query: NamedQuery, params: QueryParams) -> QueryResult:
    """A named query's rows over the lake at `root` (DuckDB over the live files of the days in
    range); raises `EmptyLake` / `NoDataInRange` when there are none."""
    return duckdb_query.run(root, query, params)


@dataclass(frozen=True, slots=True)
class LakeAnswer:
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    empty_reason: str | None  # set when the lake has nothing for the request


@dataclass(frozen=True, slots=True)
class Sessions:
    rows: list[dict[str, Any]]  # the newest sessions with an event in range, newest first
    total: int  # how many sessions have an event in range
    tail_truncated: bool  # the log's tail was longer than TAIL_CAP


@dataclass(frozen=True, slots=True)
class Timeline:
    events: list[dict[str, Any]]  # oldest first, each with its `source`, null fields left out
    tail_truncated: bool
    total: int = 0  # how many events the session has (in the bounds asked for), all pages


_CACHED_ANSWERS = 256


class LakeReader:
    """The lake's read side: named queries, known dimensions, sessions and timelines.

    Every source may be missing (the stack just started): each read then answers "nothing yet"
    rather than failing, and finds the files on a later call once they are there. Nothing here
    writes: the lake and the log are only read. Safe to use from several threads.
    """

    def __init__(self, root: Path, log_path: Path | None = None) -> None:
        self.root = root
        self.log_path = log_path
        self._lock = threading.Lock()
        self._log: EventLog | None = None
        self._schema = lake_schema()
        self._answers: dict[tuple[object, ...], LakeAnswer] = {}
        self._file_values: dict[Path, tuple[frozenset[str], frozenset[str]]] = {}

    @property
    def present(self) -> bool:
        """Whether the lake has committed anything."""
        return self.committed() > 0

    def committed(self) -> int:
        """The last log position the lake accounts for (its newest commit marker's)."""
        return committed_through(self.root)

    def query(self, query: NamedQuery, params: QueryParams) -> LakeAnswer:
        """A named query's rows as JSON values, or why there are none (cached per commit)."""
        # Both tables' commits: a flush of either may change the answer.
        key = (query.name, params, self.committed(), committed_through(self.root, VIEWS))
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None:
            return cached
        try:
            result = duckdb_reads.retrying(lambda: run_query(self.root, query, params))
        except EmptyLake:
            answer = LakeAnswer(
                (),
                [],
                "The lake has no data yet (the lake writer commits a "
                "flush every few seconds once events arrive).",
            )
        except NoDataInRange:
            answer = LakeAnswer(
                (), [], f"The lake has no data from {params.from_day} to {params.to_day}."
            )
        else:
            rows = [{k: _plain(v) for k, v in r.items()} for r in result.records()]
            reason = None if rows else "No rows match these filters in this date range."
            answer = LakeAnswer(result.columns, rows, reason)
        with self._lock:
            if len(self._answers) > _CACHED_ANSWERS:
                self._answers.clear()
            self._answers[key] = answer
        return answer

    def known_dimensions(self) -> tuple[list[str], list[str]]:
        """(platforms, channels) in the lake's live files; each file is read once (files never
        change: a compaction writes new ones)."""
        files = live_files_in_hours(self.root, self.committed(), None, None)
        with self._lock:
            missing = [f for f in files if f not in self._file_values]
        for path in missing:
            values = duckdb_reads.file_dimensions(path)
            if values is not None:
                with self._lock:
                    self._file_values[path] = values
        with self._lock:
            live = set(files)
            for gone in [p for p in self._file_values if p not in live]:
                del self._file_values[gone]
            platforms = set().union(*(v[0] for v in self._file_values.values()))
            channels = set().union(*(v[1] for v in self._file_values.values()))
        return sorted(platforms), sorted(channels)

    # -- the event log's tail and sessions -----------------------------------------------------

    def _event_log(self) -> EventLog | None:
        with self._lock:
            if self._log is None and self.log_path is not None and self.log_path.is_file():
                self._log = EventLog(self.log_path)
            return self._log

    @property
    def log_present(self) -> bool:
        return self.log_path is not None and self.log_path.is_file()

    def last_position(self) -> int:
        """The event log's last position (0 when there is no log yet)."""
        event_log = self._event_log()
        return 0 if event_log is None else event_log.last_position()

    def _sources(
        self, start_ms: int | None, end_ms: int | None, session_id: str | None = None
    ) -> tuple[list[Path], pa.Table, bool]:
        """The lake files of the hours in range and the log's tail, cut at one commit position."""
        committed = self.committed()
        files = live_files_in_hours(self.root, committed, start_ms, end_ms)
        event_log = self._event_log()
        if event_log is None:
            return files, to_table([], self._schema).table, False
        tail = read_tail(event_log, committed, TAIL_CAP, self._schema, session_id)
        return files, tail.table, tail.truncated

    def sessions(
        self,
        start_ms: int,
        end_ms: int,
        platform: str | None = None,
        channel: str | None = None,
        limit: int = 100,
    ) -> Sessions:
        """The newest sessions with an event in `[start_ms, end_ms)` (of `platform` and `channel`
        when given), newest first: per session its first user, platform and channel, first and
        last event times, event count, whether it played, its errors and whether one was fatal,
        whether it ended."""

        def run() -> Sessions:
            files, tail, truncated = self._sources(start_ms, end_ms)
            names, found = duckdb_reads.sessions(
                files, tail, start_ms, end_ms, platform, channel, limit
            )
            rows = [dict(zip(names, r, strict=True)) for r in found]
            total = int(rows[0].pop("total")) if rows else 0
            for row in rows[1:]:
                row.pop("total")
            return Sessions([{k: _plain(v) for k, v in r.items()} for r in rows], total, truncated)

        return duckdb_reads.retrying(run)

    def timeline(
        self,
        session_id: str,
        start_ms: int,
        end_ms: int,
        *,
        limit: int | None = None,
        offset: int = 0,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> Timeline:
        """The stored events of one session in the hours of the range, oldest first, with its
        `source` (lake / log); null fields left out, `extra_fields` as an object. A page: at most
        `limit` events (all when None) from `offset`, of those with `since_ms <= event_time <=
        until_ms` when given; `total` counts them all."""
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if offset < 0:
            raise ValueError(f"offset must be at least 0, not {offset}")

        def run() -> Timeline:
            files, tail, truncated = self._sources(start_ms, end_ms, session_id)
            (names, found), total = duckdb_reads.timeline(
                files,
                tail,
                session_id,
                since_ms=since_ms,
                until_ms=until_ms,
                limit=limit,
                offset=offset,
            )
            events: list[dict[str, Any]] = []
            for row in found:
                event = {n: _plain(v) for n, v in zip(names, row, strict=True) if v is not None}
                extra = event.get("extra_fields")
                if isinstance(extra, str):
                    with suppress(orjson.JSONDecodeError):
                        event["extra_fields"] = orjson.loads(extra)
                events.append(event)
            return Timeline(events, truncated, total)

        return duckdb_reads.retrying(run)

    def close(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.close()
            self._log = None


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
