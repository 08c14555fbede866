"""The writer's DuckDB fast path gives the table the Python path gives, or steps aside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from qos_lake.adapters.arrow import lake_schema, to_table
from qos_lake.adapters.fast_json import FastJson

from ..lake import BASE_MS, summary


def records() -> list[dict[str, Any]]:
    return [
        summary(BASE_MS + 1, extra_fields={"ab": "b", "n": [1, 2]}, viewer_latitude=53.3),
        summary(BASE_MS + 2, bitrate_bps=3_000_000, is_final=True),
        {**summary(BASE_MS + 3), "metric_type": "PLAY", "startup_latency_ms": 900},
        {**summary(BASE_MS + 4), "surprise": {"not": "a column"}},
    ]


def joined(given: list[dict[str, Any]]) -> bytes:
    """The records as `EventLog.read_joined` hands them over."""
    return b"\n".join(orjson.dumps(r) for r in given)


def test_fast_path_equals_the_python_path() -> None:
    given = records()
    fast = FastJson(lake_schema())
    table = fast.table(joined(given), len(given))
    assert table is not None
    assert table.to_pylist() == to_table(given).table.to_pylist()
    fast.close()


def test_a_misfit_value_or_a_non_object_leaves_the_batch_to_the_python_path() -> None:
    fast = FastJson(lake_schema())
    misfit = records()
    misfit[1] = {**misfit[1], "playing_time_ms": "a lot"}
    assert fast.table(joined(misfit), len(misfit)) is None
    assert fast.table(orjson.dumps(records()[0]) + b"\n[1, 2]", 2) is None
    assert fast.table(b"{not json", 1) is None
    # A record spread over two lines, or an empty one, changes the row count.
    two = records()[:2]
    pretty = orjson.dumps(two[0], option=orjson.OPT_INDENT_2)
    assert fast.table(pretty + b"\n" + orjson.dumps(two[1]), 2) is None
    assert fast.table(orjson.dumps(two[0]) + b"\n\n" + orjson.dumps(two[1]), 3) is None
    fast.close()


def test_the_spill_file_is_rewritten_whole_for_each_batch_and_leaves_no_name() -> None:
    fast = FastJson(lake_schema())
    big = [summary(BASE_MS + i) for i in range(2_000)]
    small = big[:3]
    assert (table := fast.table(joined(big), 2_000)) is not None and table.num_rows == 2_000
    assert (table := fast.table(joined(small), 3)) is not None
    assert table.column("event_id").to_pylist() == [r["event_id"] for r in small]
    if Path("/proc/self/fd").is_dir():  # read through its descriptor: unlinked from the start
        assert fast._spill.path.startswith("/proc/self/fd/")
    fast.close()
