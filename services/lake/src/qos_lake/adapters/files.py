"""The lake's files on disk: its partitions, the part files that count, the newest commit marker.

The names and the rules are `domain.layout`'s; this module lists directories by them, and makes
renames durable (`fsync_dir`) and a lake root exclusive (`lock`).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from qos_lake.domain.layout import (
    EVENTS,
    HOUR_DIR,
    PARTITION_DIR,
    PartFile,
    Table,
    counted,
    marker_last,
    overlaps,
    parse_part,
    partition_day,
    table_of,
)


def partitions(root: Path, dt: str | None = None, table: Table = EVENTS) -> list[Path]:
    """The `dt=/hour=` directories of a table under `root`, in time order (only `dt`'s when
    given)."""
    events = root / table.name
    if not events.is_dir():
        return []
    found: list[Path] = []
    for day in sorted(events.iterdir()):
        match = PARTITION_DIR.match(day.name)
        if not match or (dt is not None and match[1] != dt) or not day.is_dir():
            continue
        found.extend(h for h in sorted(day.iterdir()) if HOUR_DIR.match(h.name) and h.is_dir())
    return found


def part_files(partition: Path) -> list[PartFile]:
    """Every part file of a partition, live or not, ordered by first position."""
    found = (parse_part(p) for p in partition.iterdir()) if partition.is_dir() else iter(())
    return sorted(f for f in found if f is not None)


def committed_through(root: Path, table: Table = EVENTS) -> int:
    """The last log position of a table's newest commit marker (0 when nothing was committed)."""
    commits = root / table.commits
    if not commits.is_dir():
        return 0
    lasts = (marker_last(p.name) for p in commits.iterdir())
    return max((last for last in lasts if last is not None), default=0)


def live_files(partition: Path, committed: int | None = None) -> list[Path]:
    """The files of a partition that readers count: committed and not covered by another.

    `committed` is the newest commit marker's last position, read from the lake root when not
    given (pass it when listing many partitions, to read the markers once).
    """
    if committed is None:
        committed = committed_through(*table_of(partition))
    return [f.path for f in counted(part_files(partition), committed)]


def live_dataset_files(root: Path, dt: str | None = None, table: Table = EVENTS) -> list[Path]:
    """The live files of every partition of a table (of `dt` when given): what a query reads."""
    committed = committed_through(root, table)
    return [p for part in partitions(root, dt, table) for p in live_files(part, committed)]


def live_files_in_days(
    root: Path, days: set[str], table: Table = EVENTS
) -> tuple[list[Path], bool]:
    """(the live files of a table's partitions of `days` (YYYY-MM-DD), whether it has any)."""
    files = live_dataset_files(root, table=table)
    return [f for f in files if partition_day(f.parent) in days], bool(files)


def live_files_in_hours(
    root: Path, committed: int, start_ms: int | None, end_ms: int | None
) -> list[Path]:
    """Live files committed at or before `committed`, of the hours overlapping the range."""
    return [
        f
        for partition in partitions(root)
        if overlaps(partition, start_ms, end_ms)
        for f in live_files(partition, committed)
    ]


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in `path` durable (the directory entry, not just the data)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def lock(path: Path, busy: type[Exception], what: str) -> int:
    """An exclusive lock on `path` (created if missing), held until its descriptor is closed;
    raises `busy` when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise busy(f"another {what} holds {path}") from None
    return fd
