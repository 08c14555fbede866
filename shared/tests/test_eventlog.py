"""The local event log: append, dedup, read forward, checkpoints, durability across processes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from qos_shared.eventlog import EventLog, EventLogError, LogEntry, LogRecord, consume_batch


def records(*ids: str) -> list[LogRecord]:
    return [
        LogRecord(event_id=i, partition_key=f"pk-{i}", data=f'{{"id":"{i}"}}'.encode()) for i in ids
    ]


def test_append_assigns_growing_positions_and_reads_forward(tmp_path: Path) -> None:
    with EventLog(tmp_path / "log.sqlite") as log:
        assert log.append(records("a", "b", "c")).appended == 3
        entries = log.read()
        assert [e.event_id for e in entries] == ["a", "b", "c"]
        assert [e.position for e in entries] == sorted({e.position for e in entries})
        assert [e.event_id for e in log.read(after=entries[0].position)] == ["b", "c"]
        assert log.read(after=entries[-1].position) == []
        assert entries[1].data == b'{"id":"b"}' and entries[1].partition_key == "pk-b"
        assert log.last_position() == entries[-1].position


def test_duplicate_event_ids_are_stored_once(tmp_path: Path) -> None:
    with EventLog(tmp_path / "log.sqlite") as log:
        log.append(records("a", "b"))
        result = log.append(records("b", "c", "c"))
        assert (result.appended, result.duplicates) == (1, 2)
        assert [e.event_id for e in log.read()] == ["a", "b", "c"]
        assert log.count() == 3


def test_checkpoints_are_per_consumer_and_persist(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    with EventLog(path) as log:
        log.append(records("a", "b", "c"))
        assert log.checkpoint("lake") == 0
        log.commit("lake", 2)
        log.commit("realtime", 3)
        log.commit("lake", 3)
    with EventLog(path) as reopened:
        assert reopened.consumers() == {"lake": 3, "realtime": 3}
        assert reopened.checkpoint("search") == 0
        with pytest.raises(ValueError, match=">= 0"):
            reopened.commit("lake", -1)


def test_positions_are_never_reused_after_delete(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    with EventLog(path) as log:
        log.append(records("a", "b"))
        last = log.last_position()
    with sqlite3.connect(path) as db:  # simulate retention trimming the tail
        db.execute("DELETE FROM events WHERE position = ?", (last,))
    with EventLog(path) as log:
        log.append(records("c"))
        assert log.read()[-1].position > last


def test_not_an_event_log_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_bytes(b"this is not a database" * 100)
    with pytest.raises(EventLogError, match="not a usable event log"):
        EventLog(bogus)


def test_format_version_mismatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    EventLog(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '999' WHERE key = 'format_version'")
    with pytest.raises(EventLogError, match="format 999"):
        EventLog(path)


def _append_then_die(path: str, ready: "multiprocessing.synchronize.Event") -> None:  # noqa: UP037
    log = EventLog(path)
    log.append(records(*(f"e{i}" for i in range(100))))
    ready.set()
    os.kill(os.getpid(), signal.SIGKILL)  # no close(), no atexit: the commit alone must hold


def test_a_committed_append_survives_kill_9_of_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    writer = ctx.Process(target=_append_then_die, args=(str(path), ready))
    writer.start()
    writer.join(timeout=60)
    assert ready.is_set() and writer.exitcode == -signal.SIGKILL
    with EventLog(path) as log:
        assert [e.event_id for e in log.read(limit=1000)] == [f"e{i}" for i in range(100)]


def test_a_second_process_reads_what_the_first_appended(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    with EventLog(path) as writer, EventLog(path) as reader:
        writer.append(records("a"))
        assert [e.event_id for e in reader.read()] == ["a"]
        writer.append(records("b"))
        assert [e.event_id for e in reader.read(after=reader.read()[0].position)] == ["b"]


def test_consume_batch_moves_the_checkpoint_only_after_the_handler(tmp_path: Path) -> None:
    seen: list[str] = []

    def handle(entries: list[LogEntry]) -> None:
        seen.extend(e.event_id for e in entries)

    def fail(entries: list[LogEntry]) -> None:
        raise RuntimeError("downstream is down")

    with EventLog(tmp_path / "log.sqlite") as log:
        log.append(records("a", "b", "c"))
        assert consume_batch(log, "lake", handle, limit=2) == 2
        with pytest.raises(RuntimeError, match="downstream is down"):
            consume_batch(log, "lake", fail)
        assert consume_batch(log, "lake", handle) == 1
        assert consume_batch(log, "lake", handle) == 0
        assert seen == ["a", "b", "c"]
        assert consume_batch(log, "search", handle) == 3  # an independent checkpoint
        assert log.checkpoint("lake") == log.last_position()


def test_concurrent_appends_are_all_committed_with_their_own_counts(tmp_path: Path) -> None:
    """Group commit: 8 threads x 25 appends; every caller gets its own appended/duplicate counts."""
    import threading

    results: dict[int, list[tuple[int, int]]] = {}
    with EventLog(tmp_path / "log.sqlite") as log:

        def writer(n: int) -> None:
            mine = []
            for i in range(25):
                # every third append repeats the previous one: all its records are duplicates
                j = i - 1 if i % 3 == 2 else i
                result = log.append(records(*(f"t{n}-{j}-{k}" for k in range(4))))
                mine.append((result.appended, result.duplicates))
            results[n] = mine

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        expected = [(0, 4) if i % 3 == 2 else (4, 0) for i in range(25)]
        assert all(results[n] == expected for n in range(8))
        unique = {
            f"t{n}-{i}-{k}" for n in range(8) for i in range(25) if i % 3 != 2 for k in range(4)
        }
        assert {e.event_id for e in log.read(limit=10_000)} == unique


def test_a_failed_group_commit_raises_for_its_callers_and_stores_nothing(tmp_path: Path) -> None:
    with EventLog(tmp_path / "log.sqlite") as log:
        bad = [LogRecord(event_id="x", partition_key="p", data=None)]  # type: ignore[arg-type]
        with pytest.raises(sqlite3.IntegrityError):
            log.append(bad)
        assert log.count() == 0
        assert log.append(records("ok")).appended == 1


def test_read_joined_is_read_as_one_bytes_object(tmp_path: Path) -> None:
    with EventLog(tmp_path / "log.sqlite") as log:
        assert log.read_joined() == (0, 0, 0, b"")
        log.append(records(*(f"r{i}" for i in range(10))))
        odd = [
            LogRecord("empty", "pk", b""),
            LogRecord("binary", "pk", b"\xff\x00 not utf-8 \x00"),
            LogRecord("last", "pk", b'{"id":"last"}'),
        ]
        log.append(odd)
        for after, limit in [(0, 1000), (0, 3), (4, 5), (10, 2), (12, 5), (13, 1), (99, 5)]:
            entries = log.read(after=after, limit=limit)
            joined = log.read_joined(after=after, limit=limit)
            assert joined.data == b"\n".join(e.data for e in entries)
            assert joined.record_count == len(entries)
            if entries:
                assert (joined.first_position, joined.last_position) == (
                    entries[0].position,
                    entries[-1].position,
                )
            else:
                assert joined == (0, 0, 0, b"")
        assert log.read_joined(after=10, separator=b"|").data == b"|\xff\x00 not utf-8 \x00|" + (
            b'{"id":"last"}'
        )
