"""The lake's public surface: the only module of `qos_lake` that other packages may import.

Writing: `write_log` (what the log holds, into the lake, once), `LakeWriter` (a consumer of the
event log; `add` buffers a batch as `poll` does after its read, `flush` commits) and `compact`.
Reading: `LakeReader` (named queries as JSON rows, known dimensions, sessions and timelines with
the log's unflushed tail) and `run_query` (a named query's rows, as `qos-lake query` runs it).
The named queries and their parameters, the tables' schemas (for the Glue tables) and the live files
(what a reader counts) are here for the deploy code, the dashboard and the benchmarks.
"""

from __future__ import annotations

import pyarrow as pa

from qos_lake.adapters.arrow import lake_schema, table_schema
from qos_lake.adapters.compaction import PartitionCompaction
from qos_lake.adapters.duckdb_query import QueryResult, duckdb_sql
from qos_lake.adapters.files import live_dataset_files
from qos_lake.adapters.scan import column_bytes, query_columns
from qos_lake.bootstrap import build_reader, build_writer
from qos_lake.domain.errors import (
    CompactBusy,
    EmptyLake,
    LakeBusy,
    LakeChanged,
    LakeQueryError,
    NoDataInRange,
)
from qos_lake.domain.layout import VIEWS
from qos_lake.domain.named_query import NamedQuery
from qos_lake.domain.queries import (
    PARAMETERS,
    PLACEHOLDERS,
    QUERIES,
    Parameter,
    QueryParams,
    UnknownQuery,
    named_query,
)
from qos_lake.domain.schema import PARTITION_KEYS, TIME_COLUMN
from qos_lake.entrypoints.cli import main as cli_main
from qos_lake.service import (
    CONSUMER,
    TAIL_CAP,
    FlushResult,
    LakeAnswer,
    LakeReader,
    LakeWriter,
    Recovery,
    Sessions,
    Timeline,
    WriterConfig,
    compact,
    run_query,
    write_log,
)
from qos_lake.settings import LakeSettings


def view_schema() -> pa.Schema:
    """The schema of every Parquet file of the `views` table (partition keys excluded)."""
    return table_schema(VIEWS)


__all__ = [
    "CONSUMER",
    "PARAMETERS",
    "PARTITION_KEYS",
    "PLACEHOLDERS",
    "QUERIES",
    "TAIL_CAP",
    "TIME_COLUMN",
    "CompactBusy",
    "EmptyLake",
    "FlushResult",
    "LakeAnswer",
    "LakeBusy",
    "LakeChanged",
    "LakeQueryError",
    "LakeReader",
    "LakeSettings",
    "LakeWriter",
    "NamedQuery",
    "NoDataInRange",
    "Parameter",
    "PartitionCompaction",
    "QueryParams",
    "QueryResult",
    "Recovery",
    "Sessions",
    "Timeline",
    "UnknownQuery",
    "WriterConfig",
    "build_reader",
    "build_writer",
    "cli_main",
    "column_bytes",
    "compact",
    "duckdb_sql",
    "lake_schema",
    "live_dataset_files",
    "named_query",
    "query_columns",
    "run_query",
    "view_schema",
    "write_log",
]
