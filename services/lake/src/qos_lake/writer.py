"""Writes the local event log into the Parquet lake, exactly once across crashes.

A consumer of the event log (consumer name `lake`, its own checkpoint). It buffers records as Arrow
tables until `flush_records` records or `flush_seconds` since the oldest buffered one, then writes
one zstd Parquet file per `dt=/hour=` partition the batch touches, all named after the batch's log
position range: `events/dt=YYYY-MM-DD/hour=HH/part-<first>-<last>.parquet` (UTC hour of
`event_time`; a record without a usable `event_time` goes by the time the log stored it).

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
import time
from collections.abc import Callable
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
    committed_through,
    fsync_dir,
    parse_part,
    part_name,
    partition_dir,
    partitions,
    range_name,
)
from qos_lake.schema import TIME_COLUMN, lake_schema, to_table
from qos_shared.eventlog import EventLog, LogEntry

CONSUMER = "lake"
TMP_WRITE = ".tmp-write-"
LOCK_FILE = "_writer.lock"
COMPRESSION = "zstd"

_HOUR_MS = 3_600_000
_MAX_EVENT_MS = 253_402_300_800_000  # year 10000: beyond it there is no dt= to write
_BUCKET = "__hour_bucket"  # the partition of each buffered row; dropped before writing

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


@dataclass(slots=True)
class _Buffer:
    tables: list[pa.Table] = field(default_factory=list)
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
        self._fast = FastJson(self.schema)
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
        entries = self.log.read(after=self.position, limit=min(self.config.read_batch, room))
        if entries:
            self._add(entries)
        return len(entries), self.flush() if self.due() else None

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

    def _add(self, entries: list[LogEntry]) -> None:
        buffer = self._buffer
        fast = self._fast.table([e.data for e in entries])
        if fast is not None:
            event_time = fast.column(TIME_COLUMN)
            usable = pc.all(
                pc.and_(pc.greater_equal(event_time, 0), pc.less(event_time, _MAX_EVENT_MS))
            ).as_py()
            if usable and event_time.null_count == 0:
                buffer.tables.append(fast.append_column(_BUCKET, pc.divide(event_time, _HOUR_MS)))
                self._buffered(entries)
                return
        records: list[dict[str, Any]] = []
        appended_at: list[int] = []
        for entry in entries:
            try:
                record = orjson.loads(entry.data)
            except orjson.JSONDecodeError:
                record = None
            if not isinstance(record, dict):
                buffer.unreadable += 1  # ingest stores only objects; say so, do not stall
                continue
            records.append(record)
            appended_at.append(entry.appended_at)
        conversion = to_table(records, self.schema)
        table = conversion.table.append_column(
            _BUCKET, _hour_buckets(conversion.table, appended_at)
        )
        buffer.tables.append(table)
        buffer.invalid_values += conversion.invalid_values
        self._buffered(entries)

    def _buffered(self, entries: list[LogEntry]) -> None:
        buffer = self._buffer
        buffer.records += len(entries)
        if buffer.first is None:
            buffer.first = entries[0].position
            buffer.since = self.clock()
        self.position = entries[-1].position

    # -- flushing -----------------------------------------------------------------------------

    def flush(self) -> FlushResult | None:
        """Write and commit what is buffered (nothing to do when the buffer is empty)."""
        buffer = self._buffer
        if buffer.first is None:
            return None
        started = time.perf_counter()
        first, last = buffer.first, self.position
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
        buckets = table.column(_BUCKET)
        data = table.drop_columns([_BUCKET])
        written: list[Path] = []
        for bucket in sorted(pc.unique(buckets).to_pylist()):
            rows = data.filter(pc.equal(buckets, bucket))
            directory = partition_dir(self.root, bucket)
            directory.mkdir(parents=True, exist_ok=True)
            written.append(self._write_file(rows, directory / part_name(first, last)))
        # The renames (and any new dt=/hour= directory) must be on disk before the marker is.
        synced: set[Path] = set()
        for path in written:
            for directory in (path.parent, path.parent.parent, self.root / EVENTS_DIR):
                if directory not in synced:
                    fsync_dir(directory)
                    synced.add(directory)
        return written

    def _write_file(self, table: pa.Table, path: Path) -> Path:
        tmp = path.with_name(TMP_WRITE + path.name)
        with tmp.open("wb") as f:
            pq.write_table(table, f, compression=COMPRESSION)
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
        self._fast.close()
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


def _hour_buckets(table: pa.Table, appended_at: list[int]) -> pa.ChunkedArray:
    """Hours since the epoch (UTC) of each row's event_time, or of its log time if unusable."""
    event_time = table.column(TIME_COLUMN)
    usable = pc.fill_null(
        pc.and_(pc.greater_equal(event_time, 0), pc.less(event_time, _MAX_EVENT_MS)), False
    )
    when = pc.if_else(usable, event_time, pa.chunked_array([pa.array(appended_at, pa.int64())]))
    return pc.divide(when, _HOUR_MS)
