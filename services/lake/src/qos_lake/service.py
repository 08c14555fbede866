"""The lake's use cases: write what the event log holds into the lake, compact it, read it back.

`LakeWriter` is a consumer of the event log (consumer name `lake`, its own checkpoint). It buffers
records until `flush_records` records or `flush_seconds` since the oldest buffered one, then writes
one zstd Parquet file per `dt=/hour=` partition the batch touches, all named after the batch's log
position range: `events/dt=YYYY-MM-DD/hour=HH/part-<first>-<last>.parquet` (UTC hour of
`event_time`; a record without a usable `event_time` goes by the time the log stored it).

Where the time goes, and how it is spread over `WORKERS` threads (DuckDB and pyarrow release the
GIL): buffered records are converted to Arrow (`adapters.arrow.BatchConverter`, most of the work)
a read batch per task, when `_CONVERT_RECORDS` are waiting or at the flush; a flush then sorts the
rows once into partition and file order, gathers the columns (shared between the threads) and
writes its partition files side by side (`adapters.parquet`). Within a file, rows are grouped by
metric type, then session (`domain.schema.SORT_COLUMNS`; a stable sort, so a session's records of
a type stay in log order), so a session's shared columns become long runs. No work is left running
in the threads when a call returns.

Commit protocol of a flush (positions `first`..`last`):

1. every partition file is written to a hidden temporary name (`.tmp-write-…`), fsynced, renamed
   into place, and the directories are fsynced;
2. a commit marker `_commits/<first>-<last>.json` listing the files is written the same way
   (temporary name, fsync, rename, fsync): from here on the flush is committed;
3. only then the log checkpoint moves to `last`.

On start, `committed` = max(log checkpoint, last position of the newest marker). Part files whose
first position is after `committed` belong to a flush that stopped before its marker: they are
deleted (with any `.tmp-write-` file) and their records are read again. Flushes run one at a time
and each starts after the previous one's `last`, so no committed file has such a position, and a
crash between 2 and 3 is caught by the marker: reading resumes after `committed`, never before.
Hence each record is in exactly one committed file, whatever the moment of a `kill -9`. Readers
count only files at or before the newest marker (`domain.layout`), so they never see a flush in
progress either. Only the newest marker is needed; older ones are pruned (the last `keep_markers`
stay, as a trail). One writer per root: a second one fails on `_writer.lock`.

`LakeReader` answers the named queries (cached until the lake commits again), lists the known
dimensions, and reads sessions and one session's timeline from the lake's files plus the event
log's unflushed tail (the records after the newest commit marker, at most `TAIL_CAP` of the newest;
a reply says when it was truncated). The tail is cut at the same commit position the lake files
are listed with, so each record is counted exactly once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from threading import Event
from typing import Any

import orjson
import pyarrow as pa

from qos_lake.adapters import duckdb_query, duckdb_reads
from qos_lake.adapters.arrow import BatchConverter, lake_schema, to_table
from qos_lake.adapters.compaction import PartitionCompaction
from qos_lake.adapters.compaction import compact as compact_files
from qos_lake.adapters.duckdb_query import QueryResult
from qos_lake.adapters.event_log import read_tail, reread
from qos_lake.adapters.files import committed_through, live_files_in_hours, lock
from qos_lake.adapters.parquet import ParquetLake
from qos_lake.domain.errors import EmptyLake, LakeBusy, NoDataInRange
from qos_lake.domain.named_query import NamedQuery
from qos_lake.domain.queries import QueryParams
from qos_shared.eventlog import EventLog, JoinedRecords

CONSUMER = "lake"
LOCK_FILE = "_writer.lock"
TAIL_CAP = 100_000  # newest log records read past the lake's commit, at most, per request

_CONVERT_RECORDS = 200_000  # buffered records converted at once (or fewer, at a flush)
# Threads converting batches and writing partition files: the cores, up to 4 (2 here).
WORKERS = max(1, min(4, os.cpu_count() or 1))

log = logging.getLogger(__name__)


# -- writing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriterConfig:
    flush_records: int = 200_000
    flush_seconds: float = 10.0
    read_batch: int = 20_000
    poll_interval_s: float = 0.2
    keep_markers: int = 100


@dataclass(frozen=True, slots=True)
class FlushResult:
    first: int
    last: int
    records: int
    files: tuple[Path, ...]
    seconds: float
    invalid_values: int
    unreadable: int


@dataclass(frozen=True, slots=True)
class Recovery:
    """What the start-up found: where reading resumes and what an interrupted flush left."""

    position: int
    removed: tuple[Path, ...]


@dataclass(slots=True)
class _Buffer:
    tables: list[pa.Table] = field(default_factory=list)
    unparsed: list[JoinedRecords] = field(default_factory=list)  # read, not yet converted
    records: int = 0
    first: int | None = None
    since: float = 0.0
    invalid_values: int = 0
    unreadable: int = 0


class LakeWriter:
    """Reads the log after its position, buffers, and flushes with the commit protocol above."""

    def __init__(
        self,
        event_log: EventLog,
        root: Path,
        config: WriterConfig = WriterConfig(),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = event_log
        self.root = root
        self.config = config
        self.clock = clock
        self.schema = lake_schema()
        # DuckDB's JSON reading and pyarrow's Parquet encoding release the GIL: batches are
        # converted, and a flush's partition files written, side by side on the cores.
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="lake-writer")
        self._converter = BatchConverter(self.schema, WORKERS, partial(reread, event_log))
        self._files = ParquetLake(root, self.schema, self._pool, WORKERS)
        root.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = lock(root / LOCK_FILE, LakeBusy, "writer")
        self._buffer = _Buffer()
        self.recovery = self._recover()
        self.position = self.recovery.position

    # -- start-up -----------------------------------------------------------------------------

    def _recover(self) -> Recovery:
        marker_last = committed_through(self.root)
        checkpoint = self.log.checkpoint(CONSUMER)
        committed = max(marker_last, checkpoint)
        removed = self._files.remove_uncommitted(committed)
        if checkpoint > marker_last:
            # The markers were lost (or this is a new root for an old log): record that the
            # lake accounts for everything up to the checkpoint, so readers agree with the log.
            self._files.write_marker(marker_last + 1, checkpoint, [], 0)
        if committed > checkpoint:
            self.log.commit(CONSUMER, committed)  # the crash came between marker and checkpoint
        if removed:
            log.warning("removed %d file(s) of an interrupted flush", len(removed))
        return Recovery(committed, tuple(removed))

    # -- reading and buffering ----------------------------------------------------------------

    def poll(self) -> tuple[int, FlushResult | None]:
        """Read one batch into the buffer and flush if it is due: (records read, flush)."""
        room = self.config.flush_records - self._buffer.records
        batch = self.log.read_joined(after=self.position, limit=min(self.config.read_batch, room))
        if batch.record_count:
            self.add(batch)
        return batch.record_count, self.flush() if self.due() else None

    def due(self) -> bool:
        buffer = self._buffer
        if buffer.first is None:
            return False
        return (
            buffer.records >= self.config.flush_records
            or self.clock() - buffer.since >= self.config.flush_seconds
        )

    @property
    def buffered(self) -> int:
        return self._buffer.records

    def add(self, batch: JoinedRecords) -> None:
        """Buffer a batch of log records (`EventLog.read_joined`'s, the next after `position`:
        one text, no Python object per record); batches are converted when `_CONVERT_RECORDS`
        records wait, or at the flush, spread over the workers. What `poll` does after its read."""
        buffer = self._buffer
        buffer.unparsed.append(batch)
        buffer.records += batch.record_count
        if buffer.first is None:
            buffer.first = batch.first_position
            buffer.since = self.clock()
        self.position = batch.last_position
        if sum(b.record_count for b in buffer.unparsed) >= _CONVERT_RECORDS:
            self._convert()

    def _convert(self) -> None:
        """The unparsed records as Arrow (with their hour buckets), into the buffer's tables."""
        buffer = self._buffer
        # All or nothing: if a batch fails, the buffer is as it was and the flush can be retried.
        done = list(self._pool.map(self._converter.convert, buffer.unparsed))  # in log order
        buffer.unparsed = []
        for converted in done:
            buffer.tables.append(converted.table)
            buffer.invalid_values += converted.invalid_values
            buffer.unreadable += converted.unreadable

    # -- flushing -----------------------------------------------------------------------------

    def flush(self) -> FlushResult | None:
        """Write and commit what is buffered (nothing to do when the buffer is empty)."""
        buffer = self._buffer
        if buffer.first is None:
            return None
        started = time.perf_counter()
        first, last = buffer.first, self.position
        self._convert()
        table = pa.concat_tables(buffer.tables)
        files = self._files.write_partitions(table, first, last)
        self._files.write_marker(first, last, files, table.num_rows)
        self.log.commit(CONSUMER, last)
        self._buffer = _Buffer()
        self._files.prune_markers(self.config.keep_markers)
        return FlushResult(
            first=first,
            last=last,
            records=table.num_rows,
            files=tuple(files),
            seconds=time.perf_counter() - started,
            invalid_values=buffer.invalid_values,
            unreadable=buffer.unreadable,
        )

    # -- running ------------------------------------------------------------------------------

    def drain(self) -> list[FlushResult]:
        """Write and commit what the log holds past `position`: poll until a read finds nothing,
        then flush the rest (the flushes, oldest first)."""
        flushes: list[FlushResult] = []
        while True:
            read, result = self.poll()
            if result is not None:
                flushes.append(result)
            if not read:
                break
        result = self.flush()
        if result is not None:
            flushes.append(result)
        return flushes

    def run(self, stop: Event, on_flush: Callable[[FlushResult], None] | None = None) -> None:
        """Poll until `stop` is set, then flush what is buffered (a clean stop loses nothing)."""
        while not stop.is_set():
            read, result = self.poll()
            if result is not None and on_flush is not None:
                on_flush(result)
            if read < self.config.read_batch:
                stop.wait(self.config.poll_interval_s)
        result = self.flush()
        if result is not None and on_flush is not None:
            on_flush(result)

    def close(self) -> None:
        """Release the lake root without flushing (what a crash does; `run` flushes on stop)."""
        self._pool.shutdown()
        self._converter.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def write_log(
    event_log: EventLog, root: Path, config: WriterConfig = WriterConfig()
) -> list[FlushResult]:
    """Write what `event_log` holds past the lake's checkpoint into the lake at `root`, commit it,
    and release the root (the flushes, oldest first)."""
    writer = LakeWriter(event_log, root, config)
    try:
        return writer.drain()
    finally:
        writer.close()


def compact(root: Path, dt: str | None = None) -> list[PartitionCompaction]:
    """Merge each committed partition's files into one (only day `dt`'s when given)."""
    return compact_files(root, dt)


def run_query(root: Path, query: NamedQuery, params: QueryParams) -> QueryResult:
    """A named query's rows over the lake at `root` (DuckDB over the live files of the days in
    range); raises `EmptyLake` / `NoDataInRange` when there are none."""
    return duckdb_query.run(root, query, params)


# -- reading ------------------------------------------------------------------------------------


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
        key = (query.name, params, self.committed())
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

    def timeline(self, session_id: str, start_ms: int, end_ms: int) -> Timeline:
        """Every stored event of one session in the hours of the range, oldest first, with its
        `source` (lake / log); null fields left out, `extra_fields` as an object."""

        def run() -> Timeline:
            files, tail, truncated = self._sources(start_ms, end_ms, session_id)
            names, found = duckdb_reads.timeline(files, tail, session_id)
            events: list[dict[str, Any]] = []
            for row in found:
                event = {n: _plain(v) for n, v in zip(names, row, strict=True) if v is not None}
                extra = event.get("extra_fields")
                if isinstance(extra, str):
                    with suppress(orjson.JSONDecodeError):
                        event["extra_fields"] = orjson.loads(extra)
                events.append(event)
            return Timeline(events, truncated)

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
