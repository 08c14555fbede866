"""Writes the local event log into the Parquet lake, exactly once across crashes.

A consumer of the event log (consumer name `lake`, its own checkpoint). It buffers records until
`flush_records` records or `flush_seconds` since the oldest buffered one, then writes one zstd
Parquet file per `dt=/hour=` partition the batch touches, all named after the batch's log
position range: `events/dt=YYYY-MM-DD/hour=HH/part-<first>-<last>.parquet` (UTC hour of
`event_time`; a record without a usable `event_time` goes by the time the log stored it).

Where the time goes, and how it is spread over `WORKERS` threads (DuckDB and pyarrow release the
GIL): buffered records are converted to Arrow (`fast_json`, most of the work) a read batch per
task, when `_CONVERT_RECORDS` are waiting or at the flush; a flush then sorts the rows once into
partition and file order, gathers the columns (shared between the threads) and writes its
partition files side by side. Within a file, rows are grouped by metric type, then session
(`schema.SORT_COLUMNS`; a stable sort, so a session's records of a type stay in log order), so a
session's shared columns become long runs, and are written with `schema.parquet_options`. No work
is left running in the threads when a call returns.

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
count only files at or before the newest marker (`layout.live_files`), so they never see a flush
in progress either. Only the newest marker is needed; older ones are pruned (the last
`keep_markers` stay, as a trail). One writer per root: a second one fails on `_writer.lock`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from qos_lake.fast_json import FastJson
from qos_lake.layout import (
    COMMITS_DIR,
    EVENTS_DIR,
    MAX_EVENT_MS,
    committed_through,
    fsync_dir,
    parse_part,
    part_name,
    partition_dir,
    partitions,
    range_name,
)
from qos_lake.schema import (
    SORT_COLUMNS,
    TIME_COLUMN,
    lake_schema,
    parquet_options,
    to_table,
)
from qos_shared.eventlog import EventLog, JoinedRecords

CONSUMER = "lake"
TMP_WRITE = ".tmp-write-"
LOCK_FILE = "_writer.lock"

_HOUR_MS = 3_600_000
_BUCKET = "__hour_bucket"  # the partition of each buffered row; dropped before writing
_CONVERT_RECORDS = 200_000  # buffered records converted at once (or fewer, at a flush)
# Threads converting batches and writing partition files: the cores, up to 4 (2 here).
WORKERS = max(1, min(4, os.cpu_count() or 1))

log = logging.getLogger(__name__)


class LakeBusy(RuntimeError):
    """Another writer holds the lake root."""


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


@dataclass(frozen=True, slots=True)
class _Converted:
    table: pa.Table  # the lake columns and _BUCKET
    invalid_values: int
    unreadable: int


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
        self._options = parquet_options(self.schema)
        # DuckDB's JSON reading and pyarrow's Parquet encoding release the GIL: batches are
        # converted, and a flush's partition files written, side by side on the cores.
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="lake-writer")
        self._parser_list = [FastJson(self.schema) for _ in range(WORKERS)]
        self._parsers: queue.SimpleQueue[FastJson] = queue.SimpleQueue()
        for parser in self._parser_list:
            self._parsers.put(parser)
        root.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = _lock(root / LOCK_FILE)
        self._buffer = _Buffer()
        self.recovery = self._recover()
        self.position = self.recovery.position

    # -- start-up -----------------------------------------------------------------------------

    def _recover(self) -> Recovery:
        marker_last = committed_through(self.root)
        checkpoint = self.log.checkpoint(CONSUMER)
        committed = max(marker_last, checkpoint)
        removed: list[Path] = []
        for partition in partitions(self.root):
            before = len(removed)
            for entry in list(partition.iterdir()):
                part = parse_part(entry)
                if entry.name.startswith(TMP_WRITE) or (part and part.first > committed):
                    entry.unlink()
                    removed.append(entry)
            if len(removed) > before:
                fsync_dir(partition)
        commits = self.root / COMMITS_DIR
        if commits.is_dir():
            for entry in commits.iterdir():
                if entry.name.startswith(TMP_WRITE):
                    entry.unlink()
        if checkpoint > marker_last:
            # The markers were lost (or this is a new root for an old log): record that the
            # lake accounts for everything up to the checkpoint, so readers agree with the log.
            self._write_marker(marker_last + 1, checkpoint, [], 0)
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
            self._add(batch)
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

    def _add(self, batch: JoinedRecords) -> None:
        """Buffer a batch read from the log (as one text: no Python object per record); batches
        are converted when `_CONVERT_RECORDS` records wait, or at the flush, spread over the
        workers."""
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
        done = list(self._pool.map(self._convert_batch, buffer.unparsed))  # in log order
        buffer.unparsed = []
        for converted in done:
            buffer.tables.append(converted.table)
            buffer.invalid_values += converted.invalid_values
            buffer.unreadable += converted.unreadable

    def _convert_batch(self, batch: JoinedRecords) -> _Converted:
        """One batch by DuckDB, or by the Python path if DuckDB steps aside (on a worker): that
        path reads the batch's records again, one by one, for their log times."""
        parser = self._parsers.get()
        try:
            fast = parser.table(batch.data, batch.record_count)
        finally:
            self._parsers.put(parser)
        if fast is not None:
            event_time = fast.column(TIME_COLUMN)
            if event_time.null_count == 0 and pc.all(_usable(event_time)).as_py():
                table = fast.append_column(_BUCKET, pc.divide(event_time, _HOUR_MS))
                return _Converted(table, 0, 0)
        entries = self.log.read(after=batch.first_position - 1, limit=batch.record_count)
        found = (entries[0].position, entries[-1].position, len(entries)) if entries else None
        if found != (batch.first_position, batch.last_position, batch.record_count):
            raise RuntimeError(f"log records {batch.first_position}..{batch.last_position} changed")
        records: list[dict[str, Any]] = []
        appended_at: list[int] = []
        unreadable = 0
        for entry in entries:
            try:
                record = orjson.loads(entry.data)
            except orjson.JSONDecodeError:
                record = None
            if not isinstance(record, dict):
                unreadable += 1  # ingest stores only objects; say so, do not stall
                continue
            records.append(record)
            appended_at.append(entry.appended_at)
        conversion = to_table(records, self.schema)
        table = conversion.table.append_column(
            _BUCKET, _hour_buckets(conversion.table, appended_at)
        )
        return _Converted(table, conversion.invalid_values, unreadable)

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
        files = self._write_files(table, first, last)
        self._write_marker(first, last, files, table.num_rows)
        self._commit_log(last)
        self._buffer = _Buffer()
        self._prune_markers()
        return FlushResult(
            first=first,
            last=last,
            records=table.num_rows,
            files=tuple(files),
            seconds=time.perf_counter() - started,
            invalid_values=buffer.invalid_values,
            unreadable=buffer.unreadable,
        )

    def _write_files(self, table: pa.Table, first: int, last: int) -> list[Path]:
        # One stable sort puts the rows in partition order and each partition's rows in file
        # order (module doc); each partition is then a slice.
        order = _file_order(table)
        runs = pc.run_end_encode(table.column(_BUCKET).take(order).combine_chunks())
        data = self._take(table.drop_columns([_BUCKET]), order)
        jobs: list[tuple[pa.Table, Path]] = []
        start = 0
        for bucket, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
            directory = partition_dir(self.root, bucket)
            directory.mkdir(parents=True, exist_ok=True)
            jobs.append((data.slice(start, end - start), directory / part_name(first, last)))
            start = end
        written = self._write_partitions(jobs)
        # The renames (and any new dt=/hour= directory) must be on disk before the marker is.
        synced: set[Path] = set()
        for path in written:
            for directory in (path.parent, path.parent.parent, self.root / EVENTS_DIR):
                if directory not in synced:
                    fsync_dir(directory)
                    synced.add(directory)
        return written

    def _take(self, table: pa.Table, order: pa.Array) -> pa.Table:
        """`table.take(order)`, the columns shared between the workers."""
        names = table.column_names
        shares = [names[i::WORKERS] for i in range(WORKERS)]

        def take(share: list[str]) -> list[pa.ChunkedArray]:
            return [table.column(name).take(order) for name in share]

        taken = dict(
            zip(
                [n for share in shares for n in share],
                [c for columns in self._pool.map(take, shares) for c in columns],
                strict=True,
            )
        )
        return pa.table([taken[n] for n in names], schema=table.schema)

    def _write_partitions(self, jobs: list[tuple[pa.Table, Path]]) -> list[Path]:
        if len(jobs) == 1:
            return [self._write_file(*jobs[0])]
        futures = [self._pool.submit(self._write_file, rows, path) for rows, path in jobs]
        wait(futures)  # every write ends (or fails) before the first failure is raised
        return [future.result() for future in futures]

    def _write_file(self, table: pa.Table, path: Path) -> Path:
        tmp = path.with_name(TMP_WRITE + path.name)
        with tmp.open("wb") as f:
            pq.write_table(table, f, **self._options)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path

    def _write_marker(self, first: int, last: int, files: list[Path], records: int) -> None:
        commits = self.root / COMMITS_DIR
        commits.mkdir(exist_ok=True)
        name = f"{range_name(first, last)}.json"
        payload = {
            "first": first,
            "last": last,
            "records": records,
            "files": [p.relative_to(self.root).as_posix() for p in files],
            "committed_at_ms": time.time_ns() // 1_000_000,
        }
        tmp = commits / (TMP_WRITE + name)
        with tmp.open("wb") as f:
            f.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, commits / name)
        fsync_dir(commits)
        fsync_dir(self.root)

    def _commit_log(self, last: int) -> None:
        self.log.commit(CONSUMER, last)

    def _prune_markers(self) -> None:
        commits = self.root / COMMITS_DIR
        markers = sorted(p for p in commits.iterdir() if not p.name.startswith("."))
        for old in markers[: max(0, len(markers) - self.config.keep_markers)]:
            old.unlink(missing_ok=True)

    # -- running ------------------------------------------------------------------------------

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
        for parser in self._parser_list:
            parser.close()
        self._parser_list = []
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LakeBusy(f"another writer holds {path}") from None
    return fd


def _file_order(table: pa.Table) -> pa.Array:
    """Row indices putting the rows in partition order and each partition's rows in file order
    (module doc): a stable sort on the hour bucket, then on one integer key that numbers the
    `SORT_COLUMNS` values in order of first appearance (grouping them is what counts, not their
    alphabetical order; nulls last)."""
    key: pa.Array | None = None
    for name in SORT_COLUMNS:
        codes = pc.dictionary_encode(table.column(name).combine_chunks())
        size = len(codes.dictionary) + 1
        index = pc.fill_null(pc.cast(codes.indices, pa.int64()), size - 1)
        key = index if key is None else pc.add_checked(pc.multiply_checked(key, size), index)
    # Mixed radix: at most (records + 1) ** len(SORT_COLUMNS), far within int64 for a flush.
    order = pa.table({"bucket": table.column(_BUCKET), "key": key})
    return pc.sort_indices(order, sort_keys=[("bucket", "ascending"), ("key", "ascending")])


def _usable(event_time: pa.ChunkedArray) -> pa.ChunkedArray:
    """Whether each event_time is one a row is partitioned by (`layout`); null where it is null."""
    return pc.and_(pc.greater_equal(event_time, 0), pc.less(event_time, MAX_EVENT_MS))


def _hour_buckets(table: pa.Table, appended_at: list[int]) -> pa.ChunkedArray:
    """Hours since the epoch (UTC) of each row's event_time, or of its log time if unusable."""
    event_time = table.column(TIME_COLUMN)
    usable = pc.fill_null(_usable(event_time), False)
    when = pc.if_else(usable, event_time, pa.chunked_array([pa.array(appended_at, pa.int64())]))
    return pc.divide(when, _HOUR_MS)
