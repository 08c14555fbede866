"""The writer over a real event log and real Parquet files, read back by DuckDB."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow.parquet as pq
import pytest

from qos_lake.adapters.files import live_dataset_files
from qos_lake.domain.errors import LakeBusy
from qos_lake.domain.layout import COMMITS_DIR, part_name
from qos_lake.service import CONSUMER, LakeWriter, WriterConfig
from qos_shared.eventlog import EventLog, LogRecord

from ..lake import BASE_MS, HOUR_MS, append, event_ids, read_lake, summary


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    return EventLog(tmp_path / "events.sqlite", synchronous="NORMAL")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "lake"


def writer(log: EventLog, root: Path, clock: Clock | None = None, **config: Any) -> LakeWriter:
    return LakeWriter(
        log,
        root,
        WriterConfig(**{"flush_records": 1_000, "flush_seconds": 10.0, **config}),
        clock=clock or Clock(),
    )


def drain(w: LakeWriter) -> None:
    w.drain()


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.glob("events/*/*/*.parquet"))


def test_records_land_in_their_utc_partitions_with_typed_values(log: EventLog, root: Path) -> None:
    extra = {"ab_test": "variant-b", "cdn": {"pop": "CDG", "hits": [1, 2]}}
    events = [
        summary(BASE_MS + 5, extra_fields=extra, unknown_key="dropped"),
        summary(BASE_MS + 2 * HOUR_MS - 1),  # 23:59:59.999 on 2026-11-01
        summary(BASE_MS + 2 * HOUR_MS),  # midnight: the next day
        {
            "metric_type": "ERROR",
            "event_id": "err-1",
            "session_id": "s-err",
            "event_time": BASE_MS + 2 * HOUR_MS + 10,
            "error_code": "E42",
            "fatal": True,
        },
    ]
    append(log, events)
    w = writer(log, root)
    drain(w)
    assert files_under(root) == [
        f"events/dt=2026-11-01/hour=22/{part_name(1, 4)}",
        f"events/dt=2026-11-01/hour=23/{part_name(1, 4)}",
        f"events/dt=2026-11-02/hour=00/{part_name(1, 4)}",
    ]
    rows = {row["event_id"]: row for row in read_lake(root)}
    assert set(rows) == {e["event_id"] for e in events}
    where = {e: (r["dt"], r["hour"]) for e, r in rows.items()}
    assert where == {
        events[0]["event_id"]: ("2026-11-01", "22"),
        events[1]["event_id"]: ("2026-11-01", "23"),
        events[2]["event_id"]: ("2026-11-02", "00"),
        "err-1": ("2026-11-02", "00"),
    }
    columns = set(next(iter(rows.values()))) - {"dt", "hour"}
    assert "unknown_key" not in columns
    for event in events:
        row = rows[event["event_id"]]
        for column in columns - {"extra_fields"}:
            assert row[column] == event.get(column), column  # absent fields are null
        stored = row["extra_fields"]
        if "extra_fields" in event:
            assert orjson.loads(stored) == extra
        else:
            assert stored is None
    assert rows["err-1"]["fatal"] is True and rows["err-1"]["playing_time_ms"] is None
    types = dict(
        duckdb.execute(
            "SELECT column_name, column_type FROM"
            " (DESCRIBE SELECT * FROM read_parquet($f, hive_partitioning = false))",
            {"f": str(live_dataset_files(root)[0])},
        ).fetchall()
    )
    assert types["event_time"] == "BIGINT" and types["is_live"] == "BOOLEAN"
    assert types["viewer_latitude"] == "DOUBLE" and types["extra_fields"] == "VARCHAR"
    assert "dt" not in types and "hour" not in types
    meta = duckdb.execute(
        "SELECT DISTINCT compression FROM parquet_metadata($f)",
        {"f": str(live_dataset_files(root)[0])},
    ).fetchall()
    assert meta == [("ZSTD",)]
    assert log.checkpoint(CONSUMER) == 4


def test_small_appends_are_buffered_into_one_file_per_partition_per_flush(
    log: EventLog, root: Path
) -> None:
    clock = Clock()
    w = writer(log, root, clock, flush_records=10_000, flush_seconds=10.0)
    sent: list[str] = []
    for i in range(40):  # 40 appends of 5, across two hours
        batch = [summary(BASE_MS + (i % 2) * HOUR_MS + j) for j in range(5)]
        append(log, batch)
        sent.extend(e["event_id"] for e in batch)
        clock.now += 0.1
        assert w.poll()[1] is None  # neither bound reached
    assert files_under(root) == [] and w.buffered == 200
    clock.now += 10
    _, result = w.poll()
    assert result is not None and result.records == 200 and len(result.files) == 2
    assert len(files_under(root)) == 2
    assert sorted(event_ids(root)) == sorted(sent)


def test_the_size_bound_flushes_before_the_time_bound(log: EventLog, root: Path) -> None:
    clock = Clock()
    w = writer(log, root, clock, flush_records=100, flush_seconds=3600, read_batch=30)
    events = [summary(BASE_MS + i) for i in range(250)]
    append(log, events)
    flushes = [r for _ in range(20) if (r := w.poll()[1]) is not None]
    assert [f.records for f in flushes] == [100, 100]  # reads stop at the bound, never past it
    assert w.buffered == 50
    w.flush()
    assert len(files_under(root)) == 3
    assert sorted(event_ids(root)) == sorted(e["event_id"] for e in events)


def test_misfit_values_are_null_and_counted_not_fatal(log: EventLog, root: Path) -> None:
    append(log, [summary(buffering_count="three"), summary()])
    w = writer(log, root)
    w.poll()
    result = w.flush()
    assert result is not None and result.invalid_values == 1 and result.records == 2
    assert sorted(r["buffering_count"] for r in read_lake(root) if r["buffering_count"]) == [1]


def test_a_second_writer_on_the_same_root_is_refused(log: EventLog, root: Path) -> None:
    first = writer(log, root)
    with pytest.raises(LakeBusy):
        writer(log, root)
    first.close()
    writer(log, root).close()


class Crash(Exception):
    """Stands for the process dying at this point (nothing after it runs)."""


def crash_on_call(original: Any, call: int) -> Any:
    calls = {"n": 0}

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == call:
            raise Crash
        return original(*args, **kwargs)

    return wrapped


@pytest.mark.parametrize(
    ("part", "step", "call"),
    [
        ("_files", "_write_file", 3),  # two partition files renamed into place, the third not
        ("_files", "write_marker", 1),  # every partition file in place, no marker
        ("log", "commit", 1),  # marker written, log checkpoint not moved
    ],
)
def test_a_crash_at_any_step_of_a_flush_gives_each_event_exactly_once(
    log: EventLog, root: Path, monkeypatch: pytest.MonkeyPatch, part: str, step: str, call: int
) -> None:
    committed = [summary(BASE_MS + i * 1000) for i in range(10)]
    append(log, committed)
    w = writer(log, root)
    drain(w)  # one clean flush first, so recovery has something to keep
    in_flight = [summary(BASE_MS + h * HOUR_MS + i) for h in range(3) for i in range(4)]
    append(log, in_flight)
    w.poll()
    target = getattr(w, part)
    monkeypatch.setattr(target, step, crash_on_call(getattr(target, step), call))
    with pytest.raises(Crash):
        w.flush()
    monkeypatch.undo()
    w.close()
    ids_before = event_ids(root)
    if step == "commit":
        assert sorted(ids_before) == sorted(e["event_id"] for e in committed + in_flight)
    else:  # readers do not see a flush without its marker
        assert sorted(ids_before) == sorted(e["event_id"] for e in committed)

    later = [summary(BASE_MS + 5 * 1000 + i) for i in range(6)]
    append(log, later)
    restarted = writer(log, root)
    if step == "commit":
        assert restarted.recovery.removed == ()
        assert log.checkpoint(CONSUMER) == len(committed) + len(in_flight)
    else:
        assert len(restarted.recovery.removed) == (2 if step == "_write_file" else 3)
    drain(restarted)
    counts = Counter(event_ids(root))
    assert set(counts) == {e["event_id"] for e in committed + in_flight + later}
    assert max(counts.values()) == 1
    assert log.checkpoint(CONSUMER) == log.last_position()
    assert not list(root.rglob(".tmp-*"))


def test_a_lost_commits_directory_falls_back_on_the_log_checkpoint(
    log: EventLog, root: Path
) -> None:
    events = [summary(BASE_MS + i) for i in range(5)]
    append(log, events)
    w = writer(log, root)
    drain(w)
    w.close()
    for marker in (root / COMMITS_DIR).iterdir():
        marker.unlink()
    restarted = writer(log, root)
    assert restarted.recovery.removed == () and restarted.position == 5
    assert sorted(event_ids(root)) == sorted(e["event_id"] for e in events)


def test_old_markers_are_pruned(log: EventLog, root: Path) -> None:
    w = writer(log, root, flush_records=1, keep_markers=3)
    append(log, [summary(BASE_MS + i) for i in range(8)])
    drain(w)
    markers = sorted(p.name for p in (root / COMMITS_DIR).iterdir())
    assert len(markers) == 3 and markers[-1].endswith("00000000000000000008.json")
    assert len(event_ids(root)) == 8


def test_a_file_holds_its_rows_by_metric_type_then_session_in_log_order(
    log: EventLog, root: Path
) -> None:
    kinds = ["PLAYBACK_SUMMARY", "PLAY", "PLAYBACK_SUMMARY", "STOP"]
    events = [
        summary(BASE_MS + i * 1000, metric_type=kinds[i % 4], session_id=f"s-{(i * 7) % 5}")
        for i in range(40)
    ]
    append(log, events)
    w = writer(log, root)
    drain(w)
    (path,) = live_dataset_files(root)
    file = pq.ParquetFile(path)
    rows = file.read(columns=["metric_type", "session_id", "event_id"]).to_pylist()
    assert sorted(r["event_id"] for r in rows) == sorted(e["event_id"] for e in events)
    keys = [(r["metric_type"], r["session_id"]) for r in rows]
    runs = [k for i, k in enumerate(keys) if i == 0 or k != keys[i - 1]]
    assert len(runs) == len(set(runs))  # each (type, session) in one run
    type_runs = [t for i, (t, _) in enumerate(runs) if i == 0 or t != runs[i - 1][0]]
    assert len(type_runs) == len(set(type_runs)) == 3  # each type in one run
    log_order = {e["event_id"]: n for n, e in enumerate(events)}
    for key in set(keys):
        ids = [r["event_id"] for r in rows if (r["metric_type"], r["session_id"]) == key]
        assert ids == sorted(ids, key=log_order.__getitem__)
    # The per-record columns: no dictionary, the times delta-encoded; the rest dictionary pages.
    meta = file.metadata.row_group(0)
    encodings = {
        meta.column(i).path_in_schema: set(meta.column(i).encodings)
        for i in range(meta.num_columns)
    }
    assert "DELTA_BINARY_PACKED" in encodings["event_time"]
    assert "RLE_DICTIONARY" not in encodings["event_id"] | encodings["event_time"]
    assert "RLE_DICTIONARY" in encodings["session_id"]
    statistics = {
        meta.column(i).path_in_schema: meta.column(i).is_stats_set for i in range(meta.num_columns)
    }
    assert statistics["event_time"] and statistics["metric_type"] and statistics["is_live"]
    assert not statistics["event_id"]


def test_a_misfit_in_one_read_batch_of_a_flush_is_nulled_and_the_rest_kept(
    log: EventLog, root: Path
) -> None:
    events = [summary(BASE_MS + i) for i in range(9)]
    events[4] = {**events[4], "buffering_count": "three"}
    append(log, events)
    w = writer(log, root, read_batch=3)  # three batches, converted together at the flush
    while w.poll()[0]:
        pass
    result = w.flush()
    assert result is not None and result.records == 9 and result.invalid_values == 1
    rows = read_lake(root)
    assert sorted(r["event_id"] for r in rows) == sorted(e["event_id"] for e in events)
    assert [r["buffering_count"] for r in rows if r["event_id"] == events[4]["event_id"]] == [None]
    assert all(r["buffering_count"] == 1 for r in rows if r["event_id"] != events[4]["event_id"])


def test_a_conversion_that_fails_leaves_the_buffer_whole_for_the_next_flush(
    log: EventLog, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [summary(BASE_MS + i) for i in range(7)]
    append(log, events)
    w = writer(log, root, read_batch=2)
    while w.poll()[0]:
        pass
    with monkeypatch.context() as patch:
        patch.setattr(w._converter, "convert", crash_on_call(w._converter.convert, 3))
        with pytest.raises(Crash):
            w.flush()
    assert files_under(root) == [] and w.buffered == 7
    result = w.flush()
    assert result is not None and result.records == 7
    assert sorted(event_ids(root)) == sorted(e["event_id"] for e in events)
    w.close()
    w.close()  # a second close is harmless


def test_a_record_stored_over_several_lines_is_read_again_alone_and_written_once(
    log: EventLog, root: Path
) -> None:
    """Batches reach DuckDB as the log's records joined by newlines; a record stored over
    several lines (not what ingest stores, but a log may hold it) makes DuckDB step aside, and
    the Python path reads that batch's records again from the log, one by one."""
    events = [summary(BASE_MS + i) for i in range(6)]
    append(log, events[:2])
    pretty = orjson.dumps(events[2], option=orjson.OPT_INDENT_2)
    assert b"\n" in pretty
    log.append([LogRecord(events[2]["event_id"], events[2]["session_id"], pretty)])
    append(log, events[3:])
    w = writer(log, root, read_batch=2)
    drain(w)
    rows = read_lake(root)
    assert sorted(r["event_id"] for r in rows) == sorted(e["event_id"] for e in events)
    assert [r["playing_time_ms"] for r in rows] == [e["playing_time_ms"] for e in events]
    w.close()


def test_the_playback_fields_are_typed_columns_read_back(log: EventLog, root: Path) -> None:
    """The SDK's playback fields reach the Parquet files as their own typed columns (DuckDB reads
    them by name); an old player's record has them null."""
    fields: dict[str, Any] = {
        "playback_id": "pb-1",
        "page_url": "https://www.example.com/watch",
        "referrer_host": "news.example.org",
        "sdk_version": "0.2.0",
        "player_version": "1.56.1",
        "bandwidth_estimate_bps": 6_100_000,
    }
    new, old = summary(**fields), summary()
    append(log, [new, old])
    drain(writer(log, root))
    rows = {row["event_id"]: row for row in read_lake(root)}
    assert {name: rows[new["event_id"]][name] for name in fields} == fields
    assert all(rows[old["event_id"]][name] is None for name in fields)
    (path,) = (str(p) for p in live_dataset_files(root))
    schema = pq.read_schema(path)
    assert str(schema.field("bandwidth_estimate_bps").type) == "int64"
    assert str(schema.field("page_url").type) == "string"
