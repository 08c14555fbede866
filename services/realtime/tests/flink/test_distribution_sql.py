"""The distribution rows' SQL text and the sink that takes both row types (no pyflink needed)."""

from __future__ import annotations

import dataclasses
import re

from qos_realtime.adapters.flink import sql, tables
from qos_realtime.domain.distributions import DistributionRow, distribution_sources
from qos_realtime.domain.rows import MetricRow
from qos_realtime.entrypoints import flink_job as job

KINESIS_RECORD_BYTES = 1024 * 1024
# The longest JSON Flink writes for a DOUBLE (Java's Double.toString) and for a BIGINT.
LONGEST_DOUBLE = "-9.223372036854776E18"
LONGEST_BIGINT = str(-(2**63))


def test_the_distribution_columns_are_distribution_rows_fields() -> None:
    assert [c for c, _ in sql.DISTRIBUTION_COLUMNS] == [
        f.name for f in dataclasses.fields(DistributionRow)
    ]


def test_the_sink_has_both_row_types_columns() -> None:
    metric = [f.name for f in dataclasses.fields(MetricRow)]
    distribution = [f.name for f in dataclasses.fields(DistributionRow)]
    columns = [c for c, _ in sql.SINK_COLUMNS]
    assert columns == metric + [c for c in distribution if c not in metric]
    types = dict(sql.SINK_COLUMNS)
    assert dict(sql.DISTRIBUTION_COLUMNS).items() <= types.items()
    assert dict(sql.ROW_COLUMNS).items() <= types.items()
    ddl = tables.kinesis_sink_ddl("out", stream_arn="arn:x", region="r")
    assert "`values` ARRAY<DOUBLE>" in ddl and "`counts` ARRAY<BIGINT>" in ddl
    assert "NOT NULL" not in ddl  # a row leaves the other type's columns null


def test_the_sources_are_the_domains_and_integer_fields() -> None:
    assert distribution_sources() == sql.DISTRIBUTION_SOURCES
    # The sort key holds the value as the integral part of a DECIMAL: integers only.
    assert all(tables.FIELD_TYPES[name] == "BIGINT" for name in sql.DISTRIBUTION_SOURCES)


def test_one_insert_writes_both_row_types() -> None:
    statements = job.file_statements("/in", "/out", window_s=10)
    inserts = [s for s in statements if s.startswith("INSERT")]
    assert inserts == statements[-2:] == sql.inserts(job.SINK_TABLE)
    insert = inserts[0]  # the second writes the late_events rows (see test_flink_sql)
    assert f"FROM {sql.DISTRIBUTIONS_VIEW}\nUNION ALL\n" in insert
    assert insert.endswith(f"FROM {sql.ROWS_VIEW}")
    assert "CAST(NULL AS STRING) AS `metric`" in insert
    assert "CAST(NULL AS ARRAY<DOUBLE>) AS `values`" in insert
    views = [s for s in statements if s.startswith("CREATE TEMPORARY VIEW")]
    assert views[-6].startswith(f"CREATE TEMPORARY VIEW {sql.DISTRIBUTIONS_VIEW} AS")
    assert views[-1].startswith(f"CREATE TEMPORARY VIEW {sql.DISTRIBUTION_CORRECTIONS_VIEW} AS")


def test_the_distribution_views_are_a_cascade_of_window_aggregations() -> None:
    views = "\n".join(sql.distribution_views(15))
    tumbles = re.findall(r"TUMBLE\(TABLE (\w+), DESCRIPTOR\(`(\w+)`\), INTERVAL '15' SECOND", views)
    assert tumbles == [
        ("qos_distribution_values", "rowtime"),
        ("qos_distribution_counts", "value_time"),
    ]
    assert "ARRAY_SORT(ARRAY_AGG(pair))" in views
    assert "JOIN UNNEST(MAP[" in views and " JOIN qos" not in views  # a fan-out, no join
    for name, aggregate in sql.DISTRIBUTION_SOURCES.items():
        assert f"CAST('{name}' AS STRING) AS source" in views
        assert f"`{name}` IS NOT NULL" in views
        assert aggregate.filter.metric_types <= {"PLAY", "PLAYBACK_SUMMARY"}


def test_a_full_row_fits_one_kinesis_record() -> None:
    pair = len(LONGEST_DOUBLE) + len(LONGEST_BIGINT) + 2  # and the two commas
    others = 1024  # the other fields, with a long channel name (ingest allows 128 characters)
    assert sql.DISTRIBUTION_CHUNK * pair + others < KINESIS_RECORD_BYTES
