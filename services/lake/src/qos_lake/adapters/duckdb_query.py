"""The named queries on DuckDB over a local lake: the Trino text transpiled by sqlglot.

The live files (`files.live_dataset_files`: committed, no compaction leftovers) of the days in
range of each table a query reads become a temporary view of the table's name (`events`,
`views`; an empty one when the table has no file in range), with `dt` and `hour` from the Hive
path as text (as in the Glue tables), on a connection of the query's own to the process's one
in-memory DuckDB database (so queries may run on several threads, and none pays for a new
database). The query
text is the Trino text run through sqlglot, with these changes:
- Athena's `approx_percentile` (a sketch with a small rank error) becomes DuckDB's exact
  `quantile_cont` (linear interpolation between closest ranks, the catalogue's definition) rather
  than sqlglot's default `approx_quantile`, so local answers are exact and Athena's percentiles
  are close to them;
- the scopes' de-duplication (`definitions.COPY_COLUMN`: one row per `event_id`, for the AWS lake,
  which can hold a record twice) is left out: the local lake holds each `event_id` once by
  construction (the event log's and the views log's `event_id` is UNIQUE, so a re-sent event is
  never appended again; the writer commits each log range once, behind its marker; a compaction
  keeps one copy of a range, never both: `domain.layout.split_leftovers`). The rows are the
  same; a test writes every golden event twice and checks every answer. Numbering the rows of
  every pass would cost a sort or hash of the whole scope per pass;
- the scope CTEs (`definitions.SCOPES`) are marked NOT MATERIALIZED: DuckDB would otherwise
  copy every scoped row of every column once for a query that reads the scope in several passes,
  where inlined each pass reads just its own columns with its filters pushed into the scan. A
  planner hint only: the rows are the same;
- the scope's `event_time` bounds move from the query to the files that need them. On Athena
  `dt` is the day Firehose received a record, so the bounds are needed on every row; in the
  local lake a row with a usable `event_time` is in the partition of its day (`domain.layout`),
  so in a file whose statistics show only usable times every row is within the bounds once its
  `dt` is in range. Such files are read as they are; any other file (a time missing or out of
  range, or no statistics) is read through the same bounds, with the same values. Decoding and
  comparing `event_time` in each of a query's passes was about a tenth of its CPU over the
  day's files;
- the `?` placeholders become DuckDB's named ones (`$from`, `$to`, …: `PLACEHOLDERS`, once per
  scope), so that a bound dropped from the text drops no other value.
Parameter values are bound to the placeholders, never put into the text.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from qos_lake.adapters.arrow import table_schema
from qos_lake.adapters.files import live_files_in_days
from qos_lake.domain.definitions import COPY_COLUMN, SCOPES
from qos_lake.domain.errors import EmptyLake, NoDataInRange
from qos_lake.domain.layout import TABLES, Table
from qos_lake.domain.named_query import NamedQuery
from qos_lake.domain.queries import PLACEHOLDERS, QueryParams
from qos_lake.domain.schema import PARTITION_KEYS, TIME_COLUMN
from qos_shared.eventtime import DAY_MS, MAX_EVENT_MS, day_start_ms


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


def _reads_time(node: exp.Expr) -> bool:
    return any(c.name == TIME_COLUMN for c in node.find_all(exp.Column))


def _unique_rows(scope: exp.Expression) -> exp.Select:
    """The scope's inner SELECT, without the numbering of an `event_id`'s copies."""
    source = scope.args.get("from_")
    sub = source.this if source is not None else None
    copy_filter = scope.args.get("where")
    if (
        not isinstance(sub, exp.Subquery)
        or not isinstance(sub.this, exp.Select)
        or copy_filter is None
        or COPY_COLUMN not in {c.name for c in copy_filter.find_all(exp.Column)}
    ):
        raise ValueError(f"the scope does not number copies in {COPY_COLUMN}")
    inner = sub.this
    kept = [e for e in inner.expressions if e.alias_or_name != COPY_COLUMN]
    if len(kept) != len(inner.expressions) - 1:
        raise ValueError(f"the scope's inner SELECT has no {COPY_COLUMN}")
    inner.set("expressions", kept)
    return inner


def _scope_for_files(node: exp.Expression) -> exp.Expression:
    """The scope CTE inlined, without its de-duplication (the local lake holds each event once)
    and without its `event_time` bounds (`source` applies them)."""
    if not (isinstance(node, exp.CTE) and node.alias in _SCOPE_NAMES):
        return node
    node.set("materialized", False)
    node.set("this", _unique_rows(node.this))
    where = node.this.args.get("where")
    if where is None:
        raise ValueError("the scope has no WHERE clause")
    conjuncts = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    kept = [c for c in conjuncts if not _reads_time(c)]
    if len(kept) == len(conjuncts) or not kept:
        raise ValueError(f"the scope's WHERE clause has no {TIME_COLUMN} bounds beside others")
    node.this.set("where", exp.Where(this=exp.and_(*kept)))
    return node


_SCOPE_NAMES = frozenset(name for name, _ in SCOPES.values())


@functools.cache
def duckdb_sql(trino_sql: str) -> str:
    """The Trino text in DuckDB's dialect, with exact percentiles, the scope inlined and its time
    bounds left to the files, and named placeholders (see the module doc)."""
    statements = sqlglot.parse(trino_sql, read="trino")
    if len(statements) != 1 or statements[0] is None:
        raise ValueError("a named query is one statement")
    tree = statements[0]
    placeholders = list(tree.find_all(exp.Placeholder, bfs=False))  # in text order
    if not placeholders or len(placeholders) % len(PLACEHOLDERS):
        raise ValueError(f"a named query has {len(PLACEHOLDERS)} placeholders per scope")
    names = PLACEHOLDERS * (len(placeholders) // len(PLACEHOLDERS))
    for placeholder, name in zip(placeholders, names, strict=True):
        placeholder.set("this", name)
    tree = tree.transform(_exact_percentile).transform(_scope_for_files)
    return tree.sql(dialect="duckdb")


# File identity (path, size, mtime) -> whether its statistics show every event_time usable. A
# part file is never rewritten in place (a compaction writes a new one), so this holds for as
# long as the file does; the identity guards against a lake rebuilt under the same names.
_USABLE_TIMES: dict[tuple[str, int, int], bool] = {}
_CACHED_FILES = 100_000


def _identity(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except FileNotFoundError:  # gone since the listing (a compaction): DuckDB will say so
        return (str(path), -1, -1)
    return (str(path), stat.st_size, stat.st_mtime_ns)


def needs_time_bounds(con: duckdb.DuckDBPyConnection, files: list[Path]) -> set[str]:
    """The files (as text) whose statistics do not show every `event_time` usable (no null, all
    in `[0, MAX_EVENT_MS)`): read once per file and process."""
    identities = [_identity(f) for f in files]
    unknown = [i for i in identities if i not in _USABLE_TIMES]
    if unknown:
        usable = {
            name
            for (name,) in con.execute(
                "SELECT file_name FROM parquet_metadata($files)"
                " WHERE path_in_schema = $column GROUP BY file_name"
                " HAVING bool_and(stats_null_count = 0"
                "  AND TRY_CAST(stats_min_value AS BIGINT) >= 0"
                "  AND TRY_CAST(stats_max_value AS BIGINT) < $max)",
                {"files": [i[0] for i in unknown], "column": TIME_COLUMN, "max": MAX_EVENT_MS},
            ).fetchall()
        }
        if len(_USABLE_TIMES) + len(unknown) > _CACHED_FILES:
            _USABLE_TIMES.clear()
        _USABLE_TIMES.update((i, i[0] in usable) for i in unknown)
    return {i[0] for i in identities if not _USABLE_TIMES.get(i, False)}


@functools.cache
def _database() -> duckdb.DuckDBPyConnection:
    """The process's in-memory DuckDB database; each query runs on a connection of its own
    (`_connection`), with its own variables and temporary view (a new database costs 20-30 ms)."""
    return duckdb.connect()


_CONNECT = threading.Lock()


def _connection() -> duckdb.DuckDBPyConnection:
    """A new connection to the process's database (queries may run on several threads)."""
    with _CONNECT:
        return _database().cursor()


_READ = (
    "SELECT * FROM read_parquet(getvariable('{}'), hive_partitioning = true,"
    " hive_types = {{'dt': VARCHAR, 'hour': VARCHAR}})"
)


def _empty(table: Table) -> pa.Table:
    """No rows of a table's columns and its partition keys (a table without files in range)."""
    schema = table_schema(table)
    for key in PARTITION_KEYS:
        schema = schema.append(pa.field(key, pa.string()))
    return schema.empty_table()


def source(
    con: duckdb.DuckDBPyConnection, files: list[Path], params: QueryParams, table: Table
) -> None:
    """Temporary view `<table>` over `files`, with the scope's `event_time` bounds on the files
    that need them (see the module doc). The file lists and bounds are bound as variables: the
    view's text is one of a few fixed texts."""
    if not files:
        # The table's name is `domain.layout`'s, never a caller's.
        con.register(f"qos_empty_{table.name}", _empty(table))
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {table.name} AS SELECT * FROM qos_empty_{table.name}"  # noqa: S608
        )
        return
    bounded = needs_time_bounds(con, files)
    selects: list[str] = []
    plain = [str(f) for f in files if str(f) not in bounded]
    if plain:
        con.execute(f"SET VARIABLE qos_plain_{table.name} = $files", {"files": plain})
        selects.append(_READ.format(f"qos_plain_{table.name}"))
    if bounded:
        con.execute(f"SET VARIABLE qos_bounded_{table.name} = $files", {"files": sorted(bounded)})
        con.execute("SET VARIABLE qos_from_ms = $ms", {"ms": day_start_ms(params.from_day)})
        con.execute("SET VARIABLE qos_to_ms = $ms", {"ms": day_start_ms(params.to_day) + DAY_MS})
        selects.append(
            _READ.format(f"qos_bounded_{table.name}")
            + f" WHERE {TIME_COLUMN} >= getvariable('qos_from_ms')"
            f" AND {TIME_COLUMN} < getvariable('qos_to_ms')"
        )
    con.execute(f"CREATE OR REPLACE TEMP VIEW {table.name} AS " + " UNION ALL ".join(selects))


def files_in_range(
    root: Path, params: QueryParams, tables: tuple[str, ...] = ("events",)
) -> dict[str, list[Path]]:
    """The live files of the days in range of each table; raises EmptyLake when none of the
    tables has a file, NoDataInRange when none has one in range."""
    found = {t: live_files_in_days(root, params.days(), TABLES[t]) for t in tables}
    if not any(any_files for _, any_files in found.values()):
        raise EmptyLake(f"the lake at {str(root)!r} holds no committed data")
    if not any(in_range for in_range, _ in found.values()):
        raise NoDataInRange(
            f"no data in the lake at {str(root)!r} from {params.from_day} to {params.to_day}"
        )
    return {t: in_range for t, (in_range, _) in found.items()}


def run(root: Path, query: NamedQuery, params: QueryParams) -> QueryResult:
    """The query's rows over the lake at `root`, for `params`."""
    files = files_in_range(root, params, query.tables)
    sql = duckdb_sql(query.sql)
    with _connection() as con:
        for table, of_table in files.items():
            source(con, of_table, params, TABLES[table])
        cursor = con.execute(sql, params.by_name())
        columns = tuple(d[0] for d in cursor.description or ())
        return QueryResult(columns, cursor.fetchall())
