"""The Glue table `events` as data: columns, partition keys, projection, S3 layout.

Plain Python, shared by the stack and by the tests that create the table through the Glue API,
so there is one definition. The columns come from the lake's Arrow schema
(`qos_lake.api.lake_schema`), the one the local writer uses: Athena reads files written on
AWS by Firehose and files written locally with the same table.
"""

from __future__ import annotations

import pyarrow as pa

from qos_lake.api import PARTITION_KEYS, lake_schema

TABLE_NAME = "events"
DATA_PREFIX = "events/"
ERROR_PREFIX = "errors/"
ATHENA_RESULTS_PREFIX = "athena-results/"

# Firehose's S3 keys: the record's event time (UTC), in the lake's dt=/hour= layout, as the
# local writer files it. Firehose's dynamic partitioning evaluates this jq (1.6) query on each
# record; a record it cannot partition (no numeric `event_time`) goes under the error prefix,
# filed by the hour Firehose received it.
PARTITION_KEY_QUERY = (
    '{dt: (.event_time / 1000 | floor | strftime("%Y-%m-%d")), '
    'hour: (.event_time / 1000 | floor | strftime("%H"))}'
)
JQ_ENGINE = "JQ-1.6"
FIREHOSE_PREFIX = (
    f"{DATA_PREFIX}dt=!{{partitionKeyFromQuery:dt}}/hour=!{{partitionKeyFromQuery:hour}}/"
)
FIREHOSE_ERROR_PREFIX = (
    f"{ERROR_PREFIX}!{{firehose:error-output-type}}/dt=!{{timestamp:yyyy-MM-dd}}/"
)

PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

DEFAULT_PROJECTION_START = "NOW-3YEARS"


def glue_type(arrow_type: pa.DataType) -> str:
    """The Hive/Glue type of an Arrow column type of the lake schema."""
    if pa.types.is_string(arrow_type):
        return "string"
    if pa.types.is_int64(arrow_type):
        return "bigint"
    if pa.types.is_float64(arrow_type):
        return "double"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    raise ValueError(f"no Glue type for Arrow type {arrow_type}")


def glue_columns() -> list[dict[str, str]]:
    """The table's columns (`{"Name", "Type"}`, Glue API shape), in the lake schema's order."""
    return [{"Name": f.name, "Type": glue_type(f.type)} for f in lake_schema()]


def partition_keys() -> list[dict[str, str]]:
    """`dt` (YYYY-MM-DD) and `hour` (HH) as text, as the Hive paths spell them."""
    return [{"Name": name, "Type": "string"} for name in PARTITION_KEYS]


def table_location(bucket_name: str) -> str:
    return f"s3://{bucket_name}/{DATA_PREFIX}"


def table_parameters(
    bucket_name: str, *, projection_start: str = DEFAULT_PROJECTION_START
) -> dict[str, str]:
    """Partition projection: Athena computes the partitions, nothing registers them.

    `projection_start` is the oldest day queries can see: a date (`2025-01-01`) or relative to
    today (`NOW-3YEARS`); the range ends today.
    """
    return {
        "classification": "parquet",
        "EXTERNAL": "TRUE",
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": f"{projection_start},NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "projection.hour.type": "integer",
        "projection.hour.range": "0,23",
        "projection.hour.digits": "2",
        "storage.location.template": f"{table_location(bucket_name)}dt=${{dt}}/hour=${{hour}}/",
    }
