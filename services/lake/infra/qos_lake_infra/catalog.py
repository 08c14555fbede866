"""The Glue tables `events` and `views` as data: columns, partition keys, projection, S3 layout.

Plain Python, shared by the stack and by the tests that create the tables through the Glue API
or on Trino, so there is one definition. The columns come from the lake's Arrow schemas
(`qos_lake.api.lake_schema`, `view_schema`), the ones the local writer uses: Athena reads files
written on AWS by Firehose and files written locally with the same tables. `views` holds a
record per view (`qos_shared.views.VIEW_FIELDS`), partitioned by its `event_time` (its close
time) as `events` is by the event's.
"""

from __future__ import annotations

import pyarrow as pa

from qos_lake.api import PARTITION_KEYS, lake_schema, view_schema

TABLE_NAME = "events"
DATA_PREFIX = "events/"
VIEWS_TABLE_NAME = "views"
VIEWS_PREFIX = "views/"
ERROR_PREFIX = "errors/"
ATHENA_RESULTS_PREFIX = "athena-results/"
# Each table's folder in the bucket.
PREFIXES = {TABLE_NAME: DATA_PREFIX, VIEWS_TABLE_NAME: VIEWS_PREFIX}

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
# The views' delivery stream: the same partitioning by the view record's event_time; its
# failures beside the events' under `errors/views/`.
FIREHOSE_VIEWS_PREFIX = FIREHOSE_PREFIX.replace(DATA_PREFIX, VIEWS_PREFIX, 1)
FIREHOSE_VIEWS_ERROR_PREFIX = FIREHOSE_ERROR_PREFIX.replace(
    ERROR_PREFIX, f"{ERROR_PREFIX}{VIEWS_TABLE_NAME}/", 1
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


def glue_columns(table: str = TABLE_NAME) -> list[dict[str, str]]:
    """A table's columns (`{"Name", "Type"}`, Glue API shape), in its schema's order."""
    schema = {TABLE_NAME: lake_schema, VIEWS_TABLE_NAME: view_schema}[table]()
    return [{"Name": f.name, "Type": glue_type(f.type)} for f in schema]


def partition_keys() -> list[dict[str, str]]:
    """`dt` (YYYY-MM-DD) and `hour` (HH) as text, as the Hive paths spell them."""
    return [{"Name": name, "Type": "string"} for name in PARTITION_KEYS]


def table_location(bucket_name: str, table: str = TABLE_NAME) -> str:
    return f"s3://{bucket_name}/{PREFIXES[table]}"


def table_parameters(
    bucket_name: str,
    *,
    projection_start: str = DEFAULT_PROJECTION_START,
    table: str = TABLE_NAME,
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
        "storage.location.template": (
            f"{table_location(bucket_name, table)}dt=${{dt}}/hour=${{hour}}/"
        ),
    }
