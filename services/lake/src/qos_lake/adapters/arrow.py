"""The lake's Arrow schema and Parquet options, and records or log batches converted to Arrow.

The columns are `domain.schema`'s. Conversion is by columns. Keys the schema does not know are
ignored and absent keys are null. A value that does not fit its column's type becomes null and is
counted rather than failing the batch: ingest validated every record, so a misfit means a model
changed under a running writer, and losing one value is better than stalling the whole lake
behind it.

A writer's batch of log records goes through `BatchConverter`: DuckDB's JSON reader first
(`fast_json`, exact for what ingest stores), the per-record Python path (`to_table`) when DuckDB
steps aside or a time is not usable, each row tagged with its partition's hour bucket.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from qos_lake.adapters.fast_json import FastJson
from qos_lake.domain.layout import Table
from qos_lake.domain.schema import (
    COMPRESSION,
    DELTA_COLUMNS,
    FILTERED_TEXT_COLUMNS,
    PLAIN_COLUMNS,
    SORT_COLUMNS,
    TIME_COLUMN,
    lake_columns,
    table_columns,
)
from qos_shared.eventlog import JoinedRecords
from qos_shared.eventtime import HOUR_MS, MAX_EVENT_MS
from qos_shared.record_schema import ColumnType

BUCKET = "__hour_bucket"  # the partition of each converted row; dropped before writing

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
    """The schema of every Parquet file of the `events` table (partition keys excluded)."""
    return arrow_schema(lake_columns())


def arrow_schema(columns: Mapping[str, ColumnType]) -> pa.Schema:
    """Columns and their kinds as an Arrow schema."""
    return pa.schema([pa.field(name, _ARROW_TYPES[kind]) for name, kind in columns.items()])


def table_schema(table: Table) -> pa.Schema:
    """The schema of every Parquet file of a table (partition keys excluded)."""
    return arrow_schema(table_columns(table))


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """`pyarrow.parquet.write_table` options for a lake file of `schema`: zstd, dictionary pages
    except on the per-record columns, delta-encoded times, statistics as `domain.schema` says."""
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


def to_table(
    records: Sequence[Mapping[str, Any]],
    schema: pa.Schema | None = None,
    kinds: Mapping[str, ColumnType] | None = None,
) -> Conversion:
    """Records (flat JSON objects) as a table of `schema` whose columns are of `kinds` (the
    `events` table's by default)."""
    schema = schema or lake_schema()
    kinds = kinds or lake_columns()
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


@dataclass(frozen=True, slots=True)
class Converted:
    """A batch as Arrow: the lake columns and `BUCKET`, and what had to be dropped or nulled."""

    table: pa.Table
    invalid_values: int
    unreadable: int


# The batch's records again, one by one, for the Python path: (records, their log times in ms,
# how many were not JSON objects).
Reread = Callable[[JoinedRecords], tuple[list[dict[str, Any]], list[int], int]]


class BatchConverter:
    """Log batches as Arrow tables with their hour buckets; one `FastJson` per worker thread."""

    def __init__(
        self,
        schema: pa.Schema,
        workers: int,
        reread: Reread,
        kinds: Mapping[str, ColumnType] | None = None,
    ) -> None:
        self.schema = schema
        self.kinds = dict(kinds or lake_columns())
        self._reread = reread
        self._parser_list = [FastJson(schema, self.kinds) for _ in range(workers)]
        self._parsers: queue.SimpleQueue[FastJson] = queue.SimpleQueue()
        for parser in self._parser_list:
            self._parsers.put(parser)

    def convert(self, batch: JoinedRecords) -> Converted:
        """One batch by DuckDB, or by the Python path if DuckDB steps aside (on a worker): that
        path reads the batch's records again, one by one, for their log times."""
        parser = self._parsers.get()
        try:
            fast = parser.table(batch.data, batch.record_count)
        finally:
            self._parsers.put(parser)
        if fast is not None:
            event_time = fast.column(TIME_COLUMN)
            if event_time.null_count == 0 and pc.all(usable(event_time)).as_py():
                table = fast.append_column(BUCKET, pc.divide(event_time, HOUR_MS))
                return Converted(table, 0, 0)
        records, appended_at, unreadable = self._reread(batch)
        conversion = to_table(records, self.schema, self.kinds)
        table = conversion.table.append_column(BUCKET, hour_buckets(conversion.table, appended_at))
        return Converted(table, conversion.invalid_values, unreadable)

    def close(self) -> None:
        for parser in self._parser_list:
            parser.close()
        self._parser_list = []


def usable(event_time: pa.ChunkedArray) -> pa.ChunkedArray:
    """Whether each event_time is usable (`qos_shared.eventtime.is_usable`, vectorised: the
    column is int64, so no bool to exclude); null where it is null."""
    return pc.and_(pc.greater_equal(event_time, 0), pc.less(event_time, MAX_EVENT_MS))


def hour_buckets(table: pa.Table, appended_at: list[int]) -> pa.ChunkedArray:
    """Hours since the epoch (UTC) of each row's event_time, or of its log time if unusable."""
    event_time = table.column(TIME_COLUMN)
    is_usable = pc.fill_null(usable(event_time), False)
    when = pc.if_else(is_usable, event_time, pa.chunked_array([pa.array(appended_at, pa.int64())]))
    return pc.divide(when, HOUR_MS)


def file_order(table: pa.Table) -> pa.Array:
    """Row indices putting the rows in partition order and each partition's rows in file order
    (`domain.schema.SORT_COLUMNS`): a stable sort on the hour bucket, then on one integer key that
    numbers the `SORT_COLUMNS` values in order of first appearance (grouping them is what counts,
    not their alphabetical order; nulls last)."""
    key: pa.Array | None = None
    for name in SORT_COLUMNS:
        codes = pc.dictionary_encode(table.column(name).combine_chunks())
        size = len(codes.dictionary) + 1
        index = pc.fill_null(pc.cast(codes.indices, pa.int64()), size - 1)
        key = index if key is None else pc.add_checked(pc.multiply_checked(key, size), index)
    # Mixed radix: at most (records + 1) ** len(SORT_COLUMNS), far within int64 for a flush.
    order = pa.table({"bucket": table.column(BUCKET), "key": key})
    return pc.sort_indices(order, sort_keys=[("bucket", "ascending"), ("key", "ascending")])
