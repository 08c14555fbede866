"""The named queries' text: Trino that parses, fixed placeholders, exact percentiles locally."""

from __future__ import annotations

import logging
import re
from datetime import date

import pytest
import sqlglot
from sqlglot import exp

from qos_lake.adapters.duckdb_query import duckdb_sql
from qos_lake.domain.definitions import SCOPE, SCOPE_NAME, SCOPES, VIEWS_SCOPE, VIEWS_SCOPE_NAME
from qos_lake.domain.queries import PLACEHOLDERS, QUERIES, QueryParams, UnknownQuery, named_query


@pytest.mark.parametrize("name", QUERIES)
def test_each_query_is_one_trino_statement_with_the_shared_placeholders(name: str) -> None:
    query = QUERIES[name]
    tree = sqlglot.parse_one(query.sql, read="trino")
    scopes = [t for t in SCOPES if f"FROM {t}\n" in query.sql]
    assert tuple(scopes) == query.tables, "a query names the tables it reads"
    assert len(list(tree.find_all(exp.Placeholder))) == len(PLACEHOLDERS) * len(scopes)
    assert query.placeholders == PLACEHOLDERS * len(scopes)
    assert query.description and (query.metric_columns or query.value_columns)


@pytest.mark.parametrize("name", QUERIES)
def test_percentiles_are_approximate_on_athena_and_exact_locally(name: str) -> None:
    trino, local = QUERIES[name].sql, duckdb_sql(QUERIES[name].sql).lower()
    assert local.count("quantile_cont(") == trino.count("approx_percentile(")
    assert "approx" not in local


@pytest.mark.parametrize("name", QUERIES)
def test_locally_the_placeholders_are_named_and_the_time_bounds_left_to_the_files(
    name: str,
) -> None:
    local = duckdb_sql(QUERIES[name].sql)
    assert "?" not in local
    # Every parameter but the dropped event_time bounds' (`from`/`to` still bound `dt`).
    assert set(re.findall(r"\$(\w+)", local)) == set(PLACEHOLDERS)
    scopes = len(QUERIES[name].tables)
    assert local.count("$from") == local.count("$to") == scopes
    # No bound on event_time (a query may still read it, as stream-durations does).
    assert not re.search(r'"?event_time"?\s*(>=|<|BETWEEN)', local)
    assert "event_time" in QUERIES[name].sql  # Athena keeps them: there dt is the arrival day


def test_values_follow_the_placeholders() -> None:
    params = QueryParams(date(2026, 11, 1), date(2026, 11, 3), channel="c")
    values = params.values()
    assert values[:4] == ["2026-11-01", "2026-11-03", "2026-11-01", "2026-11-03"]
    assert values[4:] == [None, None, "c", "c", None, None]
    # A query of both tables binds each scope's placeholders, the events' first.
    assert params.values(named_query("kpis")) == values * 2
    assert params.values(named_query("view-kpis")) == values


def test_a_reversed_range_is_refused() -> None:
    with pytest.raises(ValueError, match="reversed"):
        QueryParams(date(2026, 11, 3), date(2026, 11, 1))


def test_an_unknown_name_suggests_close_ones() -> None:
    with pytest.raises(UnknownQuery, match="did you mean popular-channels"):
        named_query("popular-channel")


@pytest.mark.parametrize("name", QUERIES)
def test_the_scope_is_inlined_locally_and_read_in_passes(name: str) -> None:
    trino = QUERIES[name].sql
    first, scope = (
        (SCOPE_NAME, SCOPE)
        if QUERIES[name].tables[0] == "events"
        else (VIEWS_SCOPE_NAME, VIEWS_SCOPE)
    )
    assert scope.startswith(f"{first} AS (") and trino.startswith(f"WITH {scope}")
    for table in QUERIES[name].tables:
        assert f"{SCOPES[table][0]} AS NOT MATERIALIZED (" in duckdb_sql(trino)
    assert "NOT MATERIALIZED" not in trino  # a local planner hint only
    assert "COUNT(DISTINCT" not in trino.upper()  # distinct counts are per-session passes


@pytest.mark.parametrize("name", [n for n in QUERIES if n.startswith("kpis")])
def test_a_kpi_query_reads_summaries_and_the_other_records_in_passes_of_their_own(
    name: str,
) -> None:
    trino = QUERIES[name].sql
    assert "WHERE \"metric_type\" = 'PLAYBACK_SUMMARY'" in trino
    assert "WHERE \"metric_type\" IS DISTINCT FROM 'PLAYBACK_SUMMARY'" in trino
    # One percentile sketch per values aggregate, at all its quantiles.
    assert trino.count("approx_percentile(") == 2
    assert "ARRAY[0.5, 0.9, 0.95]" in trino and "ARRAY[0.5, 0.95]" in trino
    # The view KPIs in a pass over the views' scope, each filter reduced to its conditions.
    assert f"FROM {VIEWS_SCOPE_NAME}\n    GROUP BY" in trino
    assert "'VIEW'" not in trino


def test_transpiling_the_queries_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """No line per query in a process that logs at INFO (the dashboard, `qos lake query`)."""
    caplog.set_level(logging.INFO)
    for query in QUERIES.values():
        duckdb_sql.__wrapped__(query.sql)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []
