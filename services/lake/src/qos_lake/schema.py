"""The lake table's Arrow schema, from the shared record schema, and records converted to it.

One typed column per known field (`qos_shared.record_schema.column_types()`), in that order;
`extra_fields` (a JSON object) is stored as JSON text. `dt` and `hour` are not columns in the
files: they are the Hive partition path (`events/dt=YYYY-MM-DD/hour=HH/`), from `event_time` in UTC.

Conversion is by columns. Keys the schema does not know are ignored and absent keys are null. A
value that does not fit its column's type becomes null and is counted rather than failing the
batch: ingest validated every record, so a misfit means a model changed under a running writer,
and losing one value is better than stalling the whole lake behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from qos_shared.record_schema import ColumnType, column_types

PARTITION_KEYS = ("dt", "hour")
TIME_COLUMN = "event_time"

# How the files lay out their rows and columns (`parquet_options`): within a file, the rows of a
# metric type, then of a session, together (in log order within a session). A session's records
# share most of their columns (platform, channel, place, device, user), so those become long runs,
# and a query's per-type and per-session work reads them in order.
SORT_COLUMNS = ("metric_type", "session_id")
# About one value per record: a dictionary would only overflow and fall back on every file. The
# times are delta-encoded (records arrive roughly in time order), the ids stored plain.
DELTA_COLUMNS = ("event_time", "received_at")
PLAIN_COLUMNS = ("event_id",)
# Min/max statistics: every number, time and flag, but of the text columns only those queries
# filter on (the others' ranges span every file, prune nothing, and cost a fifth of the writing).
FILTERED_TEXT_COLUMNS = ("metric_type", "client_platform", "channel_watched", "viewer_country")
COMPRESSION = "zstd"

_ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "json": pa.string(),
}

# The Python types each column takes as they come; anything else goes through `_coerce`.
# `bool` is excluded from the numbers on purpose: `type(True) is bool`, and True is not a count.
_FAST_TYPES: dict[ColumnType, frozenset[type]] = {
    "string": frozenset({str, type(None)}),
    "int": frozenset({int, type(None)}),
    "float": frozenset({float, int, type(None)}),
    "bool": frozenset({bool, type(None)}),
    "json": frozenset({type(None)}),
}

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def lake_schema() -> pa.Schema:
    """The schema of every Parquet file in the lake (partition keys excluded)."""
    return pa.schema([pa.field(name, _ARROW_TYPES[kind]) for name, kind in column_types().items()])


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """`pyarrow.parquet.write_table` options for a lake file of `schema`: zstd, dictionary pages
    except on the per-record columns, delta-encoded times, statistics as said above."""
    per_record = set(DELTA_COLUMNS) | set(PLAIN_COLUMNS)
    return {
        "compression": COMPRESSION,
        "use_dictionary": [f.name for f in schema if f.name not in per_record],
        "column_encoding": {
            f.name: "DELTA_BINARY_PACKED" for f in schema if f.name in DELTA_COLUMNS
        },
        "write_statistics": [
            f.name
            for f in schema
            if not pa.types.is_string(f.type) or f.name in FILTERED_TEXT_COLUMNS
        ],
    }


@dataclass(frozen=True, slots=True)
class Conversion:
    """Records as an Arrow table, and how many values had to be nulled on the way."""

    table: pa.Table
    invalid_values: int


def _as_string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and _INT64_MIN <= value <= _INT64_MAX:
        return value
    # A whole float (3.0) is an int that went through a JSON encoder that writes floats.
    if isinstance(value, float) and value.is_integer() and _INT64_MIN <= value <= _INT64_MAX:
        return int(value)
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # an int beyond float's range
            return None
    return None


def _as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _as_json(value: Any) -> str | None:
    if isinstance(value, dict | list):
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # not JSON-serialisable (cannot come from parsed JSON)
            return None
    return None


_COERCE: dict[ColumnType, Callable[[Any], Any]] = {
    "string": _as_string,
    "int": _as_int,
    "float": _as_float,
    "bool": _as_bool,
    "json": _as_json,
}


def _column(values: list[Any], kind: ColumnType) -> tuple[pa.Array, int]:
    arrow_type = _ARROW_TYPES[kind]
    if set(map(type, values)) <= _FAST_TYPES[kind]:
        try:
            return pa.array(values, type=arrow_type), 0
        except (pa.ArrowInvalid, OverflowError):
            pass  # e.g. an int beyond int64: the slow path nulls just that value
    coerce = _COERCE[kind]
    coerced = [None if v is None else coerce(v) for v in values]
    invalid = sum(1 for v, c in zip(values, coerced, strict=True) if v is not None and c is None)
    return pa.array(coerced, type=arrow_type), invalid


def to_table(records: Sequence[Mapping[str, Any]], schema: pa.Schema | None = None) -> Conversion:
    """Records (flat JSON objects) as a table of `schema` (the lake schema by default)."""
    schema = schema or lake_schema()
    kinds = column_types()
    arrays: list[pa.Array] = []
    invalid = 0
    # One pass over each record's own keys (about a third of the columns are set in a record),
    # rather than one lookup per column per record: the writer's hottest loop.
    columns: dict[str, list[Any]] = {name: [None] * len(records) for name in schema.names}
    for i, record in enumerate(records):
        for key, value in record.items():
            column = columns.get(key)
            if column is not None:
                column[i] = value
    for field in schema:
        array, misfits = _column(columns[field.name], kinds[field.name])
        arrays.append(array)
        invalid += misfits
    return Conversion(pa.Table.from_arrays(arrays, schema=schema), invalid)
