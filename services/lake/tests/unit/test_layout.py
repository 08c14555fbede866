"""Names sort in log order; readers skip uncommitted files and files covered by another."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from qos_lake.adapters.files import committed_through, live_files
from qos_lake.domain.layout import parse_part, part_name, partition_dir

HOUR = int(datetime(2026, 11, 1, 22, tzinfo=UTC).timestamp()) // 3600


def test_partition_of_an_hour_is_its_utc_day_and_hour(tmp_path: Path) -> None:
    assert partition_dir(tmp_path, HOUR) == tmp_path / "events/dt=2026-11-01/hour=22"
    assert partition_dir(tmp_path, HOUR + 2) == tmp_path / "events/dt=2026-11-02/hour=00"


def test_part_names_are_zero_padded_so_they_sort_by_position() -> None:
    names = [part_name(9, 10), part_name(11, 200), part_name(201, 3000)]
    assert names == sorted(names)
    parsed = parse_part(Path(names[1]))
    assert parsed is not None and (parsed.first, parsed.last) == (11, 200)
    assert parse_part(Path(".tmp-write-" + names[1])) is None


def touch(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(b"")
    return path


def test_live_files_skip_covered_and_uncommitted_files(tmp_path: Path) -> None:
    partition = partition_dir(tmp_path, HOUR)
    merged = touch(partition, part_name(1, 30))
    touch(partition, part_name(1, 10))  # an original the merge did not get to delete
    touch(partition, part_name(21, 30))
    later = touch(partition, part_name(41, 50))
    touch(partition, part_name(51, 60))  # a flush in progress: no marker yet
    touch(partition, ".tmp-compact-" + part_name(1, 60))
    touch(tmp_path / "_commits", "00000000000000000041-00000000000000000050.json")
    touch(tmp_path / "_commits", "00000000000000000031-00000000000000000040.json")
    assert committed_through(tmp_path) == 50
    assert live_files(partition) == [merged, later]
    assert live_files(partition, committed=60)[-1].name == part_name(51, 60)


def test_nothing_is_live_before_the_first_marker(tmp_path: Path) -> None:
    partition = partition_dir(tmp_path, HOUR)
    touch(partition, part_name(1, 10))
    assert committed_through(tmp_path) == 0
    assert live_files(partition) == []
