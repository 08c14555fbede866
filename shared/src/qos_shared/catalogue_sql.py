"""The metric catalogue rendered as SQL, for every engine that aggregates with SQL.

One renderer, three dialects: DuckDB (the local window engine and the local lake), Flink SQL
(the Managed Service for Apache Flink job) and Trino (Athena). They differ only in the percentile
function and in how a boolean literal and a double are spelled; filters and expressions are the
same text everywhere, which is what makes the engines agree.

Aggregates are written with CASE, not FILTER (WHERE …), because every dialect takes CASE inside
SUM / COUNT and Flink's streaming planner does not take FILTER on every function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from qos_shared.catalogue import (
    Add,
    Aggregate,
    Clause,
    Eq,
    Expr,
    Field,
    Filter,
    Gt,
    Metric,
    NotNull,
)

Dialect = Literal["duckdb", "flink", "trino"]


def quote(name: str) -> str:
    """A column name, quoted as an identifier (`"x"` in DuckDB/Trino, backticks in Flink)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a column name: {name!r}")
    return f'"{name}"'


def _ident(name: str, dialect: Dialect) -> str:
    return f"`{name}`" if dialect == "flink" else quote(name)


def _literal(value: str | bool | int | float) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + value.replace("'", "''") + "'"


def condition_sql(condition: Eq | Gt | NotNull, dialect: Dialect) -> str:
    column = _ident(condition.field, dialect)
    if isinstance(condition, Eq):
        return f"{column} = {_literal(condition.value)}"
    if isinstance(condition, Gt):
        return f"{column} > {_literal(condition.value)}"
    return f"{column} IS NOT NULL"


def clause_sql(clause: Clause, dialect: Dialect) -> str:
    types = ", ".join(_literal(t) for t in clause.metric_types)
    parts = [f"{_ident('metric_type', dialect)} IN ({types})"]
    parts += [condition_sql(c, dialect) for c in clause.conditions]
    return " AND ".join(parts)


def filter_sql(filter_: Filter, dialect: Dialect) -> str:
    clauses = [f"({clause_sql(c, dialect)})" for c in filter_.clauses]
    return clauses[0] if len(clauses) == 1 else "(" + " OR ".join(clauses) + ")"


def expr_sql(expr: Expr, dialect: Dialect) -> str:
    if isinstance(expr, Field):
        return f"CAST({_ident(expr.name, dialect)} AS DOUBLE)"
    op = "+" if isinstance(expr, Add) else "*"
    return f"({expr_sql(expr.left, dialect)} {op} {expr_sql(expr.right, dialect)})"


def aggregate_sql(
    aggregate: Aggregate,
    dialect: Dialect,
    *,
    quantile: float | None = None,
    where: str | None = None,
) -> str:
    """The aggregate as one SQL aggregate call (a percentile needs its quantile). `where`
    replaces the rendered filter, e.g. with a boolean column computed once per record."""
    where = where or filter_sql(aggregate.filter, dialect)
    if aggregate.kind == "count":
        return f"SUM(CASE WHEN {where} THEN 1 ELSE 0 END)"
    assert aggregate.value is not None
    if aggregate.kind == "distinct":
        return (
            f"COUNT(DISTINCT CASE WHEN {where} THEN {_ident(_field(aggregate.value), dialect)} END)"
        )
    value = f"CASE WHEN {where} THEN {expr_sql(aggregate.value, dialect)} END"
    if aggregate.kind == "sum":
        return f"SUM({value})"
    if quantile is None:
        raise ValueError("a values aggregate is read through a percentile")
    if dialect == "duckdb":
        return f"quantile_cont({value}, {quantile!r})"
    if dialect == "flink":
        return f"PERCENTILE({value}, {quantile!r})"
    return f"approx_percentile({value}, {quantile!r})"


def percentiles_sql(
    aggregate: Aggregate, quantiles: tuple[float, ...], *, where: str | None = None
) -> str:
    """Trino (the lake) only: a values aggregate at several quantiles as one array, element i
    for quantiles[i] (one approx_percentile sketch for all of them rather than one each).
    `where` replaces the rendered filter, as in `aggregate_sql`."""
    if aggregate.kind != "values":
        raise ValueError("percentiles read a values aggregate")
    if not quantiles:
        raise ValueError("no quantile")
    assert aggregate.value is not None
    where = where or filter_sql(aggregate.filter, "trino")
    value = f"CASE WHEN {where} THEN {expr_sql(aggregate.value, 'trino')} END"
    return f"approx_percentile({value}, ARRAY[{', '.join(repr(q) for q in quantiles)}])"


def _field(expr: Expr) -> str:
    if not isinstance(expr, Field):
        raise ValueError("distinct counts a field")
    return expr.name


AggregateRef = Callable[[Aggregate, float | None], str]


def metric_formula(metric: Metric, ref: AggregateRef) -> str:
    """The metric's final formula as a DOUBLE (null when there is no data), over its aggregates
    as `ref(aggregate, quantile)` spells them: inline aggregate calls, or the columns of a table
    aggregated beforehand.

    `share` metrics are not a per-group formula (their numerator is split by `split_by`); see
    `share_numerator_sql`.
    """
    if metric.kind == "share":
        raise ValueError(f"{metric.name} is a share: render it with share_numerator_sql")
    if metric.kind == "percentile":
        value = ref(metric.numerator, metric.quantile)
    elif metric.denominator is None:
        # A count or sum over no records is 0, not "no data": SUM of nothing is NULL in SQL.
        value = f"CAST(COALESCE({ref(metric.numerator, None)}, 0) AS DOUBLE)"
    else:
        numerator = ref(metric.numerator, None)
        denominator = ref(metric.denominator, None)
        value = (
            f"CAST({numerator} AS DOUBLE) / "
            f"CAST(CASE WHEN {denominator} = 0 THEN NULL ELSE {denominator} END AS DOUBLE)"
        )
    return value if metric.scale == 1.0 else f"({value}) * {metric.scale!r}"


def metric_sql(metric: Metric, dialect: Dialect) -> str:
    """The metric's value for one group of rows, with its aggregate calls inline."""
    return metric_formula(
        metric, lambda aggregate, q: aggregate_sql(aggregate, dialect, quantile=q)
    )


def share_numerator_sql(metric: Metric, dialect: Dialect) -> str:
    """A share metric's numerator for one (group, split value): divide by the group's total."""
    if metric.kind != "share":
        raise ValueError(f"{metric.name} is not a share")
    return f"CAST({aggregate_sql(metric.numerator, dialect)} AS DOUBLE)"
