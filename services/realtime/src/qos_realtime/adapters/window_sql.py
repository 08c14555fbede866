"""DuckDB SQL of the local window engine, rendered from the metric catalogue.

How the work is split, for speed without giving up exactness:
- a record is kept as one narrow row of `pending`: the fields the aggregates read (values,
  dimensions, split fields, session_id), its event_time, and one boolean column per distinct
  filter of the catalogue (`flag_columns`), evaluated once when the record is loaded, so
  aggregates test a boolean instead of re-evaluating the filter; the fields only filters read
  are not kept;
- channels beyond the top N of a window (by distinct sessions, then name) are grouped as "other":
  a small table `cg` maps each (window, channel) to its group;
- counts and sums (and the share metrics' numerators) are decomposable: they are aggregated once
  per (window, platform, channel, split values) into the few rows of table `parts`, and the three
  groupings (all, platform, channel group) are rolled up from those;
- distinct counts and percentiles are not decomposable: they are computed with GROUPING SETS over
  the records (joined to `cg` for their channel group), one pass for all the distinct counts of a
  field (the distinct (group, value) pairs first, then a count per group) and one for all the
  percentiles (each set of values one list-valued quantile aggregate).

Semantics are those of one GROUP BY over the window's records joined to their channel group:
a record without a channel is in no group (the join drops it), though it takes part in the
ranking; a null platform is the platform group "".
"""

# ruff: noqa: S608 - SQL text rendered from the catalogue, integers and table names made here.
from __future__ import annotations

from dataclasses import dataclass

from qos_realtime.domain.rows import OTHER
from qos_shared.catalogue import (
    CATALOGUE,
    Aggregate,
    Field,
    Filter,
    Metric,
    aggregates,
    expr_fields,
    fields_read,
)
from qos_shared.catalogue_sql import (
    aggregate_sql,
    expr_sql,
    filter_sql,
    metric_formula,
    quote,
)
from qos_shared.record_schema import column_types
from qos_shared.views import fields_read as view_fields_read
from qos_shared.views import view_column_types

DUCKDB_TYPES = {"string": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}

GROUP_METRICS: tuple[Metric, ...] = tuple(m for m in CATALOGUE if m.kind != "share")
SHARE_METRICS: tuple[Metric, ...] = tuple(m for m in CATALOGUE if m.kind == "share")


def record_columns() -> dict[str, str]:
    """The fields the engine reads of each record (what the catalogue and the views read), as
    DuckDB types. View records (metric_type VIEW) have fields of their own."""
    types = {**view_column_types(), **column_types()}
    names = fields_read() | view_fields_read()
    return {name: DUCKDB_TYPES[types[name]] for name in sorted(names)}


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


def stored_columns() -> dict[str, str]:
    """The fields kept in `pending` (besides event_time and the flags): what the aggregates read
    once the filters are flags: the values, the dimensions, the split fields, session_id; and
    what the views read (`ViewBuilder` reads a batch's table before its windows keep it)."""
    names = {"client_platform", "channel_watched", "session_id", *view_fields_read()}
    for aggregate in aggregates():
        if aggregate.value is not None:
            names.update(expr_fields(aggregate.value))
    names.update(m.split_by for m in CATALOGUE if m.split_by)
    columns = record_columns()
    return {name: columns[name] for name in sorted(names)}


def flag_columns() -> dict[str, str]:
    """Boolean column name -> the SQL computing it from a record's columns."""
    return {column: filter_sql(f, "duckdb") for f, column in PLAN.flags.items()}


def window_start_sql(window_ms: int) -> str:
    return f"(event_time // {int(window_ms)}) * {int(window_ms)}"


def channel_groups_query(windows: str, top_n: int) -> str:
    """Table `cg`: (window_start, channel_watched) -> channel_group, over the given windows
    (`windows`: a predicate on `window_start`)."""
    return f"""
SELECT window_start, channel_watched,
       CASE WHEN row_number() OVER (
                PARTITION BY window_start
                ORDER BY count(DISTINCT session_id) DESC, channel_watched
            ) <= {int(top_n)} THEN channel_watched ELSE '{OTHER}' END AS channel_group
FROM pending WHERE {windows}
GROUP BY window_start, channel_watched"""


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


@dataclass(frozen=True)
class _Exact:
    """Where the non-decomposable aggregates are computed."""

    # counted field -> its distinct aggregates -> their column (in table d<i>, i its index)
    distinct: dict[str, dict[Aggregate, str]]
    # values aggregate -> every quantile the catalogue reads of it, and its column (in table q)
    values: dict[Aggregate, tuple[tuple[float, ...], str]]


def _exact() -> _Exact:
    distinct: dict[str, dict[Aggregate, str]] = {}
    quantiles: dict[Aggregate, list[float]] = {}
    for aggregate, quantile in PLAN.exact:
        if aggregate.kind == "distinct":
            assert isinstance(aggregate.value, Field)
            distinct.setdefault(aggregate.value.name, {})[aggregate] = PLAN.exact[(aggregate, None)]
        else:
            assert quantile is not None
            quantiles.setdefault(aggregate, []).append(quantile)
    values = {a: (tuple(qs), PLAN.exact[(a, qs[0])]) for a, qs in quantiles.items()}
    return _Exact(distinct, values)


EXACT = _exact()


def _distinct_ctes(windows: str) -> str:
    """Distinct counts: the (group, value) pairs first, with whether any record of the pair
    passes each aggregate's filter, then a count of pairs per group. One pass per counted field
    for all of its aggregates (COUNT(DISTINCT ...) with GROUPING SETS costs a pass each)."""
    ctes = []
    for i, (name, columns) in enumerate(EXACT.distinct.items()):
        field = quote(name)
        flags = {column: PLAN.flags[a.filter] for a, column in columns.items()}
        seen = ", ".join(f"bool_or({flag}) AS {column}" for column, flag in flags.items())
        counted = ", ".join(f"count_if({column}) AS {column}" for column in flags)
        any_flag = " OR ".join(sorted(set(flags.values())))
        ctes.append(f"""
d{i}_pairs AS (
    SELECT window_start,{_DIMENSION}, {seen}
    FROM pending JOIN cg USING (window_start, channel_watched)
    WHERE {windows} AND {field} IS NOT NULL AND ({any_flag})
    GROUP BY GROUPING SETS (
        (window_start, {field}),
        (window_start, client_platform, {field}),
        (window_start, channel_group, {field})
    )
),
d{i} AS (
    SELECT window_start, dimension, dimension_value, {counted}
    FROM d{i}_pairs GROUP BY window_start, dimension, dimension_value
)""")
    return ",".join(ctes)


def _quantiles_cte(windows: str) -> str:
    """Percentiles: every quantile of one set of values is one list-valued aggregate (one
    sort), read back by index; all the value sets in one pass over the records they read."""
    columns = []
    for aggregate, (quantiles, column) in EXACT.values.items():
        assert aggregate.value is not None
        flag, expr = PLAN.flags[aggregate.filter], expr_sql(aggregate.value, "duckdb")
        value = f"CASE WHEN {flag} THEN {expr} END"
        listed = ", ".join(repr(q) for q in quantiles)
        columns.append(f"quantile_cont({value}, [{listed}]) AS {column}")
    any_flag = " OR ".join(sorted({PLAN.flags[a.filter] for a in EXACT.values}))
    return f"""
q AS (
    SELECT window_start,{_DIMENSION},
        {", ".join(columns)}
    FROM pending JOIN cg USING (window_start, channel_watched)
    WHERE {windows} AND ({any_flag})
    GROUP BY {_GROUPING_SETS}
)"""


_SPLIT_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(m.split_by for m in SHARE_METRICS if m.split_by)
)


def parts_query(windows: str) -> str:
    """Table `parts`: the decomposable aggregates (columns a<i>) and the share metrics'
    numerators (s<i>, with n<i> the records that pass their filter) per (window, platform,
    channel, split values) of the given windows: the few rows every count, sum and share is
    rolled up from (`windows`: a predicate on `window_start`)."""
    splits = "".join(f", {quote(name)}" for name in _SPLIT_FIELDS)
    columns = [f"{_aggregate_on_flags(a)} AS {column}" for a, column in PLAN.decomposable.items()]
    for i, metric in enumerate(SHARE_METRICS):
        columns.append(f"{_aggregate_on_flags(metric.numerator)} AS s{i}")
        columns.append(f"count_if({PLAN.flags[metric.numerator.filter]}) AS n{i}")
    listed = ",\n    ".join(columns)
    return f"""
SELECT window_start, client_platform, channel_watched{splits},
    {listed}
FROM pending WHERE {windows}
GROUP BY window_start, client_platform, channel_watched{splits}"""


def group_metrics_query(windows: str) -> str:
    """One row per (window, group) of the given windows, with a column per metric named after
    it; reads `parts`, `pending` and `cg`."""
    rolled = ",\n        ".join(
        f"SUM({column}) AS {column}" for column in PLAN.decomposable.values()
    )
    distinct_table = {
        a: f"d{i}" for i, columns in enumerate(EXACT.distinct.values()) for a in columns
    }
    exact_ctes = [_distinct_ctes(windows)] if EXACT.distinct else []
    if EXACT.values:
        exact_ctes.append(_quantiles_cte(windows))
    tables = [f"d{i}" for i in range(len(EXACT.distinct))] + (["q"] if EXACT.values else [])
    joins = "".join(
        f"\nLEFT JOIN {table} USING (window_start, dimension, dimension_value)" for table in tables
    )

    def ref(aggregate: Aggregate, quantile: float | None) -> str:
        if aggregate in PLAN.decomposable:
            return f"rolled.{PLAN.decomposable[aggregate]}"
        if aggregate in distinct_table:
            return f"{distinct_table[aggregate]}.{PLAN.exact[(aggregate, None)]}"
        quantiles, column = EXACT.values[aggregate]
        assert quantile is not None
        return f"q.{column}[{quantiles.index(quantile) + 1}]"

    metrics = ",\n    ".join(f"{metric_formula(m, ref)} AS {quote(m.name)}" for m in GROUP_METRICS)
    return f"""
WITH rolled AS (
    SELECT window_start,{_DIMENSION},
        {rolled}
    FROM parts JOIN cg USING (window_start, channel_watched)
    GROUP BY {_GROUPING_SETS}
){"".join("," + c for c in exact_ctes)}
SELECT rolled.window_start, rolled.dimension, rolled.dimension_value,
    {metrics}
FROM rolled{joins}"""


def share_query(metric: Metric) -> str:
    """One row per (window, group, split value): the split's share of the group; reads `parts`
    and `cg`. A group has a row per split value of a record that passes the filter."""
    assert metric.split_by is not None
    i = SHARE_METRICS.index(metric)
    split = quote(metric.split_by)
    return f"""
WITH groups AS (
    SELECT window_start,{_DIMENSION}, {split} AS split, CAST(SUM(s{i}) AS DOUBLE) AS part
    FROM parts JOIN cg USING (window_start, channel_watched)
    WHERE n{i} > 0
    GROUP BY GROUPING SETS (
        (window_start, {split}),
        (window_start, client_platform, {split}),
        (window_start, channel_group, {split})
    )
)
SELECT window_start, dimension, dimension_value, split,
       part / CASE WHEN sum(part) OVER whole = 0 THEN NULL ELSE sum(part) OVER whole END
           * {metric.scale!r} AS value
FROM groups
WINDOW whole AS (PARTITION BY window_start, dimension, dimension_value)"""
