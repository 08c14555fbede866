"""Where things live under a lake root, and which files a reader must count (names only, no IO).

    <root>/events/dt=YYYY-MM-DD/hour=HH/part-<first>-<last>.parquet
    <root>/_commits/<first>-<last>.json
    <root>/views/dt=YYYY-MM-DD/hour=HH/part-<first>-<last>.parquet
    <root>/_commits_views/<first>-<last>.json

The lake holds two tables (`Table`): `events`, the event log's records, and `views`, the view
records the realtime engine appends to its views log (`qos_shared.views`; a view's `event_time`
is its close time). Each has its own folder, commit markers and log positions (those of its own
log), and the same rules below.

`first`/`last` are log positions, zero-padded to 20 digits so names sort in log order. Names
starting with `.` or `_` are hidden from Hive, Athena and `pyarrow.dataset`, so temporary files
(`.tmp-…`) and the commit markers are never read as data.

A row is in the partition of its `event_time`'s UTC hour when that time is usable
(`qos_shared.eventtime.is_usable`), else in that of the time the event log stored it. So a file
whose `event_time` statistics show no null and every value usable holds only rows of its
partition's day (the local queries read such files without the scope's time bounds).

A part file counts when its flush is committed (its last position is at or before the newest
commit marker's) and no other file of its partition covers its range: a file inside another's
range is an original that a compaction merged but had not yet deleted when it stopped.
`adapters.files` lists the files by these rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from qos_shared.eventtime import HOUR_MS, day_start_ms, utc_day

EVENTS_DIR = "events"
COMMITS_DIR = "_commits"
VIEWS_DIR = "views"
VIEWS_COMMITS_DIR = "_commits_views"
WIDTH = 20
TMP_PREFIX = ".tmp-"
TMP_WRITE = ".tmp-write-"  # a writer's file before its rename
TMP_COMPACT = ".tmp-compact-"  # a compaction's merged file before its rename

_PART = re.compile(r"^part-(\d{20})-(\d{20})\.parquet$")
_MARKER = re.compile(r"^(\d{20})-(\d{20})\.json$")
PARTITION_DIR = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
HOUR_DIR = re.compile(r"^hour=(\d{2})$")


@dataclass(frozen=True, slots=True)
class Table:
    """One table of the lake: its folder under the root (and its name in the queries), and the
    folder of its commit markers."""

    name: str
    commits: str


EVENTS = Table(EVENTS_DIR, COMMITS_DIR)
VIEWS = Table(VIEWS_DIR, VIEWS_COMMITS_DIR)
TABLES: dict[str, Table] = {t.name: t for t in (EVENTS, VIEWS)}


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


def marker_name(first: int, last: int) -> str:
    return f"{range_name(first, last)}.json"


def marker_last(name: str) -> int | None:
    """The last position of a commit marker's file name (None for any other name)."""
    match = _MARKER.match(name)
    return int(match[2]) if match else None


def partition_dir(root: Path, hour_bucket: int, table: Table = EVENTS) -> Path:
    """The partition of an hour (`qos_shared.eventtime.hour_bucket`: hours since the epoch, UTC)."""
    day = utc_day(hour_bucket * HOUR_MS)
    return root / table.name / f"dt={day.isoformat()}" / f"hour={hour_bucket % 24:02d}"


def table_of(partition: Path) -> tuple[Path, Table]:
    """(the lake root, the table) of a `<root>/<table>/dt=/hour=` partition directory."""
    return partition.parent.parent.parent, TABLES[partition.parent.parent.name]


def partition_day(partition: Path) -> str:
    """The `YYYY-MM-DD` of a `dt=/hour=` partition directory."""
    return partition.parent.name.removeprefix("dt=")


def partition_start_ms(partition: Path) -> int:
    """Epoch ms of a `dt=YYYY-MM-DD/hour=HH` partition's first instant."""
    hour = int(partition.name.removeprefix("hour="))
    return day_start_ms(date.fromisoformat(partition_day(partition))) + hour * HOUR_MS


def overlaps(partition: Path, start_ms: int | None, end_ms: int | None) -> bool:
    """Whether a partition's hour overlaps `[start_ms, end_ms)` (an open end when None)."""
    hour = partition_start_ms(partition)
    return (start_ms is None or hour + HOUR_MS > start_ms) and (end_ms is None or hour < end_ms)


def parse_part(path: Path) -> PartFile | None:
    match = _PART.match(path.name)
    return PartFile(int(match[1]), int(match[2]), path) if match else None


def split_leftovers(files: list[PartFile]) -> tuple[list[PartFile], list[PartFile]]:
    """(files that count, files covered by another one: leftovers of a compaction)."""
    live = [f for f in files if not any(o.covers(f) for o in files)]
    leftovers = [f for f in files if f not in live]
    return live, leftovers


def counted(files: list[PartFile], committed: int) -> list[PartFile]:
    """The files of one partition that readers count: committed, and not covered by another."""
    live, _ = split_leftovers([f for f in files if f.last <= committed])
    return live
