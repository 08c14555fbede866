"""The writer's DuckDB fast path gives the table the Python path gives, or steps aside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from qos_lake.fast_json import FastJson
from qos_lake.schema import lake_schema, to_table

from ..lake import BASE_MS, summary


def records() -> list[dict[str, Any]]:
    return [
        summary(BASE_MS + 1, extra_fields={"ab": "b", "n": [1, 2]}, viewer_latitude=53.3),
        summary(BASE_MS + 2, bitrate_bps=3_000_000, is_final=True),
        {**summary(BASE_MS + 3), "metric_type": "PLAY", "startup_latency_ms": 900},
        {**summary(BASE_MS + 4), "surprise": {"not": "a column"}},
    ]


def test_fast_path_equals_the_python_path() -> None:
    given = records()
    fast = FastJson(lake_schema())
    table = fast.table([orjson.dumps(r) for r in given])
    assert table is not None
    assert table.to_pylist() == to_table(given).table.to_pylist()
    fast.close()


def test_a_misfit_value_or_a_non_object_leaves_the_batch_to_the_python_path() -> None:
    fast = FastJson(lake_schema())
    misfit = [orjson.dumps(r) for r in records()]
    misfit[1] = orjson.dumps({**records()[1], "playing_time_ms": "a lot"})
    assert fast.table(misfit) is None
    assert fast.table([orjson.dumps(records()[0]), b"[1, 2]"]) is None
    assert fast.table([b"{not json"]) is None
    fast.close()


def test_the_spill_file_is_rewritten_whole_for_each_batch_and_leaves_no_name() -> None:
    fast = FastJson(lake_schema())
    big = [orjson.dumps(summary(BASE_MS + i)) for i in range(2_000)]
    small = big[:3]
    assert (table := fast.table(big)) is not None and table.num_rows == 2_000
    assert (table := fast.table(small)) is not None
    assert table.column("event_id").to_pylist() == [orjson.loads(r)["event_id"] for r in small]
    if Path("/proc/self/fd").is_dir():  # read through its descriptor: unlinked from the start
        assert fast._spill.path.startswith("/proc/self/fd/")
    fast.close()


def test_joined_text_gives_the_table_of_the_list_or_steps_aside() -> None:
    fast = FastJson(lake_schema())
    given = records()
    lines = [orjson.dumps(r) for r in given]
    joined = fast.table_joined(b"\n".join(lines), len(lines))
    assert joined is not None
    assert joined.to_pylist() == to_table(given).table.to_pylist()
    # A record spread over two lines, or an empty one, changes the row count: the Python path.
    pretty = orjson.dumps(given[0], option=orjson.OPT_INDENT_2)
    assert fast.table_joined(b"\n".join([pretty, lines[1]]), 2) is None
    assert fast.table_joined(b"\n".join([lines[0], b"", lines[1]]), 3) is None
    # A shorter batch after a longer one: nothing of the longer one is read again.
    assert (short := fast.table_joined(lines[2], 1)) is not None
    assert short.column("event_id").to_pylist() == [given[2]["event_id"]]
    fast.close()
