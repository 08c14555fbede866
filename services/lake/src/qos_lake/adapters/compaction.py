"""Merges each partition's committed files into one, so queries open few files.

A partition's live files (`files.live_files`) become `part-<min first>-<max last>.parquet`, its
rows grouped by `domain.schema.SORT_COLUMNS` and written with `arrow.parquet_options`, as the
writer's:

1. the merged rows are written to a hidden `.tmp-compact-…` file, fsynced, renamed into place and
   the directory fsynced;
2. only then the originals are deleted.

A crash before the rename leaves the originals (the hidden file is ignored, and removed by the next
compaction); after it, the originals lie inside the merged file's range, so readers skip them and
the next compaction deletes them. Either way every row counts once. Only committed files are
merged (up to the newest commit marker), so a running writer's flush in progress is never touched,
and the merged range stays clear of every later flush's positions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from qos_lake.adapters.arrow import parquet_options
from qos_lake.adapters.files import committed_through, fsync_dir, lock, part_files, partitions
from qos_lake.domain.errors import CompactBusy
from qos_lake.domain.layout import TABLES, TMP_COMPACT, part_name, split_leftovers
from qos_lake.domain.schema import SORT_COLUMNS

LOCK_FILE = "_compact.lock"


@dataclass(frozen=True, slots=True)
class PartitionCompaction:
    partition: Path
    merged: Path | None  # None: nothing to merge (zero or one live file)
    inputs: int
    rows: int
    removed: int  # originals and leftovers deleted


def compact_partition(partition: Path, committed: int) -> PartitionCompaction:
    """Merge a partition's live files at or before `committed`; remove leftovers first."""
    for stale in partition.glob(f"{TMP_COMPACT}*"):
        stale.unlink()
    files = [f for f in part_files(partition) if f.last <= committed]
    live, leftovers = split_leftovers(files)
    for leftover in leftovers:
        leftover.path.unlink()
    if len(live) <= 1:
        if leftovers:
            fsync_dir(partition)
        return PartitionCompaction(partition, None, len(live), 0, len(leftovers))
    # Files written before a field was added lack its column: promotion fills it with nulls.
    tables = [pq.ParquetFile(f.path).read() for f in live]
    table = pa.concat_tables(tables, promote_options="default")
    # The writer's row order and encodings (`SORT_COLUMNS`, `parquet_options`).
    keys = [(name, "ascending") for name in SORT_COLUMNS if name in table.schema.names]
    if keys:
        table = table.take(pc.sort_indices(table, sort_keys=keys))
    target = partition / part_name(min(f.first for f in live), max(f.last for f in live))
    tmp = partition / (TMP_COMPACT + target.name)
    with tmp.open("wb") as out:
        pq.write_table(table, out, **parquet_options(table.schema))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)
    fsync_dir(partition)  # the merged file is in place before any original goes
    for original in live:
        original.path.unlink()
    fsync_dir(partition)
    removed = len(live) + len(leftovers)
    return PartitionCompaction(partition, target, len(live), table.num_rows, removed)


def compact(
    root: Path,
    dt: str | None = None,
    progress: Callable[[int, int, PartitionCompaction], None] | None = None,
) -> list[PartitionCompaction]:
    """Compact every partition of both tables of the lake at `root` (events, then views; only
    those of day `dt` when given); `progress(done, total, result)` after each partition."""
    fd = lock(root / LOCK_FILE, CompactBusy, "compaction")
    try:
        work = [
            (p, committed_through(root, table))
            for table in TABLES.values()
            for p in partitions(root, dt, table)
        ]
        done: list[PartitionCompaction] = []
        for partition, committed in work:
            done.append(compact_partition(partition, committed))
            if progress is not None:
                progress(len(done), len(work), done[-1])
        return done
    finally:
        os.close(fd)
