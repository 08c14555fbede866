"""Where things live under a lake root, and which files a reader must count.

    <root>/events/dt=YYYY-MM-DD/hour=HH/part-<first>-<last>.parquet
    <root>/_commits/<first>-<last>.json

`first`/`last` are event-log positions, zero-padded to 20 digits so names sort in log order. Names
starting with `.` or `_` are hidden from Hive, Athena and `pyarrow.dataset`, so temporary files
(`.tmp-…`) and the commit markers are never read as data.

A row is in the partition of its `event_time`'s UTC hour when that time is usable (an integer
in `[0, MAX_EVENT_MS)`), else in that of the time the event log stored it. So a file whose
`event_time` statistics show no null and every value in that interval holds only rows of its
partition's day (`queries.local` reads such files without the scope's time bounds).

A part file counts (`live_files`) when its flush is committed (its last position is at or before
the newest commit marker's) and no other file of its partition covers its range: a file inside
another's range is an original that a compaction merged but had not yet deleted when it stopped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

EVENTS_DIR = "events"
COMMITS_DIR = "_commits"
WIDTH = 20
TMP_PREFIX = ".tmp-"
MAX_EVENT_MS = 253_402_300_800_000  # year 10000: beyond it there is no dt= to write

_PART = re.compile(r"^part-(\d{20})-(\d{20})\.parquet$")
_MARKER = re.compile(r"^(\d{20})-(\d{20})\.json$")
_PARTITION_DIR = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
_HOUR_DIR = re.compile(r"^hour=(\d{2})$")


@dataclass(frozen=True, slots=True, order=True)
class PartFile:
    """A data file and the log position range it holds."""

    first: int
    last: int
    path: Path

    def covers(self, other: PartFile) -> bool:
        return self.first <= other.first and other.last <= self.last and self != other


def range_name(first: int, last: int) -> str:
    return f"{first:0{WIDTH}d}-{last:0{WIDTH}d}"


def part_name(first: int, last: int) -> str:
    return f"part-{range_name(first, last)}.parquet"


def partition_dir(root: Path, hour_bucket: int) -> Path:
    """The partition of an hour (hours since the epoch, UTC)."""
    start = datetime.fromtimestamp(hour_bucket * 3600, UTC)
    return root / EVENTS_DIR / f"dt={start:%Y-%m-%d}" / f"hour={start:%H}"


def parse_part(path: Path) -> PartFile | None:
    match = _PART.match(path.name)
    return PartFile(int(match[1]), int(match[2]), path) if match else None


def partitions(root: Path, dt: str | None = None) -> list[Path]:
    """The `dt=/hour=` directories under `root`, in time order (only `dt`'s when given)."""
    events = root / EVENTS_DIR
    if not events.is_dir():
        return []
    found: list[Path] = []
    for day in sorted(events.iterdir()):
        match = _PARTITION_DIR.match(day.name)
        if not match or (dt is not None and match[1] != dt) or not day.is_dir():
            continue
        found.extend(h for h in sorted(day.iterdir()) if _HOUR_DIR.match(h.name) and h.is_dir())
    return found


def part_files(partition: Path) -> list[PartFile]:
    """Every part file of a partition, live or not, ordered by first position."""
    found = (parse_part(p) for p in partition.iterdir()) if partition.is_dir() else iter(())
    return sorted(f for f in found if f is not None)


def committed_through(root: Path) -> int:
    """The last log position of the newest commit marker (0 when nothing was committed)."""
    commits = root / COMMITS_DIR
    if not commits.is_dir():
        return 0
    lasts = [int(m[2]) for m in (_MARKER.match(p.name) for p in commits.iterdir()) if m]
    return max(lasts, default=0)


def split_leftovers(files: list[PartFile]) -> tuple[list[PartFile], list[PartFile]]:
    """(files that count, files covered by another one: leftovers of a compaction)."""
    live = [f for f in files if not any(o.covers(f) for o in files)]
    leftovers = [f for f in files if f not in live]
    return live, leftovers


def live_files(partition: Path, committed: int | None = None) -> list[Path]:
    """The files of a partition that readers count: committed and not covered by another.

    `committed` is the newest commit marker's last position, read from the lake root when not
    given (pass it when listing many partitions, to read the markers once).
    """
    if committed is None:
        committed = committed_through(partition.parent.parent.parent)
    files = [f for f in part_files(partition) if f.last <= committed]
    live, _ = split_leftovers(files)
    return [f.path for f in live]


def live_dataset_files(root: Path, dt: str | None = None) -> list[Path]:
    """The live files of every partition (of `dt` when given): what a query should read."""
    committed = committed_through(root)
    return [p for part in partitions(root, dt) for p in live_files(part, committed)]


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in `path` durable (the directory entry, not just the data)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
