"""Compaction: one file per partition, every row once, leftovers ignored then removed."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from qos_lake.adapters.files import live_files, partitions
from qos_lake.domain.layout import TMP_COMPACT, part_name
from qos_lake.service import LakeWriter, WriterConfig, compact
from qos_shared.eventlog import EventLog

from ..lake import BASE_MS, HOUR_MS, append, event_ids, summary


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    return EventLog(tmp_path / "events.sqlite", synchronous="NORMAL")


def write_flushes(log: EventLog, root: Path, flushes: int, per_flush: int = 10) -> list[str]:
    """`flushes` flushes, each with events in two hours of 2026-11-01."""
    sent: list[str] = []
    with_writer = LakeWriter(log, root, WriterConfig(flush_records=per_flush))
    try:
        for _ in range(flushes):
            events = [summary(BASE_MS + (i % 2) * HOUR_MS + i) for i in range(per_flush)]
            append(log, events)
            sent.extend(e["event_id"] for e in events)
            with_writer.poll()
    finally:
        with_writer.close()
    return sent


def parquet_names(partition: Path) -> list[str]:
    return sorted(p.name for p in partition.iterdir())


def test_compaction_merges_each_partition_into_one_file_with_every_row_once(
    log: EventLog, tmp_path: Path
) -> None:
    root = tmp_path / "lake"
    sent = write_flushes(log, root, flushes=3)
    hours = partitions(root)
    assert [len(live_files(p)) for p in hours] == [3, 3]
    results = compact(root)
    assert [(r.inputs, r.rows) for r in results] == [(3, 15), (3, 15)]
    for partition in hours:
        assert parquet_names(partition) == [part_name(1, 30)]
    counts = Counter(event_ids(root))
    assert set(counts) == set(sent) and max(counts.values()) == 1

    again = compact(root)  # nothing left to merge: a no-op
    assert [r.merged for r in again] == [None, None] and sum(r.removed for r in again) == 0
    assert [parquet_names(p) for p in hours] == [[part_name(1, 30)]] * 2


def test_a_crash_between_rename_and_delete_leaves_leftovers_that_count_once(
    log: EventLog, tmp_path: Path
) -> None:
    root = tmp_path / "lake"
    sent = write_flushes(log, root, flushes=3)
    partition = partitions(root)[0]
    originals = tmp_path / "originals"
    shutil.copytree(partition, originals)
    compact(root)
    # The state a crash right after the rename leaves: merged file and originals side by side,
    # plus a half-written merge of another attempt.
    for original in originals.iterdir():
        shutil.copy2(original, partition / original.name)
    (partition / f"{TMP_COMPACT}{part_name(1, 99)}").write_bytes(b"half a file")
    assert len(parquet_names(partition)) == 5
    assert [p.name for p in live_files(partition)] == [part_name(1, 30)]
    counts = Counter(event_ids(root))
    assert set(counts) == set(sent) and max(counts.values()) == 1

    results = compact(root)
    assert results[0].merged is None and results[0].removed == 3
    assert parquet_names(partition) == [part_name(1, 30)]
    assert Counter(event_ids(root)) == counts


def test_later_flushes_land_beside_the_merged_file_and_merge_next_time(
    log: EventLog, tmp_path: Path
) -> None:
    root = tmp_path / "lake"
    sent = write_flushes(log, root, flushes=2)
    compact(root, dt="2026-11-01")
    sent += write_flushes(log, root, flushes=2)  # late events into the compacted hours
    partition = partitions(root)[0]
    assert parquet_names(partition) == [part_name(1, 20), part_name(21, 30), part_name(31, 40)]
    compact(root)
    assert parquet_names(partition) == [part_name(1, 40)]
    counts = Counter(event_ids(root))
    assert set(counts) == set(sent) and max(counts.values()) == 1


def test_only_the_given_day_is_compacted(log: EventLog, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    write_flushes(log, root, flushes=2)
    assert compact(root, dt="2026-11-02") == []
    assert [len(live_files(p)) for p in partitions(root)] == [2, 2]
