"""The Flink job's SQL text, rendered from the catalogue (no pyflink needed: text only)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from qos_realtime.adapters.flink import sql, tables
from qos_realtime.domain.rows import GROUP_DIMENSIONS, MetricRow
from qos_realtime.entrypoints import flink_job as job
from qos_shared.catalogue import EVENT_METRICS, Aggregate, Filter, fields_read, metric
from qos_shared.record_schema import column_types

FLINK_TYPES = {"string": "STRING", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}


def test_every_catalogue_metric_is_in_the_job() -> None:
    script = sql.script("src", "sink", window_s=60)
    for m in EVENT_METRICS:  # the job builds no views yet
        if m.kind == "share":
            assert f"CAST('{m.name}' AS STRING) AS metric" in script
        else:
            assert f"AS `{m.name}`" in script  # its column in the window aggregation
            assert f"CAST('{m.name}' AS STRING), g.`{m.name}`" in script  # and its row
    assert {m.name for m in sql.GROUP_METRICS} | {m.name for m in sql.SHARE_METRICS} == {
        m.name for m in EVENT_METRICS
    }


def test_the_window_is_a_tumbling_table_valued_function_with_grouping_sets() -> None:
    script = sql.script("src", "sink", window_s=15)
    tumbles = re.findall(
        r"TABLE\(TUMBLE\(TABLE (\w+), DESCRIPTOR\(`(\w+)`\), (INTERVAL[^)]*)\)", script
    )
    assert ("qos_events", "rowtime", "INTERVAL '15' SECOND") in tumbles
    assert {table for table, _, _ in tumbles}.isdisjoint({"qos_records", "qos_unique_events"})
    # The cascaded share aggregation windows the parts' window_time with the same size.
    assert all(interval == "INTERVAL '15' SECOND" for _, _, interval in tumbles)
    assert script.count("GROUPING SETS ((), (`client_platform`), (`channel_watched`))") == 1 + len(
        sql.SHARE_METRICS
    )
    assert "FROM src\nWHERE `event_time` IS NOT NULL AND `event_id` IS NOT NULL" in script


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
    assert set(columns) == set(fields_read(EVENT_METRICS)) | {"event_id"}
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
    assert "`event_id` STRING" in ddl and "`proctime` AS PROCTIME()" in ddl
    with pytest.raises(ValueError, match="negative"):
        tables.filesystem_source_ddl("e", path="/x", allowed_lateness_s=-1)


def test_sink_ddl_and_option_quoting() -> None:
    ddl = tables.kinesis_sink_ddl("out", stream_arn="arn:o'dd", region="r")
    assert "`value` DOUBLE" in ddl and "`final` BOOLEAN" in ddl
    assert "'stream.arn' = 'arn:o''dd'" in ddl


def test_job_statements_put_the_ddl_first_and_the_inserts_last() -> None:
    statements = job.file_statements("/in", "/out", window_s=10, allowed_lateness_s=1)
    assert statements[0].startswith(f"CREATE TABLE `{job.SOURCE_TABLE}`")
    assert statements[1].startswith(f"CREATE TABLE `{job.SINK_TABLE}`")
    assert all(s.startswith("CREATE TEMPORARY VIEW") for s in statements[2:-2])
    assert statements[-2:] == sql.inserts(job.SINK_TABLE)
    assert all(s.startswith(f"INSERT INTO `{job.SINK_TABLE}`") for s in statements[-2:])
    assert statements[-1].endswith(f"FROM {sql.LATE_ROWS_VIEW}")


def _view(statements: list[str], name: str) -> str:
    (found,) = [s for s in statements if s.startswith(f"CREATE TEMPORARY VIEW {name} AS\n")]
    return found


def test_duplicates_are_dropped_before_any_window() -> None:
    statements = sql.statements("src", window_s=30)
    names = [s.split()[3] for s in statements]
    unique = _view(statements, sql.UNIQUE_VIEW)
    # Flink's keep-first deduplication: the exact pattern its planner recognises.
    assert re.search(
        r"ROW_NUMBER\(\) OVER \(PARTITION BY `event_id` ORDER BY `proctime` ASC\)\s+AS row_num",
        unique,
    )
    assert unique.rstrip().endswith("WHERE row_num = 1")
    assert "FROM qos_records" in unique
    # The deduplicated records come before every other view, and only they feed the windows.
    assert names[:3] == [sql.RECORDS_VIEW, sql.UNIQUE_VIEW, sql.EVENTS_VIEW]
    assert _view(statements, sql.EVENTS_VIEW).startswith(
        f"CREATE TEMPORARY VIEW qos_events AS\nSELECT * FROM {sql.UNIQUE_VIEW}\n"
    )
    assert _view(statements, sql.LATE_VIEW).startswith(
        f"CREATE TEMPORARY VIEW qos_late_events AS\nSELECT * FROM {sql.UNIQUE_VIEW}\n"
    )
    for statement in statements:
        if "FROM src" in statement or "FROM qos_records" in statement:
            assert statement.split()[3] in {sql.RECORDS_VIEW, sql.UNIQUE_VIEW}
    # The unique records keep every field the windows read, and rowtime.
    for name in [*fields_read(EVENT_METRICS), "rowtime"]:
        assert f"`{name}`" in unique.split("FROM")[0]


def test_late_records_are_split_off_by_the_window_operators_rule() -> None:
    statements = sql.statements("src", window_s=30)
    late = sql.late_sql(30)
    window_start = "(`event_time` - MOD(MOD(`event_time`, 30000) + 30000, 30000))"
    assert late == (
        "(CURRENT_WATERMARK(`rowtime`) IS NOT NULL AND "
        f"TO_TIMESTAMP_LTZ({window_start} + 29999, 3) <= CURRENT_WATERMARK(`rowtime`))"
    )
    assert _view(statements, sql.EVENTS_VIEW).endswith(f"WHERE NOT {late}")
    assert _view(statements, sql.LATE_VIEW).endswith(f"WHERE {late}")
    rows = _view(statements, sql.LATE_ROWS_VIEW)
    assert f"SELECT {window_start} AS window_start" in rows
    assert f"{window_start} + 30000 AS window_end" in rows
    assert "CAST('late_events' AS STRING) AS metric" in rows
    assert "CAST('all' AS STRING) AS dimension" in rows
    assert "CAST(1 AS DOUBLE) AS `value`" in rows
    assert rows.endswith(f"FROM {sql.LATE_VIEW}")
    insert = sql.late_insert_sql("sink")
    assert insert.startswith("INSERT INTO `sink` (`window_start`, `window_end`, `metric`")
    assert "CAST(NULL AS ARRAY<DOUBLE>) AS `values`" in insert


def _window_start(event_time: int, window_ms: int) -> int:
    # The SQL's expression, evaluated: MOD takes the dividend's sign, as Java's % does.
    def mod(a: int, b: int) -> int:
        return a - b * int(a / b)

    return event_time - mod(mod(event_time, window_ms) + window_ms, window_ms)


@pytest.mark.parametrize("event_time", [0, 1, 29_999, 30_000, 1_796_000_012_345, -1, -30_001])
def test_the_late_rows_window_is_the_tumbling_windows(event_time: int) -> None:
    start = _window_start(event_time, 30_000)
    assert start <= event_time < start + 30_000 and start % 30_000 == 0


def test_the_job_settings_and_the_print_sql_script() -> None:
    config = job.JobConfig("arn:in", "arn:out", "r", allowed_lateness_s=5, dedupe_ttl_s=600)
    assert config.table_config()["table.exec.state.ttl"] == "600 s"
    assert job.file_config(120) == {
        "pipeline.auto-watermark-interval": "0 ms",
        "table.exec.state.ttl": "120 s",
    }
    with pytest.raises(ValueError, match="lateness"):
        job.JobConfig("a", "b", "r", allowed_lateness_s=5, dedupe_ttl_s=5)
    statements = job.kinesis_statements(config)
    script = job.render_script(statements, config.table_config())
    assert script.startswith(
        "SET 'table.optimizer.reuse-optimize-block-with-digest-enabled' = 'true';\n"
    )
    assert "SET 'table.exec.state.ttl' = '600 s';\n" in script
    head, _, statement_set = script.partition("EXECUTE STATEMENT SET\nBEGIN\n")
    assert "INSERT" not in head
    assert statement_set == "".join(f"{s};\n" for s in statements[-2:]) + "END;\n"


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


class _FakeStatementSet:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def add_insert_sql(self, statement: str) -> None:
        self.log.append(f"set: {statement}")

    def execute(self) -> str:
        self.log.append("execute")
        return "result"


class _FakeEnvironment:
    def __init__(self) -> None:
        self.log: list[str] = []

    def execute_sql(self, statement: str) -> None:
        self.log.append(f"sql: {statement}")

    def create_statement_set(self) -> _FakeStatementSet:
        return _FakeStatementSet(self.log)


def test_submit_runs_the_inserts_as_one_statement_set() -> None:
    statements = job.file_statements("/in", "/out", window_s=10)
    env = _FakeEnvironment()
    assert job.submit(env, statements) == "result"
    assert env.log == [
        *(f"sql: {s}" for s in statements[:-2]),
        *(f"set: {s}" for s in statements[-2:]),
        "execute",
    ]
    with pytest.raises(ValueError, match="INSERT"):
        job.submit(_FakeEnvironment(), statements[:-2])
