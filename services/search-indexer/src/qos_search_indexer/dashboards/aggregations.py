"""Catalogue aggregates as OpenSearch aggregations, with the rules that keep them faithful.

An aggregate of the catalogue (`count`, `sum`, `distinct`, `values`, each over a filter) becomes
a `filter` aggregation holding the DSL of its filter and, inside it, the metric:

- `count`: the filter's `doc_count`;
- `sum` of a field: `sum` (a missing field adds nothing, as SQL's SUM skips NULL);
- `sum` of `Add(a, b)` whose fields every record of the filter has (the models require them):
  `sum(a) + sum(b)`, which equals `sum(a + b)` on those records; otherwise, and for `Mul`,
  a `sum` of a painless script that is 0 where a field is missing (`a + b` and `a * b` are NULL
  there, and SUM skips NULL): a per-document product has no other aggregation;
- `distinct`: `cardinality` with `precision_threshold` 40000 (the maximum), below which
  OpenSearch counts exactly (a hash set, not the HyperLogLog sketch);
- `values`: `percentiles` at the metric's quantile, t-digest (see README for its tolerance).
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel

from qos_search_indexer.dashboards.filters import filter_query
from qos_shared.catalogue import Add, Aggregate, Eq, Expr, Field, Filter, Gt, NotNull, expr_fields
from qos_shared.events import Attempt, Error, Play, PlaybackSummary, QualityChanged, Stop

#: The largest precision_threshold OpenSearch takes; counts below it are exact.
PRECISION_THRESHOLD = 40_000

MODELS: dict[str, type[BaseModel]] = {
    "ATTEMPT": Attempt,
    "PLAY": Play,
    "PLAYBACK_SUMMARY": PlaybackSummary,
    "QUALITY_CHANGED": QualityChanged,
    "STOP": Stop,
    "ERROR": Error,
}

_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class NotExpressible(ValueError):
    """A metric no panel can draw faithfully (the reason is the message)."""


def _accepts_none(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _accepts_none(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(a is type(None) or _accepts_none(a) for a in typing.get_args(annotation))
    return annotation is type(None)


def always_present(field: str, filter_: Filter) -> bool:
    """True when every record the filter passes has a value for `field`: each clause either
    tests the field (Eq, Gt and NotNull all fail on a missing value) or names only event types
    whose model requires the field and rejects null for it."""
    for clause in filter_.clauses:
        if any(isinstance(c, Eq | Gt | NotNull) and c.field == field for c in clause.conditions):
            continue
        for metric_type in clause.metric_types:
            model = MODELS.get(metric_type)
            info = None if model is None else model.model_fields.get(field)
            if info is None or not info.is_required() or _accepts_none(info.annotation):
                return False
    return True


def field_name(name: str) -> str:
    if not _FIELD_NAME.match(name):
        raise ValueError(f"not a field name: {name!r}")
    return name


def painless(expr: Expr) -> str:
    """The expression in painless over doc values, as doubles (like the SQL's CAST AS DOUBLE)."""
    if isinstance(expr, Field):
        return f"((double) doc['{field_name(expr.name)}'].value)"
    op = "+" if isinstance(expr, Add) else "*"
    return f"({painless(expr.left)} {op} {painless(expr.right)})"


def painless_sum_term(expr: Expr) -> str:
    """The script summed for `sum(expr)`: 0 where a field is missing (the expression is NULL
    there and SUM skips it)."""
    missing = " || ".join(
        f"doc['{field_name(name)}'].size() == 0" for name in sorted(set(expr_fields(expr)))
    )
    return f"{missing} ? 0.0 : {painless(expr)}"


def sum_terms(expr: Expr, filter_: Filter) -> list[dict[str, Any]] | None:
    """`sum(expr)` as a list of plain field sums whose total it is, or None when it needs a
    script (a product, or a sum of fields some records lack)."""
    if isinstance(expr, Field):
        return [{"sum": {"field": field_name(expr.name)}}]
    if isinstance(expr, Add):
        names = list(expr_fields(expr))
        if not all(isinstance(e, Field | Add) for e in _walk(expr)):
            return None
        if all(always_present(n, filter_) for n in names):
            return [{"sum": {"field": field_name(n)}} for n in names]
    return None


def _walk(expr: Expr) -> typing.Iterator[Expr]:
    yield expr
    if not isinstance(expr, Field):
        yield from _walk(expr.left)
        yield from _walk(expr.right)


def metric_aggs(aggregate: Aggregate, quantile: float | None = None) -> dict[str, Any]:
    """The sub-aggregations that compute the aggregate inside its filter, named v, v0, v1, …
    (none for a count: the filter's doc_count is the value)."""
    if aggregate.kind == "count":
        return {}
    assert aggregate.value is not None
    if aggregate.kind == "distinct":
        assert isinstance(aggregate.value, Field)
        return {
            "v": {
                "cardinality": {
                    "field": field_name(aggregate.value.name),
                    "precision_threshold": PRECISION_THRESHOLD,
                }
            }
        }
    if aggregate.kind == "values":
        if quantile is None:
            raise ValueError("a values aggregate is read through a percentile")
        if not isinstance(aggregate.value, Field):
            raise NotExpressible("a percentile of an expression needs a script per document")
        return {
            "v": {
                "percentiles": {
                    "field": field_name(aggregate.value.name),
                    "percents": [percent(quantile)],
                    "keyed": False,
                }
            }
        }
    terms = sum_terms(aggregate.value, aggregate.filter)
    if terms is None:
        script = {"lang": "painless", "source": painless_sum_term(aggregate.value)}
        return {"v": {"sum": {"script": script}}}
    if len(terms) == 1:
        return {"v": terms[0]}
    return {f"v{i}": term for i, term in enumerate(terms)}


def filter_agg(aggregate: Aggregate, quantile: float | None = None) -> dict[str, Any]:
    """A `filter` aggregation over the aggregate's records, with its metric inside."""
    body: dict[str, Any] = {"filter": filter_query(aggregate.filter)}
    inner = metric_aggs(aggregate, quantile)
    if inner:
        body["aggs"] = inner
    return body


def read_filter_agg(
    aggregate: Aggregate, result: dict[str, Any], quantile: float | None = None
) -> float | None:
    """The aggregate's value from the response of `filter_agg` (what the Vega expression of
    `vega.value_expression` reads, in Python)."""
    if aggregate.kind == "count":
        return float(result["doc_count"])
    names = sorted(metric_aggs(aggregate, quantile))
    if aggregate.kind == "values":
        value = result["v"]["values"][0]["value"]
        return None if value is None else float(value)
    return float(sum(result[n]["value"] for n in names))


def percent(quantile: float) -> float:
    """A quantile (0.95) as the percent OpenSearch takes (95.0), without float noise."""
    return round(quantile * 100, 6)
