"""The named queries on DuckDB over a local lake: the Trino text transpiled by sqlglot.

The lake's live files (`layout.live_dataset_files`: committed, no compaction leftovers) of the
days in range become a view `events`, with `dt` and `hour` from the Hive path as text (as in the
Glue table). The query text is the Trino text run through sqlglot, with two changes:
- Athena's `approx_percentile` (a sketch with a small rank error) becomes DuckDB's exact
  `quantile_cont` (linear interpolation between closest ranks, the catalogue's definition) rather
  than sqlglot's default `approx_quantile`, so local answers are exact and Athena's percentiles
  are close to them;
- the scope CTE (`definitions.SCOPE_NAME`) is marked NOT MATERIALIZED: DuckDB would otherwise
  copy every scoped row of every column once for a query that reads the scope in several passes,
  where inlined each pass reads just its own columns with its filters pushed into the scan. A
  planner hint only: the rows are the same.
Parameter values are bound to the `?` placeholders, never put into the text.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from qos_lake.layout import live_dataset_files
from qos_lake.queries import NamedQuery, QueryParams
from qos_lake.queries.definitions import SCOPE_NAME


class LakeQueryError(Exception):
    """A query that cannot run on this lake (reported to people as one line)."""


class EmptyLake(LakeQueryError):
    pass


class NoDataInRange(LakeQueryError):
    pass


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def _exact_percentile(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.ApproxQuantile):
        extra = {k for k, v in node.args.items() if v is not None} - {"this", "quantile"}
        if extra:
            raise ValueError("approx_percentile with a weight or an accuracy is not supported")
        return exp.Anonymous(this="quantile_cont", expressions=[node.this, node.args["quantile"]])
    return node


def _inline_scope(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.CTE) and node.alias == SCOPE_NAME:
        node.set("materialized", False)
    return node


@functools.cache
def duckdb_sql(trino_sql: str) -> str:
    """The Trino text in DuckDB's dialect, with exact percentiles and the scope inlined (see the
    module doc)."""
    statements = sqlglot.parse(trino_sql, read="trino")
    if len(statements) != 1 or statements[0] is None:
        raise ValueError("a named query is one statement")
    tree = statements[0].transform(_exact_percentile).transform(_inline_scope)
    return tree.sql(dialect="duckdb")


def _days(params: QueryParams) -> set[str]:
    span = (params.to_day - params.from_day).days
    return {(params.from_day + timedelta(days=n)).isoformat() for n in range(span + 1)}


def files_in_range(root: Path, params: QueryParams) -> list[Path]:
    """The live files of the days in range; raises EmptyLake / NoDataInRange when there are none."""
    files = live_dataset_files(root)
    if not files:
        raise EmptyLake(f"the lake at {str(root)!r} holds no committed data")
    days = _days(params)
    # <root>/events/dt=YYYY-MM-DD/hour=HH/part-….parquet
    in_range = [f for f in files if f.parent.parent.name.removeprefix("dt=") in days]
    if not in_range:
        raise NoDataInRange(
            f"no data in the lake at {str(root)!r} from {params.from_day} to {params.to_day}"
        )
    return in_range


def run(root: Path, query: NamedQuery, params: QueryParams) -> QueryResult:
    """The query's rows over the lake at `root`, for `params`."""
    files = files_in_range(root, params)
    sql = duckdb_sql(query.sql)
    with duckdb.connect() as con:
        source = con.sql(
            "SELECT * FROM read_parquet($files, hive_partitioning = true,"
            " hive_types = {'dt': VARCHAR, 'hour': VARCHAR})",
            params={"files": [str(f) for f in files]},
        )
        source.create_view("events")
        cursor = con.execute(sql, params.values())
        columns = tuple(d[0] for d in cursor.description or ())
        return QueryResult(columns, cursor.fetchall())
