"""The lake schema follows the shared record schema; misfit values become null and are counted."""

from __future__ import annotations

import orjson
import pyarrow as pa

from qos_lake.adapters.arrow import lake_schema, to_table
from qos_lake.api import view_schema
from qos_lake.domain.schema import PARTITION_KEYS, view_columns
from qos_shared.record_schema import column_types
from qos_shared.views import VIEW_FIELDS

ARROW = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "json": pa.string(),
}


def test_one_typed_column_per_known_field_and_no_partition_columns() -> None:
    schema = lake_schema()
    expected = column_types()
    assert schema.names == list(expected)
    for name, kind in expected.items():
        assert schema.field(name).type == ARROW[kind], name
    assert not set(PARTITION_KEYS) & set(schema.names)
    assert schema.field("extra_fields").type == pa.string()


def test_the_views_table_has_one_typed_column_per_view_field_in_order() -> None:
    want = {"STRING": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64()}
    want["BOOLEAN"] = pa.bool_()
    schema = view_schema()
    assert schema.names == list(VIEW_FIELDS) == list(view_columns())
    for name, kind in VIEW_FIELDS.items():
        assert schema.field(name).type == want[kind], name
    assert not set(PARTITION_KEYS) & set(schema.names)


def test_a_view_record_converts_with_the_views_columns() -> None:
    view = {name: None for name in VIEW_FIELDS} | {
        "event_id": "view:s:1",
        "event_time": 179_999,
        "score": 87.5,
        "stopped": True,
        "records": 3,
    }
    conversion = to_table([view, {**view, "records": "three"}], view_schema(), view_columns())
    rows = conversion.table.to_pylist()
    assert rows[0] == view
    assert rows[1]["records"] is None and conversion.invalid_values == 1


def test_unknown_keys_ignored_missing_keys_null_extra_fields_as_json_text() -> None:
    extra = {"ab_test": "b", "nested": {"x": [1, 2]}}
    conversion = to_table(
        [
            {"event_id": "a", "event_time": 5, "is_live": True, "surprise": 1},
            {"event_id": "b", "viewer_latitude": 3, "extra_fields": extra},
        ]
    )
    rows = conversion.table.to_pylist()
    assert conversion.invalid_values == 0
    assert "surprise" not in conversion.table.schema.names
    assert rows[0]["event_time"] == 5 and rows[0]["is_live"] is True
    assert rows[0]["viewer_latitude"] is None and rows[0]["extra_fields"] is None
    assert rows[1]["event_time"] is None and rows[1]["is_live"] is None
    assert rows[1]["viewer_latitude"] == 3.0  # an int is a fine float
    assert orjson.loads(rows[1]["extra_fields"]) == extra


def test_values_that_do_not_fit_become_null_and_are_counted() -> None:
    conversion = to_table(
        [
            {"event_id": "ok", "buffering_count": 2, "is_live": False, "bitrate_bps": 4.0},
            {"event_id": 7, "buffering_count": True, "is_live": 1, "bitrate_bps": 2**70},
            {"event_id": "x", "buffering_count": "3", "viewer_latitude": "48.8"},
            {"event_id": "y", "extra_fields": "not an object", "playing_time_ms": 1.5},
        ]
    )
    rows = conversion.table.to_pylist()
    assert rows[0]["buffering_count"] == 2 and rows[0]["is_live"] is False
    assert rows[0]["bitrate_bps"] == 4  # a whole float in an int column is that int
    assert [r["event_id"] for r in rows] == ["ok", None, "x", "y"]
    assert rows[1]["buffering_count"] is None and rows[1]["is_live"] is None
    assert rows[1]["bitrate_bps"] is None  # beyond int64
    assert rows[2]["buffering_count"] is None and rows[2]["viewer_latitude"] is None
    assert rows[3]["extra_fields"] is None and rows[3]["playing_time_ms"] is None
    assert conversion.invalid_values == 8


def test_no_records_is_an_empty_table_of_the_schema() -> None:
    conversion = to_table([])
    assert conversion.table.num_rows == 0
    assert conversion.table.schema == lake_schema()
