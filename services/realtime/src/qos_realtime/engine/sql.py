"""DuckDB SQL of the local window engine, rendered from the metric catalogue.

How the work is split, for speed without giving up exactness:
- each distinct filter of the catalogue becomes a boolean column computed once per record when it
  is loaded (`flag_columns`), so aggregates test a boolean instead of re-evaluating the filter;
- counts and sums are decomposable: they are aggregated once per (window, platform, channel
  group) and the three groupings (all, platform, channel group) are rolled up from those few
  rows; distinct counts and percentiles are not decomposable, so they alone are computed with
  GROUPING SETS over the records;
- channels beyond the top N of a window (by distinct sessions, then name) are grouped as "other".
"""

from __future__ import annotations

from dataclasses import dataclass

from qos_realtime.domain.rows import OTHER
from qos_shared.catalogue import (
    CATALOGUE,
    Aggregate,
    Filter,
    Metric,
    aggregates,
    expr_fields,
    fields_read,
)
from qos_shared.catalogue_sql import aggregate_sql, filter_sql, metric_formula, quote
from qos_shared.record_schema import column_types

_DUCKDB_TYPES = {"string": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}

GROUP_METRICS: tuple[Metric, ...] = tuple(m for m in CATALOGUE if m.kind != "share")
SHARE_METRICS: tuple[Metric, ...] = tuple(m for m in CATALOGUE if m.kind == "share")


def record_columns() -> dict[str, str]:
    """The columns the engine keeps of each record (what the catalogue reads), as DuckDB types."""
    types = column_types()
    return {name: _DUCKDB_TYPES[types[name]] for name in sorted(fields_read())}


@dataclass(frozen=True)
class _Plan:
    flags: dict[Filter, str]  # filter -> its boolean column
    decomposable: dict[Aggregate, str]  # count/sum aggregate -> its column in the roll-up
    exact: dict[tuple[Aggregate, float | None], str]  # distinct / percentile -> its column


def _plan() -> _Plan:
    all_aggregates = list(aggregates())
    flags: dict[Filter, str] = {}
    for aggregate in all_aggregates:
        flags.setdefault(aggregate.filter, f"f{len(flags)}")
    decomposable = {
        a: f"a{i}" for i, a in enumerate(x for x in all_aggregates if x.kind in ("count", "sum"))
    }
    exact: dict[tuple[Aggregate, float | None], str] = {}
    for metric in GROUP_METRICS:
        if metric.numerator.kind == "distinct":
            exact.setdefault((metric.numerator, None), f"x{len(exact)}")
        elif metric.numerator.kind == "values":
            exact.setdefault((metric.numerator, metric.quantile), f"x{len(exact)}")
    return _Plan(flags, decomposable, exact)


PLAN = _plan()


def _g_columns() -> str:
    """What the metric queries read of each record once its filters are flags: the values
    aggregated, the dimensions, the split fields, the flags."""
    names = {"window_start", "client_platform", "session_id"}
    for aggregate in aggregates():
        if aggregate.value is not None:
            names.update(expr_fields(aggregate.value))
    names.update(m.split_by for m in CATALOGUE if m.split_by)
    return ", ".join(
        [f"w.{quote(n)}" for n in sorted(names)] + [f"w.{f}" for f in PLAN.flags.values()]
    )


_G_COLUMNS = _g_columns()


def flag_columns() -> dict[str, str]:
    """Boolean column name -> the SQL computing it from a record's columns."""
    return {column: filter_sql(f, "duckdb") for f, column in PLAN.flags.items()}


def grouped_table_query(window_set: str, top_n: int) -> str:
    """The rows of the given windows with their channel group: the table `g` that the metric
    queries read (built once per computation, shared by all of them)."""
    return f"""
WITH w AS (
    SELECT * FROM pending WHERE window_start IN ({window_set})
),
ranked AS (
    SELECT window_start, channel_watched,
           row_number() OVER (
               PARTITION BY window_start
               ORDER BY count(DISTINCT session_id) DESC, channel_watched
           ) AS channel_rank
    FROM w GROUP BY window_start, channel_watched
)
SELECT {_G_COLUMNS},
       CASE WHEN ranked.channel_rank <= {int(top_n)} THEN w.channel_watched
            ELSE '{OTHER}' END AS channel_group
FROM w JOIN ranked USING (window_start, channel_watched)"""


_DIMENSION = """
    CASE WHEN grouping(client_platform) = 0 THEN 'client_platform'
         WHEN grouping(channel_group) = 0 THEN 'channel_watched'
         ELSE 'all' END AS dimension,
    coalesce(client_platform, channel_group, '') AS dimension_value"""
_GROUPING_SETS = """GROUPING SETS (
    (window_start), (window_start, client_platform), (window_start, channel_group)
)"""


def _aggregate_on_flags(aggregate: Aggregate, quantile: float | None = None) -> str:
    return aggregate_sql(aggregate, "duckdb", quantile=quantile, where=PLAN.flags[aggregate.filter])


def group_metrics_query() -> str:
    """One row per (window, group) of table `g`, with a column per metric named after it."""
    parts = ",\n        ".join(
        f"{_aggregate_on_flags(a)} AS {column}" for a, column in PLAN.decomposable.items()
    )
    rolled = ",\n        ".join(
        f"SUM({column}) AS {column}" for column in PLAN.decomposable.values()
    )
    # Distinct counts and percentiles, one query per filter over just the rows it selects.
    by_filter: dict[Filter, list[str]] = {}
    for (aggregate, quantile), column in PLAN.exact.items():
        by_filter.setdefault(aggregate.filter, []).append(
            f"{aggregate_sql(aggregate, 'duckdb', quantile=quantile, where='TRUE')} AS {column}"
        )
    exact_ctes = "".join(
        f""",
e{i} AS (
    SELECT window_start,{_DIMENSION},
        {", ".join(columns)}
    FROM g WHERE {PLAN.flags[f]} GROUP BY {_GROUPING_SETS}
)"""
        for i, (f, columns) in enumerate(by_filter.items())
    )
    exact_table = {f: f"e{i}" for i, f in enumerate(by_filter)}
    joins = "".join(
        f"\nLEFT JOIN {table} USING (window_start, dimension, dimension_value)"
        for table in exact_table.values()
    )

    def ref(aggregate: Aggregate, quantile: float | None) -> str:
        if aggregate in PLAN.decomposable:
            return f"rolled.{PLAN.decomposable[aggregate]}"
        return f"{exact_table[aggregate.filter]}.{PLAN.exact[(aggregate, quantile)]}"

    metrics = ",\n    ".join(f"{metric_formula(m, ref)} AS {quote(m.name)}" for m in GROUP_METRICS)
    return f"""
WITH parts AS (
    SELECT window_start, client_platform, channel_group,
        {parts}
    FROM g GROUP BY window_start, client_platform, channel_group
),
rolled AS (
    SELECT window_start,{_DIMENSION},
        {rolled}
    FROM parts GROUP BY {_GROUPING_SETS}
){exact_ctes}
SELECT rolled.window_start, rolled.dimension, rolled.dimension_value,
    {metrics}
FROM rolled{joins}"""


def share_query(metric: Metric) -> str:
    """One row per (window, group of table `g`, split value): the split's share of the group."""
    assert metric.split_by is not None
    split = quote(metric.split_by)
    flag = PLAN.flags[metric.numerator.filter]
    return f"""
WITH parts AS (
    SELECT window_start,{_DIMENSION},
        {split} AS split,
        CAST({_aggregate_on_flags(metric.numerator)} AS DOUBLE) AS part
    FROM g
    WHERE {flag}
    GROUP BY GROUPING SETS (
        (window_start, {split}),
        (window_start, client_platform, {split}),
        (window_start, channel_group, {split})
    )
)
SELECT window_start, dimension, dimension_value, split,
       part / CASE WHEN sum(part) OVER whole = 0 THEN NULL ELSE sum(part) OVER whole END
           * {metric.scale!r} AS value
FROM parts
WINDOW whole AS (PARTITION BY window_start, dimension, dimension_value)"""
