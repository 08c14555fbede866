"""The Flink job's SQL text, rendered from the catalogue (no pyflink needed: text only)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from qos_realtime.adapters.flink import sql, tables
from qos_realtime.domain.rows import GROUP_DIMENSIONS, MetricRow
from qos_realtime.entrypoints import flink_job as job
from qos_shared import views
from qos_shared.catalogue import CATALOGUE, EVENT_METRICS, Aggregate, Filter, fields_read, metric
from qos_shared.record_schema import column_types
from qos_shared.views import DEFAULT_RULES, VIEW_FIELDS, ViewRules

FLINK_TYPES = {"string": "STRING", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}


def test_every_catalogue_metric_is_in_the_job() -> None:
    script = sql.script("src", "sink", window_s=60)
    for m in CATALOGUE:  # over events and over the job's VIEW records
        if m.kind == "share":
            assert f"CAST('{m.name}' AS STRING) AS metric" in script
        else:
            assert f"AS `{m.name}`" in script  # its column in the window aggregation
            assert f"CAST('{m.name}' AS STRING), ARRAY[g.`{m.name}`" in script  # and its row
    assert {m.name for m in sql.GROUP_METRICS} | {m.name for m in sql.SHARE_METRICS} == {
        m.name for m in CATALOGUE
    }
    assert any(m.over_views for m in sql.GROUP_METRICS)


def test_the_window_is_a_tumbling_table_valued_function_with_grouping_sets() -> None:
    script = sql.script("src", "sink", window_s=15)
    tumbles = re.findall(
        r"TABLE\(TUMBLE\(TABLE (\w+), DESCRIPTOR\(`(\w+)`\), (INTERVAL[^)]*)\)", script
    )
    assert ("qos_window_input", "rowtime", "INTERVAL '15' SECOND") in tumbles
    # Every window reads the events and the VIEW records, or a cascaded window of them.
    assert {table for table, _, _ in tumbles}.isdisjoint(
        {"qos_records", "qos_unique_events", "qos_events", "qos_views"}
    )
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


def test_source_columns_cover_the_catalogue_and_the_views_with_the_models_types() -> None:
    types = column_types()
    columns = dict(tables.source_columns())
    assert set(columns) == set(fields_read(EVENT_METRICS)) | views.fields_read() | {
        "event_id",
        "received_at",
    }
    assert {"user_id", "viewer_country", "device_class"} <= set(columns)
    assert {name: FLINK_TYPES[types[name]] for name in columns} == columns


def test_the_windows_input_has_the_catalogues_columns_with_the_view_records_types() -> None:
    view_types = {"STRING", "BIGINT", "DOUBLE", "BOOLEAN"}
    assert set(sql.WINDOW_FIELDS) == set(fields_read(CATALOGUE))
    for name, kind in sql.WINDOW_FIELDS.items():
        assert kind in view_types
        if name in VIEW_FIELDS:
            assert VIEW_FIELDS[name] == kind, name
    assert sql.WINDOW_FIELDS["outcome"] == "STRING" and sql.WINDOW_FIELDS["score"] == "DOUBLE"
    union = sql.window_input_view()
    events, _, records = union.partition("\nUNION ALL\n")
    assert events.rstrip().endswith("FROM qos_events")
    assert records.rstrip().endswith("FROM qos_views")
    assert "CAST(NULL AS STRING) AS `outcome`" in events
    assert "CAST(NULL AS DOUBLE) AS `score`" in events
    assert "CAST(`outcome` AS STRING) AS `outcome`" in records
    assert "CAST(`score` AS DOUBLE) AS `score`" in records
    assert "CAST(NULL AS BIGINT) AS `live_latency_ms`" in records  # no such view field
    assert "CAST(`startup_latency_ms` AS BIGINT) AS `startup_latency_ms`" in records
    assert ", rowtime\nFROM qos_events" in events
    assert ", view_time AS rowtime\nFROM qos_views" in records
    for name in sql.WINDOW_FIELDS:
        assert events.count(f"AS `{name}`") == records.count(f"AS `{name}`") == 1


def test_views_are_a_session_window_per_session_and_slot() -> None:
    keyed, partials, finished = sql.view_views()
    assert keyed == (
        "CREATE TEMPORARY VIEW qos_view_keyed AS\n"
        "SELECT *, `session_id` || '/' || CAST((`event_time` - MOD(MOD(`event_time`, 14400000)"
        " + 14400000, 14400000)) AS STRING) AS view_key\nFROM qos_events\n"
        # Viewers' records only: IVS stream records make no view.
        "WHERE (`metric_type` IN ('ATTEMPT', 'PLAY', 'PLAYBACK_SUMMARY', 'QUALITY_CHANGED',"
        " 'STOP', 'ERROR'))"
    )
    assert (
        "FROM TABLE(SESSION(TABLE qos_view_keyed PARTITION BY view_key, DESCRIPTOR(rowtime),\n"
        "    INTERVAL '180.000' SECOND(3, 3)))\n"
        "GROUP BY view_key, window_start, window_end, window_time"
    ) in partials
    assert "SELECT window_time AS view_time,\n" in partials
    for partial in views.partials_sql("flink"):
        assert partial in partials
    assert partials.count("window_start") == 1  # the window's bounds are not kept: view_time is
    assert finished.startswith("CREATE TEMPORARY VIEW qos_views AS\nSELECT view_time,\n")
    assert finished.endswith("FROM qos_view_partials")
    for field in views.finish_sql("flink", DEFAULT_RULES):
        assert field in finished
    assert "CAST(`last_event_time` + 179999 AS BIGINT) AS `event_time`" in finished


def test_the_view_rules_shape_the_session_window_and_the_close_time() -> None:
    rules = ViewRules(timeout_ms=90_500, max_length_ms=3_600_000)
    keyed, partials, finished = sql.view_views(rules)
    assert "MOD(MOD(`event_time`, 3600000) + 3600000, 3600000)" in keyed
    assert "INTERVAL '90.500' SECOND(2, 3)" in partials
    assert "CAST(`last_event_time` + 90499 AS BIGINT) AS `event_time`" in finished
    script = sql.script("src", "sink", "views", window_s=60, view_rules=rules)
    assert "INTERVAL '90.500' SECOND(2, 3)" in script


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (1, "INTERVAL '0.001' SECOND(2, 3)"),
        (180_000, "INTERVAL '180.000' SECOND(3, 3)"),
        (86_400_001, "INTERVAL '86400.001' SECOND(5, 3)"),
    ],
)
def test_intervals_of_milliseconds(ms: int, text: str) -> None:
    assert sql._interval_ms(ms) == text


def test_the_views_insert_and_sink_have_the_view_records_fields() -> None:
    columns = ", ".join(f"`{c}`" for c in VIEW_FIELDS)
    assert sql.views_insert_sql("views") == (
        f"INSERT INTO `views` ({columns})\nSELECT {columns}\nFROM qos_views"
    )
    ddl = tables.kinesis_views_sink_ddl("views", stream_arn="arn:v", region="r", extra={"a": "b"})
    body = ddl.partition("(\n")[2].partition("\n) WITH")[0]
    assert [line.strip().rstrip(",") for line in body.splitlines()] == [
        f"`{c}` {t}" for c, t in VIEW_FIELDS.items()
    ]
    assert "'stream.arn' = 'arn:v'" in ddl and "'a' = 'b'" in ddl
    assert "'sink.flush-buffer.timeout' = '1000'" in ddl
    files = tables.filesystem_views_sink_ddl("views", path="/v")
    assert "'connector' = 'filesystem'" in files and "'path' = '/v'" in files
    assert sql.inserts("sink") == [sql.insert_sql("sink"), sql.late_insert_sql("sink")]
    assert sql.inserts("sink", "views") == [*sql.inserts("sink"), sql.views_insert_sql("views")]


def test_source_ddl_has_the_event_time_attribute_and_watermark() -> None:
    ddl = tables.kinesis_source_ddl(
        "events",
        stream_arn="arn:aws:kinesis:eu-west-1:1:stream/e",
        region="eu-west-1",
        allowed_lateness_s=2.5,
        init_position="TRIM_HORIZON",
    )
    assert "`rowtime` AS TO_TIMESTAMP_LTZ(`event_time`, 3)" in ddl
    # Bounded by the server's receive time (the event time where a record has none).
    assert (
        "WATERMARK FOR `rowtime` AS LEAST(`rowtime`, "
        "TO_TIMESTAMP_LTZ(COALESCE(`received_at`, `event_time`), 3)) - INTERVAL '2.500' SECOND"
    ) in ddl
    assert "`received_at` BIGINT" in ddl
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
    statements = job.file_statements("/in", "/out", "/views", window_s=10, allowed_lateness_s=1)
    assert statements[0].startswith(f"CREATE TABLE `{job.SOURCE_TABLE}`")
    assert statements[1].startswith(f"CREATE TABLE `{job.SINK_TABLE}`")
    assert statements[2].startswith(f"CREATE TABLE `{job.VIEWS_SINK_TABLE}`")
    assert all(s.startswith("CREATE TEMPORARY VIEW") for s in statements[3:-3])
    assert statements[-3:] == sql.inserts(job.SINK_TABLE, job.VIEWS_SINK_TABLE)
    assert all(s.startswith(f"INSERT INTO `{job.SINK_TABLE}`") for s in statements[-3:-1])
    assert f"FROM {sql.LATE_ROWS_VIEW}\nUNION ALL" in statements[-2]
    assert statements[-2].endswith(f"FROM {sql.DISTRIBUTION_CORRECTIONS_VIEW}")
    assert statements[-1].startswith(f"INSERT INTO `{job.VIEWS_SINK_TABLE}`")
    without = job.file_statements("/in", "/out", window_s=10, allowed_lateness_s=1)
    assert without == [*statements[:2], *statements[3:-1]]


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
    assert names[3:7] == [
        sql.VIEW_KEYS_VIEW,
        sql.VIEW_PARTIALS_VIEW,
        sql.VIEWS_VIEW,
        sql.WINDOW_INPUT_VIEW,
    ]
    assert _view(statements, sql.EVENTS_VIEW).startswith(
        f"CREATE TEMPORARY VIEW qos_events AS\nSELECT * FROM {sql.UNIQUE_VIEW}\n"
    )
    assert _view(statements, sql.LATE_VIEW).startswith(
        f"CREATE TEMPORARY VIEW qos_late_events AS\nSELECT * FROM {sql.UNIQUE_VIEW}\n"
    )
    for statement in statements:
        if "FROM src" in statement or "FROM qos_records" in statement:
            assert statement.split()[3] in {sql.RECORDS_VIEW, sql.UNIQUE_VIEW}
    # The unique records keep every field the windows and the views read, and rowtime.
    for name in [*fields_read(EVENT_METRICS), *views.fields_read(), "rowtime"]:
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
    config = job.JobConfig(
        "arn:in", "arn:out", "arn:views", "r", allowed_lateness_s=5, dedupe_ttl_s=600
    )
    assert config.table_config()["table.exec.state.ttl"] == "600 s"
    assert job.file_config(120) == {
        "pipeline.auto-watermark-interval": "0 ms",
        "table.exec.state.ttl": "120 s",
    }
    with pytest.raises(ValueError, match="lateness"):
        job.JobConfig("a", "b", "v", "r", allowed_lateness_s=5, dedupe_ttl_s=5)
    with pytest.raises(ValueError, match="maximum length"):
        job.JobConfig("a", "b", "v", "r", view_timeout_s=600, view_max_length_s=300)
    statements = job.kinesis_statements(config)
    script = job.render_script(statements, config.table_config())
    assert script.startswith(
        "SET 'table.optimizer.reuse-optimize-block-with-digest-enabled' = 'true';\n"
    )
    assert "SET 'table.exec.state.ttl' = '600 s';\n" in script
    head, _, statement_set = script.partition("EXECUTE STATEMENT SET\nBEGIN\n")
    assert "INSERT" not in head
    assert statement_set == "".join(f"{s};\n" for s in statements[-3:]) + "END;\n"
    assert "INTERVAL '180.000' SECOND(3, 3)" in script  # the default view rules
    assert f"CREATE TABLE `{job.VIEWS_SINK_TABLE}`" in head and "'stream.arn' = 'arn:views'" in head


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


def test_the_revision_horizon_property_and_its_filter() -> None:
    props = {
        "input.stream.arn": "arn:in",
        "output.stream.arn": "arn:out",
        "views.stream.arn": "arn:views",
        "aws.region": "r",
    }
    config = job.JobConfig.from_properties({job.PROPERTY_GROUP: props})
    assert config.revision_horizon_s == 600
    config = job.JobConfig.from_properties(
        {job.PROPERTY_GROUP: {**props, "revision.horizon.seconds": "90"}}
    )
    revisions = _view(job.kinesis_statements(config), sql.REVISION_VIEW)
    # Within the horizon: the window's end (start + 60 s) plus 90 s is after the watermark.
    assert revisions.endswith(
        "WHERE TO_TIMESTAMP_LTZ((`event_time` - MOD(MOD(`event_time`, 60000) + 60000, 60000)) "
        "+ 60000 + 90000, 3) > CURRENT_WATERMARK(`rowtime`)"
    )
    assert f"FROM {sql.LATE_VIEW}\n" in revisions
    off = _view(sql.statements("src", window_s=60, revision_horizon_s=0), sql.REVISION_VIEW)
    assert off.endswith("WHERE FALSE")
    with pytest.raises(ValueError, match="horizon"):
        sql.statements("src", revision_horizon_s=-1)


def test_corrections_cover_the_additive_event_metrics_only() -> None:
    kinds = {m.name: m.kind for m in CATALOGUE}
    corrected = {m.name for m in sql.CORRECTABLE_METRICS}
    assert {kinds[n] for n in corrected} == {"count", "sum", "mean", "ratio"}
    assert not corrected & {m.name for m in CATALOGUE if m.over_views}
    assert {"concurrency", "concurrent_viewers", "rendition_share"}.isdisjoint(corrected)
    script = sql.script("src", "sink")
    for correctable in sql.CORRECTABLE_METRICS:
        assert f"CAST('{correctable.name}' AS STRING), ARRAY[CAST(" in script
