"""Writing the lake: what the event log holds, into Parquet partitions, committed; compaction.

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

The `views` table (`domain.layout.VIEWS`) is written the same way by a `LakeWriter` of its own,
from the views log (the realtime engine appends a record per closed view to it): its files
under `views/dt=YYYY-MM-DD/hour=HH/` (the UTC hour of the view's close time), its markers under
`_commits_views/`, the views log's own `lake` checkpoint, and `_views_writer.lock`. Its positions
are the views log's, so the two tables never share a range or a marker.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from threading import Event

import pyarrow as pa

from qos_lake.adapters.arrow import BatchConverter, table_schema
from qos_lake.adapters.compaction import PartitionCompaction
from qos_lake.adapters.compaction import compact as compact_files
from qos_lake.adapters.event_log import reread
from qos_lake.adapters.files import committed_through, lock
from qos_lake.adapters.parquet import ParquetLake
from qos_lake.domain.errors import LakeBusy
from qos_lake.domain.layout import EVENTS, Table
from qos_lake.domain.schema import table_columns
from qos_shared.eventlog import EventLog, JoinedRecords

CONSUMER = "lake"
LOCK_FILE = "_writer.lock"
LOCK_FILES = {"events": LOCK_FILE, "views": "_views_writer.lock"}

_CONVERT_RECORDS = 200_000  # buffered records converted at once (or fewer, at a flush)
# Threads converting batches and writing partition files: the cores, up to 4 (2 here).
WORKERS = max(1, min(4, os.cpu_count() or 1))

log = logging.getLogger(__name__)


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
    table: str = "events"  # the table written: `events` or `views`


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
    """Reads the log after its position, buffers, and flushes with the commit protocol above,
    into one table of the lake (`events` by default; `views` from the views log)."""

    def __init__(
        self,
        event_log: EventLog,
        root: Path,
        config: WriterConfig = WriterConfig(),
        *,
        clock: Callable[[], float] = time.monotonic,
        table: Table = EVENTS,
    ) -> None:
        self.log = event_log
        self.root = root
        self.config = config
        self.clock = clock
        self.table = table
        self.schema = table_schema(table)
        # DuckDB's JSON reading and pyarrow's Parquet encoding release the GIL: batches are
        # converted, and a flush's partition files written, side by side on the cores.
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="lake-writer")
        self._converter = BatchConverter(
            self.schema, WORKERS, partial(reread, event_log), table_columns(table)
        )
        self._files = ParquetLake(root, self.schema, self._pool, WORKERS, table)
        root.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = lock(
            root / LOCK_FILES[table.name], LakeBusy, f"{table.name} writer"
        )
        self._buffer = _Buffer()
        self.recovery = self._recover()
        self.position = self.recovery.position

    # -- start-up -----------------------------------------------------------------------------

    def _recover(self) -> Recovery:
        marker_last = committed_through(self.root, self.table)
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
            table=self.table.name,
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
    event_log: EventLog,
    root: Path,
    config: WriterConfig = WriterConfig(),
    table: Table = EVENTS,
) -> list[FlushResult]:
    """Write what `event_log` holds past the lake's checkpoint into `table` of the lake at
    `root`, commit it, and release the root (the flushes, oldest first)."""
    writer = LakeWriter(event_log, root, config, table=table)
    try:
        return writer.drain()
    finally:
        writer.close()


def compact(
    root: Path,
    dt: str | None = None,
    progress: Callable[[int, int, PartitionCompaction], None] | None = None,
) -> list[PartitionCompaction]:
    """Merge each committed partition's files into one (only day `dt`'s when given);
    `progress(done, total, result)` is called after each partition."""
    return compact_files(root, dt, progress)
