"""Every named query's deployed text, unchanged, on a real Trino 483 (Athena engine v3 is Trino)
over the golden lake: the rows equal DuckDB's and the hand-written oracle's.

The lake is written by the lake's own writers (the events, and the oracle's views through the
views log); the Hive tables `events` and `views` are created from the definitions the Glue tables
are generated from (`qos_lake_infra.catalog`: columns, partition keys, Parquet), over the lake's
`events/` and `views/` folders, and their partitions are registered from the dt=/hour= folders
(on Athena, partition projection computes them). Each query's text is bound as Athena binds
`ExecutionParameters`: PREPARE the fixed text, EXECUTE it USING the values as literals.

Percentiles are the one intended difference (ADR 6): Trino's `approx_percentile` against the
exact ones of DuckDB and the oracle. They are checked by rank: Trino's value must lie among the
group's values ranked within Trino's documented error (about 1 % of the ranks, plus one) of the
exact percentile's rank; every other value must equal DuckDB's and the oracle's to 1e-9.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from qos_lake.adapters.duckdb_query import run as run_on_duckdb
from qos_lake.adapters.files import live_dataset_files
from qos_lake.api import PARTITION_KEYS
from qos_lake.domain.layout import TABLES
from qos_lake.domain.named_query import NamedQuery
from qos_lake.domain.queries import QUERIES, QueryParams
from qos_lake_infra.catalog import TABLE_NAME, VIEWS_TABLE_NAME, glue_columns, partition_keys
from qos_lake_trino import TrinoClient, TrinoQueryError
from qos_shared.catalogue import CATALOGUE

from ..golden import FIRST_DAY, LAST_DAY, Record, Row, grouped, in_scope, same, write_lake
from ..integration.test_queries import (
    ALL,
    PARAMS,
    RECORDS,
    VIEW_RECORDS,
    expected,
    stream_durations,
)
from .conftest import lake_location

pytestmark = pytest.mark.trino

# Trino's approx_percentile over doubles is a t-digest: an interpolated value whose rank error
# depends on how the partial digests of the splits merge (run to run, not fixed). Seen here: the
# median of 195 values at rank 101 against the exact 97 (2.1 % of n) in some runs, exact in
# others. The bound allows 4 % of n, plus one rank.
RANK_ERROR = 0.04


def _startups(rs: list[Record]) -> list[float]:
    return [r["startup_latency_ms"] for r in rs if r["metric_type"] == "PLAY"]


def _live(rs: list[Record]) -> list[float]:
    return [
        r["live_latency_ms"]
        for r in rs
        if r["metric_type"] == "PLAYBACK_SUMMARY"
        and r["is_live"]
        and r.get("live_latency_ms") is not None
    ]


# The values behind each percentile metric, written from the event contract (not from the
# catalogue): startup latencies of PLAY records; live latencies of live PLAYBACK_SUMMARY records.
_VALUES: dict[str, tuple[Callable[[list[Record]], list[float]], float]] = {
    "startup_time_p50": (_startups, 0.50),
    "startup_time_p90": (_startups, 0.90),
    "startup_time_p95": (_startups, 0.95),
    "live_latency_p50": (_live, 0.50),
    "live_latency_p95": (_live, 0.95),
}
PERCENTILES = {m.name for m in CATALOGUE if m.kind == "percentile"}

# Hive/Glue type names as Trino spells them.
_TRINO_TYPE = {"string": "varchar", "bigint": "bigint", "double": "double", "boolean": "boolean"}


def create_table_sql(location: str, table: str = TABLE_NAME) -> str:
    """A Glue table (`events`, `views`) as a Trino Hive table: the same columns, types and
    partition keys (last, as Hive keeps them), Parquet, over the lake's folder of the table."""
    columns = [*glue_columns(table), *partition_keys()]
    listed = ",\n    ".join(f'"{c["Name"]}" {_TRINO_TYPE[c["Type"]]}' for c in columns)
    keys = ", ".join(f"'{k['Name']}'" for k in partition_keys())
    return (
        f"CREATE TABLE {table} (\n    {listed}\n)\n"
        f"WITH (external_location = '{location}', format = 'PARQUET', "
        f"partitioned_by = ARRAY[{keys}])"
    )


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("golden-trino")
    write_lake(RECORDS, base / "lake", base / "events.sqlite", VIEW_RECORDS)
    return base / "lake"


def _create(client: TrinoClient, schema: str, table: str, folder: Path) -> None:
    client.execute(f"DROP TABLE IF EXISTS {table}")
    client.execute(create_table_sql(lake_location(folder), table))
    client.execute(f"CALL system.sync_partition_metadata('{schema}', '{table}', 'FULL')")


@pytest.fixture(scope="module")
def events_table(client: TrinoClient, lake: Path) -> str:
    """Tables `events` and `views` over the golden lake (named after the first)."""
    # Trino (like Athena) reads every file of a partition; DuckDB only the committed, uncovered
    # ones. The golden lake has no others, so both read the same rows.
    client.execute("CREATE SCHEMA IF NOT EXISTS default")
    for table in (TABLE_NAME, VIEWS_TABLE_NAME):
        on_disk = sorted(p for p in (lake / table).rglob("*.parquet") if not p.name.startswith("."))
        live = live_dataset_files(lake, table=TABLES[table])
        assert sorted(p.resolve() for p in live) == [p.resolve() for p in on_disk]
        _create(client, "default", table, lake / table)
    return TABLE_NAME


DUPLICATES_SCHEMA = "twice"


@pytest.fixture(scope="module")
def twice_client(
    client: TrinoClient, lake: Path, tmp_path_factory: pytest.TempPathFactory
) -> TrinoClient:
    """The golden lake as the AWS lake can hold it: every file there twice, the second copy of
    each record received a minute later (Kinesis' and Firehose's retries, a client re-sending),
    and every view record twice (the views stream's and Firehose's retries), as tables `events`
    and `views` of their own schema."""
    base = tmp_path_factory.mktemp("golden-twice")
    client.execute(f"CREATE SCHEMA IF NOT EXISTS {DUPLICATES_SCHEMA}")
    own = TrinoClient(client.url, schema=DUPLICATES_SCHEMA)
    for table, rows in ((TABLE_NAME, RECORDS), (VIEWS_TABLE_NAME, VIEW_RECORDS)):
        twice = base / table
        shutil.copytree(lake / table, twice, ignore=shutil.ignore_patterns(".*"))
        for path in sorted(twice.rglob("*.parquet")):
            data = pq.read_table(path)
            if table == TABLE_NAME:
                index = data.schema.get_field_index("received_at")
                later = pc.add(data.column(index), 60_000)
                data = data.set_column(index, "received_at", later)
            pq.write_table(data, path.with_name(f"resent-{path.name}"))
        _create(own, DUPLICATES_SCHEMA, table, twice)
        assert own.execute(f"SELECT count(*) FROM {table}").rows == [(2 * len(rows),)]
    return own


def on_trino(
    client: TrinoClient, query: NamedQuery, params: QueryParams
) -> tuple[tuple[str, ...], list[Row]]:
    assert query.sql.count("?") == len(query.placeholders)
    result = client.execute_with_parameters(query.sql, params.values(query))
    return result.columns, [tuple(row) for row in result.rows]


def _float(value: Any) -> Any:
    # Trino's JSON protocol gives a double as a number, or as "NaN"/"Infinity" text.
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _within_rank(value: float | None, values: list[float], q: float) -> bool:
    """`value` (s) lies between the ms `values` ranked RANK_ERROR * n ranks (plus the one rank
    interpolation spans) either side of the exact q * (n - 1)."""
    if value is None or not values:
        return value is None and not values
    ordered = sorted(values)
    n = len(ordered)
    slack = math.ceil(RANK_ERROR * n) + 1
    at = q * (n - 1)
    lo = ordered[max(0, math.floor(at) - slack)]
    hi = ordered[min(n - 1, math.ceil(at) + slack)]
    return lo - 1e-6 <= value * 1000 <= hi + 1e-6


def _rank_of(value: float | None, values: list[float], q: float) -> str:
    """Where `value` falls among `values`, against the exact rank (for a failure's message)."""
    if value is None:
        return "none"
    below = sum(1 for v in values if v < value * 1000)
    return f"n={len(values)}, rank {below} vs exact {q * (len(values) - 1):.1f}"


def check_rows(
    query: NamedQuery, params: QueryParams, trino_rows: list[Row], duckdb_rows: list[Row]
) -> None:
    """Trino's rows against DuckDB's and the oracle's: the same groups in the same order, every
    value equal, percentiles within Trino's rank error of the exact ones."""
    scoped = in_scope(ALL, params)
    want = expected(query, scoped)
    if query.name == "stream-durations" and not want:  # filtered out (the DuckDB test says why)
        assert trino_rows == duckdb_rows == []
        return
    assert want, "the oracle expects rows: the case checks something"
    assert same(duckdb_rows, want), (duckdb_rows[:3], want[:3])
    assert len(trino_rows) == len(want), (len(trino_rows), len(want))
    columns = query.columns
    metric_of = dict(query.metric_columns)
    # Columns of Trino's approx_percentile beside the catalogue's: the streams' median duration.
    approximate = {"median_minutes"} if query.name == "stream-durations" else set()
    exact = [
        i
        for i, c in enumerate(columns)
        if metric_of.get(c) not in PERCENTILES and c not in approximate
    ]
    numbers = {*metric_of, *query.value_columns}

    def pick(row: Row) -> Row:
        return tuple(_float(row[i]) if columns[i] in numbers else row[i] for i in exact)

    assert same([pick(r) for r in trino_rows], [pick(r) for r in want]), (trino_rows[:3], want[:3])
    if approximate:
        durations = stream_durations(scoped)
        at = columns.index("median_minutes")
        for row in trino_rows:
            # _within_rank reads the value in units of a thousand of the values'.
            minutes = [d * 1000 for d in durations[(row[0], row[1])]]
            assert _within_rank(_float(row[at]), minutes, 0.5), (row, sorted(minutes))
    for i, column in enumerate(columns):
        metric = metric_of.get(column)
        if metric not in PERCENTILES:
            continue
        values_of, q = _VALUES[metric]
        groups = grouped(scoped, query.group_columns)
        for row in trino_rows:
            key = tuple(row[: len(query.group_columns)])
            assert _within_rank(_float(row[i]), values_of(groups[key]), q), (column, key, row[i])


def test_every_percentile_metric_has_its_values_here() -> None:
    assert set(_VALUES) == PERCENTILES


def test_the_views_table_has_the_glue_definitions_columns(
    client: TrinoClient, events_table: str
) -> None:
    described = client.execute(f"DESCRIBE {VIEWS_TABLE_NAME}").rows
    want = [
        (c["Name"], _TRINO_TYPE[c["Type"]])
        for c in (*glue_columns(VIEWS_TABLE_NAME), *partition_keys())
    ]
    assert [(row[0], row[1]) for row in described] == want
    counted = client.execute(f"SELECT count(*) FROM {VIEWS_TABLE_NAME}").rows
    assert counted == [(len(VIEW_RECORDS),)]


def test_the_table_has_the_glue_definitions_columns(client: TrinoClient, events_table: str) -> None:
    described = client.execute(f"DESCRIBE {events_table}").rows
    want = [(c["Name"], _TRINO_TYPE[c["Type"]]) for c in (*glue_columns(), *partition_keys())]
    assert [(row[0], row[1]) for row in described] == want
    partitions = client.execute(f'SELECT DISTINCT dt FROM "{events_table}$partitions" ORDER BY 1')
    assert [row[0] for row in partitions.rows] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    counted = client.execute(f"SELECT count(*) FROM {events_table}").rows
    assert counted == [(len(RECORDS),)]
    assert tuple(k["Name"] for k in partition_keys()) == PARTITION_KEYS


@pytest.mark.parametrize("label", PARAMS)
@pytest.mark.parametrize("name", QUERIES)
def test_every_named_query_runs_on_trino_with_the_oracles_rows(
    client: TrinoClient, lake: Path, events_table: str, name: str, label: str
) -> None:
    query, params = QUERIES[name], PARAMS[label]
    columns, rows = on_trino(client, query, params)
    assert columns == query.columns
    check_rows(query, params, rows, run_on_duckdb(lake, query, params).rows)


@pytest.mark.parametrize("name", QUERIES)
def test_every_event_held_twice_changes_no_answer_on_trino(
    twice_client: TrinoClient, lake: Path, name: str
) -> None:
    """The deployed text counts each event_id once: over a lake holding every record twice,
    every named query gives the oracle's rows (and DuckDB's over the lake holding them once)."""
    query, params = QUERIES[name], PARAMS["all days"]
    columns, rows = on_trino(twice_client, query, params)
    assert columns == query.columns
    check_rows(query, params, rows, run_on_duckdb(lake, query, params).rows)


def test_a_text_that_only_duckdb_accepts_fails_on_trino(
    client: TrinoClient, lake: Path, events_table: str
) -> None:
    """The check can fail: the same query with a DuckDB-only function (`quantile_cont` for
    `approx_percentile`) is refused by Trino."""
    query = QUERIES["startup-latency"]
    assert "approx_percentile(" in query.sql
    duckdb_only = query.sql.replace("approx_percentile(", "quantile_cont(")
    with pytest.raises(TrinoQueryError) as refused:
        client.execute_with_parameters(duckdb_only, PARAMS["all days"].values())
    assert refused.value.error_name == "FUNCTION_NOT_FOUND"


def test_a_filter_value_is_bound_never_spliced(client: TrinoClient, events_table: str) -> None:
    hostile = QueryParams(FIRST_DAY, LAST_DAY, channel="x'; DROP TABLE events; --")
    _, rows = on_trino(client, QUERIES["popular-channels"], hostile)
    assert rows == []
    assert client.execute(f"SELECT count(*) FROM {events_table}").rows == [(len(RECORDS),)]
