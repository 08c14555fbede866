"""The Flink job's SQL text, rendered from the catalogue (no pyflink needed: text only)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from qos_realtime.adapters.flink import sql, tables
from qos_realtime.domain.rows import GROUP_DIMENSIONS, MetricRow
from qos_realtime.entrypoints import flink_job as job
from qos_shared.catalogue import CATALOGUE, Aggregate, Filter, fields_read, metric
from qos_shared.record_schema import column_types

FLINK_TYPES = {"string": "STRING", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}


def test_every_catalogue_metric_is_in_the_job() -> None:
    script = sql.script("src", "sink", window_s=60)
    for m in CATALOGUE:
        if m.kind == "share":
            assert f"CAST('{m.name}' AS STRING) AS metric" in script
        else:
            assert f"AS `{m.name}`" in script  # its column in the window aggregation
            assert f"CAST('{m.name}' AS STRING), g.`{m.name}`" in script  # and its row
    assert {m.name for m in sql.GROUP_METRICS} | {m.name for m in sql.SHARE_METRICS} == {
        m.name for m in CATALOGUE
    }


def test_the_window_is_a_tumbling_table_valued_function_with_grouping_sets() -> None:
    script = sql.script("src", "sink", window_s=15)
    tumbles = re.findall(
        r"TABLE\(TUMBLE\(TABLE (\w+), DESCRIPTOR\(`(\w+)`\), (INTERVAL[^)]*)\)", script
    )
    assert ("qos_events", "rowtime", "INTERVAL '15' SECOND") in tumbles
    # The cascaded share aggregation windows the parts' window_time with the same size.
    assert all(interval == "INTERVAL '15' SECOND" for _, _, interval in tumbles)
    assert script.count("GROUPING SETS ((), (`client_platform`), (`channel_watched`))") == 1 + len(
        sql.SHARE_METRICS
    )
    assert "FROM src\nWHERE `event_time` IS NOT NULL" in script


def test_flink_dialect_throughout() -> None:
    script = sql.script("src", "sink")
    assert '"' not in script  # identifiers are back-quoted in Flink SQL, never double-quoted
    assert "PERCENTILE(" in script and "quantile_cont" not in script
    assert "FILTER (WHERE" not in script


def test_the_rows_have_metric_rows_columns() -> None:
    assert [c for c, _ in sql.ROW_COLUMNS] == [f.name for f in dataclasses.fields(MetricRow)]
    assert sql.GROUP_DIMENSIONS == GROUP_DIMENSIONS
    insert = sql.insert_sql("sink")
    assert insert.startswith("INSERT INTO `sink` (`window_start`, `window_end`, `metric`")
    assert insert.endswith(f"FROM {sql.ROWS_VIEW}")


def test_source_columns_cover_the_catalogue_with_the_models_types() -> None:
    types = column_types()
    columns = dict(tables.source_columns())
    assert set(columns) == set(fields_read())
    assert {name: FLINK_TYPES[types[name]] for name in columns} == columns


def test_source_ddl_has_the_event_time_attribute_and_watermark() -> None:
    ddl = tables.kinesis_source_ddl(
        "events",
        stream_arn="arn:aws:kinesis:eu-west-1:1:stream/e",
        region="eu-west-1",
        allowed_lateness_s=2.5,
        init_position="TRIM_HORIZON",
    )
    assert "`rowtime` AS TO_TIMESTAMP_LTZ(`event_time`, 3)" in ddl
    assert "WATERMARK FOR `rowtime` AS `rowtime` - INTERVAL '2.500' SECOND" in ddl
    assert "'connector' = 'kinesis'" in ddl
    assert "'source.init.position' = 'TRIM_HORIZON'" in ddl
    assert "'format' = 'json'" in ddl
    with pytest.raises(ValueError, match="negative"):
        tables.filesystem_source_ddl("e", path="/x", allowed_lateness_s=-1)


def test_sink_ddl_and_option_quoting() -> None:
    ddl = tables.kinesis_sink_ddl("out", stream_arn="arn:o'dd", region="r")
    assert "`value` DOUBLE" in ddl and "`final` BOOLEAN" in ddl
    assert "'stream.arn' = 'arn:o''dd'" in ddl


def test_job_statements_put_the_ddl_first_and_the_insert_last() -> None:
    statements = job.file_statements("/in", "/out", window_s=10, allowed_lateness_s=1)
    assert statements[0].startswith(f"CREATE TABLE `{job.SOURCE_TABLE}`")
    assert statements[1].startswith(f"CREATE TABLE `{job.SINK_TABLE}`")
    assert all(s.startswith("CREATE TEMPORARY VIEW") for s in statements[2:-1])
    assert statements[-1].startswith(f"INSERT INTO `{job.SINK_TABLE}`")


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="window_s"):
        sql.statements("src", window_s=0)
    with pytest.raises(ValueError, match="identifier"):
        sql.statements("src; DROP TABLE x", window_s=60)
    share = metric("rendition_share")
    other = Aggregate("sum", Filter.of("PLAYBACK_SUMMARY"), share.numerator.value)
    with pytest.raises(ValueError, match="same"):
        sql.share_views(dataclasses.replace(share, denominator=other), 60)
    with pytest.raises(ValueError, match="not a share"):
        sql.share_views(metric("plays"), 60)
