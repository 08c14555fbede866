"""A flush's Parquet files and commit marker, written durably, and what an interrupted one left.

Each step of the commit protocol (`service`) that touches the disk: partition files written to a
hidden temporary name (`.tmp-write-…`), fsynced, renamed into place, their directories fsynced;
the commit marker the same way; old markers pruned; at start-up, the files of a flush that
stopped before its marker removed. A flush's partition files are written side by side on the
writer's threads (pyarrow's Parquet encoding releases the GIL), and its rows gathered there too.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Executor, wait
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from qos_lake.adapters.arrow import BUCKET, file_order, parquet_options
from qos_lake.adapters.files import fsync_dir, partitions
from qos_lake.domain.layout import (
    EVENTS,
    TMP_WRITE,
    Table,
    marker_name,
    parse_part,
    part_name,
    partition_dir,
)


class ParquetLake:
    """The files of one table of a lake root, written with the writer's threads."""

    def __init__(
        self,
        root: Path,
        schema: pa.Schema,
        pool: Executor,
        workers: int,
        table: Table = EVENTS,
    ) -> None:
        self.root = root
        self.table = table
        self._options = parquet_options(schema)
        self._pool = pool
        self._workers = workers

    def write_partitions(self, table: pa.Table, first: int, last: int) -> list[Path]:
        """One file per hour bucket of `table` (its `BUCKET` column), named after `first..last`,
        renamed into place and their directories on disk."""
        # One stable sort puts the rows in partition order and each partition's rows in file
        # order (`arrow.file_order`); each partition is then a slice.
        order = file_order(table)
        runs = pc.run_end_encode(table.column(BUCKET).take(order).combine_chunks())
        data = self._take(table.drop_columns([BUCKET]), order)
        jobs: list[tuple[pa.Table, Path]] = []
        start = 0
        for bucket, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
            directory = partition_dir(self.root, bucket, self.table)
            directory.mkdir(parents=True, exist_ok=True)
            jobs.append((data.slice(start, end - start), directory / part_name(first, last)))
            start = end
        written = self._write_all(jobs)
        # The renames (and any new dt=/hour= directory) must be on disk before the marker is.
        synced: set[Path] = set()
        for path in written:
            for directory in (path.parent, path.parent.parent, self.root / self.table.name):
                if directory not in synced:
                    fsync_dir(directory)
                    synced.add(directory)
        return written

    def _take(self, table: pa.Table, order: pa.Array) -> pa.Table:
        """`table.take(order)`, the columns shared between the workers."""
        names = table.column_names
        shares = [names[i :: self._workers] for i in range(self._workers)]

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

    def _write_all(self, jobs: list[tuple[pa.Table, Path]]) -> list[Path]:
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

    def write_marker(self, first: int, last: int, files: list[Path], records: int) -> None:
        """The commit marker of `first..last` listing `files`: from its rename on, committed."""
        commits = self.root / self.table.commits
        commits.mkdir(exist_ok=True)
        name = marker_name(first, last)
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

    def prune_markers(self, keep: int) -> None:
        """Keep the newest `keep` markers (only the newest one is needed; the rest are a trail)."""
        commits = self.root / self.table.commits
        markers = sorted(p for p in commits.iterdir() if not p.name.startswith("."))
        for old in markers[: max(0, len(markers) - keep)]:
            old.unlink(missing_ok=True)

    def remove_uncommitted(self, committed: int) -> list[Path]:
        """Delete the part files of flushes after `committed` and every temporary write file."""
        removed: list[Path] = []
        for partition in partitions(self.root, table=self.table):
            before = len(removed)
            for entry in list(partition.iterdir()):
                part = parse_part(entry)
                if entry.name.startswith(TMP_WRITE) or (part and part.first > committed):
                    entry.unlink()
                    removed.append(entry)
            if len(removed) > before:
                fsync_dir(partition)
        commits = self.root / self.table.commits
        if commits.is_dir():
            for entry in commits.iterdir():
                if entry.name.startswith(TMP_WRITE):
                    entry.unlink()
        return removed
