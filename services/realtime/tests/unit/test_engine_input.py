"""How records reach the engine: one newline-joined text (the consumer's way) or a list of
records, many small loads or one, and what it does with records it cannot use."""

from __future__ import annotations

from typing import Any

import duckdb
import orjson
import pytest

from qos_realtime.adapters.window_engine import WindowEngine
from qos_realtime.domain.rows import MetricRow
from qos_realtime.domain.windows import BatchResult, WindowConfig

from ..golden import BASE_MS, generate
from .test_golden import close

W = 10  # seconds


def final_rows(engine: WindowEngine) -> dict[tuple[int, str, str, str, str], float | None]:
    windows = engine.open_windows()
    rows = engine.rows(windows, final=True)
    engine.close(windows)
    return {row.key(): row.value for row in rows}


def same(a: dict[Any, float | None], b: dict[Any, float | None]) -> bool:
    return set(a) == set(b) and all(close(a[k], b[k]) for k in a)


def engine() -> WindowEngine:
    return WindowEngine(WindowConfig(window_s=W, top_n_channels=3))


def test_joined_text_many_small_loads_and_one_list_give_the_same_rows() -> None:
    data = [orjson.dumps(r) for r in generate(seed=5, sessions=60, span_s=60, channels=5)]
    as_list = engine()
    as_list.add(data)
    joined = engine()
    joined.add_joined(b"\n".join(data), 1)
    files = engine()  # where there is no memfd: a temporary file per batch
    files._file.close()
    files.add_joined(b"\n".join(data), 1)
    small = engine()  # a quiet log polled often: more loads than tables, so they are merged
    for start in range(0, len(data), 7):
        small.add_joined(b"\n".join(data[start : start + 7]), start + 1)
    assert len(small._tables) <= 9 < len(data) // 7
    assert joined.open_windows() == as_list.open_windows() == small.open_windows()
    assert small.min_open_position() == 1
    assert joined.pending_count() == as_list.pending_count() == small.pending_count() == len(data)
    expected = final_rows(as_list)
    assert expected
    assert same(final_rows(joined), expected)
    assert same(final_rows(small), expected)
    assert same(final_rows(files), expected)


def record(at_s: float, **fields: Any) -> dict[str, Any]:
    return {
        "metric_type": "PLAY",
        "session_id": "s",
        "client_platform": "web",
        "channel_watched": "ch",
        "is_live": True,
        "event_time": BASE_MS + int(at_s * 1000),
        "startup_latency_ms": 1000,
        **fields,
    }


def add(e: WindowEngine, records: list[bytes], joined: bool) -> BatchResult:
    """As the consumer hands a batch over (one text), or as a list with positions."""
    first = (e.min_open_position() or 0) + 100
    if joined:
        return e.add_joined(b"\n".join(records), first)
    return e.add(records, range(first, first + len(records)))


def plays(rows: list[MetricRow]) -> float | None:
    (value,) = [r.value for r in rows if r.metric == "plays" and r.dimension == "all"]
    return value


@pytest.mark.parametrize("joined", [True, False])
def test_records_without_event_time_are_skipped_and_lenient_values_converted(
    joined: bool,
) -> None:
    data = [
        orjson.dumps(record(1)),
        orjson.dumps({k: v for k, v in record(2).items() if k != "event_time"}),
        orjson.dumps(record(2, event_time=None)),
        b"",  # an empty line
        b"null",
        orjson.dumps(record(3, event_time=str(BASE_MS + 3000), startup_latency_ms="2000")),
        orjson.dumps(record(4, is_live="yes", extra_fields={"nested": {"x": [1]}})),
    ]
    e = engine()
    result = add(e, data, joined)
    assert result.added == 3
    (window,) = e.open_windows()
    rows = e.rows([window], final=True)
    assert plays(rows) == 3
    (p50,) = [r.value for r in rows if r.metric == "startup_time_p50" and r.dimension == "all"]
    assert p50 == 1.0  # 1000, 2000 (the string converted) and 1000 ms


@pytest.mark.parametrize(
    "bad",
    [
        b"not json",
        b'{"metric_type": "PLAY", "event_time": 1',  # truncated
        b"[1, 2]",
        b'{"metric_type": "PLAY", "event_time": "yesterday"}',
        b'{"metric_type": "PLAY", "event_time": 1, "startup_latency_ms": {"a": 1}}',
    ],
)
@pytest.mark.parametrize("joined", [True, False])
def test_a_record_the_reader_refuses_fails_the_whole_batch_and_changes_nothing(
    bad: bytes, joined: bool
) -> None:
    e = engine()
    e.add([orjson.dumps(record(1))], [1])
    before = (e.open_windows(), e.pending_count(), e.max_event_time, e.min_open_position())
    batch = [orjson.dumps(record(2)), bad, orjson.dumps(record(3))]
    with pytest.raises(duckdb.InvalidInputException):
        add(e, batch, joined)
    assert (e.open_windows(), e.pending_count(), e.max_event_time, e.min_open_position()) == before
    e.add([orjson.dumps(record(4))], [5])  # and goes on with the next batch
    assert plays(e.rows(e.open_windows(), final=False)) == 2


def test_batches_larger_and_smaller_than_the_last_each_read_whole() -> None:
    """The batch file is rewritten in place (a memory map of one in-memory file): a batch
    shorter than the one before must not keep the longer one's tail, a longer one must grow it;
    each batch's records are counted once, none lost or read twice."""
    records = generate(seed=7, sessions=200, span_s=60, channels=3)
    sizes = [50, 3, 400, 1, 120, 2, 300]
    assert sum(sizes) <= len(records)
    engine = WindowEngine(WindowConfig(window_s=3600, allowed_lateness_s=3600))
    offset = 0
    for size in sizes:
        batch = records[offset : offset + size]
        result = engine.add_joined(b"\n".join(orjson.dumps(r) for r in batch), offset + 1)
        offset += size
        assert result.added == size and not result.late
        assert engine.pending_count() == offset
