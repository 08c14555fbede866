"""Catalogue metrics that standard visualizations cannot draw, as Vega-Lite charts.

A standard OpenSearch Dashboards visualization computes one aggregation per series and cannot
divide two of them, nor scale one; TSVB can (`math`, `filter_ratio`), but only with DQL filters
per series and a `filter_ratio` that turns an empty denominator into 0 instead of "no data".
A Vega panel sends a search body we write ourselves, so it carries the catalogue's filters as
exact query DSL and its formula as a Vega expression:

    time buckets (date_histogram on event_time, the panel's auto interval)
      └─ one `filter` aggregation per aggregate (num, den), with its metric inside
    value = den == 0 ? null : num / den * scale        (ratio, mean)

so ratios follow SQL semantics (a zero or empty denominator is null: a gap, never 0).

The body's context (the dashboard's filters and time range, the auto interval) is filled in by
Dashboards from `%context%`, `%timefield%`, `%autointerval%` and `%timefilter%`;
`resolve_context` does the same in Python so tests run the very body of the saved object.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from qos_search_indexer.dashboards.aggregations import (
    NotExpressible,
    filter_agg,
    metric_aggs,
    read_filter_agg,
)
from qos_search_indexer.domain.index import INDEX_PATTERN, TIME_FIELD, VIEWS_INDEX_PATTERN
from qos_shared.catalogue import Aggregate, Metric

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
BUCKETS = "time"
#: Where the buckets are in the response (the Vega data's `format.property`).
BUCKETS_PROPERTY = f"aggregations.{BUCKETS}.buckets"

Reader = Callable[[dict[str, Any]], float | None]


def _names(metric: Metric) -> list[tuple[str, Aggregate]]:
    """The metric's aggregates under the names their filter aggregations get."""
    named = [("num", metric.numerator)]
    if metric.denominator is not None and metric.denominator != metric.numerator:
        named.append(("den", metric.denominator))
    return named


def _aggregate_expression(name: str, aggregate: Aggregate, quantile: float | None) -> str:
    """The Vega expression that reads one aggregate's value from a bucket (`datum`)."""
    if aggregate.kind == "count":
        return f"datum.{name}.doc_count"
    if aggregate.kind == "values":
        return f"datum.{name}.v.values[0].value"
    parts = [f"datum.{name}.{sub}.value" for sub in sorted(metric_aggs(aggregate, quantile))]
    return parts[0] if len(parts) == 1 else "(" + " + ".join(parts) + ")"


def _scaled(value: str, scale: float) -> str:
    return value if scale == 1.0 else f"{value} * {scale!r}"


def value_expression(metric: Metric) -> str:
    """The metric's formula as a Vega expression over one time bucket (`datum`)."""
    if metric.kind == "share":
        raise NotExpressible(f"{metric.name} is a share: a pie split by {metric.split_by}")
    num = _aggregate_expression("num", metric.numerator, metric.quantile)
    if metric.kind == "percentile":
        return f"{num} == null ? null : {_scaled(num, metric.scale)}"
    if metric.denominator is None:
        return _scaled(num, metric.scale)
    den_name = "den" if metric.denominator != metric.numerator else "num"
    den = _aggregate_expression(den_name, metric.denominator, None)
    return f"{den} == 0 ? null : {_scaled(f'{num} / {den}', metric.scale)}"


def evaluate(metric: Metric, bucket: dict[str, Any]) -> float | None:
    """`value_expression` computed in Python over one bucket of the response."""
    num = read_filter_agg(metric.numerator, bucket["num"], metric.quantile)
    if metric.kind == "percentile":
        return None if num is None else num * metric.scale
    if metric.denominator is None:
        assert num is not None
        return num * metric.scale
    den_name = "den" if metric.denominator != metric.numerator else "num"
    den = read_filter_agg(metric.denominator, bucket[den_name])
    assert num is not None and den is not None
    return None if den == 0 else num / den * metric.scale


def body(metric: Metric) -> dict[str, Any]:
    """The search body of the panel, with Dashboards' context placeholders."""
    if metric.kind == "share":
        raise NotExpressible(f"{metric.name} is a share: a pie split by {metric.split_by}")
    aggs = {name: filter_agg(a, metric.quantile) for name, a in _names(metric)}
    return {
        "size": 0,
        "aggs": {
            BUCKETS: {
                "date_histogram": {
                    "field": TIME_FIELD,
                    "interval": {"%autointerval%": True},
                    "min_doc_count": 0,
                    "extended_bounds": {
                        "min": {"%timefilter%": "min"},
                        "max": {"%timefilter%": "max"},
                    },
                },
                "aggs": aggs,
            }
        },
    }


def spec(metric: Metric) -> dict[str, Any]:
    """The Vega-Lite spec of the panel: a line over time, gaps where there is no data."""
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "description": f"{metric.title} ({metric.unit}): {metric.description}",
        "data": {
            "url": {
                "index": VIEWS_INDEX_PATTERN if metric.over_views else INDEX_PATTERN,
                "%context%": True,
                "%timefield%": TIME_FIELD,
                "body": body(metric),
            },
            "format": {"property": BUCKETS_PROPERTY},
        },
        "transform": [{"calculate": value_expression(metric), "as": "value"}],
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": {"field": "key", "type": "temporal", "title": None},
            "y": {"field": "value", "type": "quantitative", "title": metric.unit},
        },
    }


def spec_text(metric: Metric) -> str:
    """The spec as the visualization stores it (JSON is valid HJSON)."""
    return json.dumps(spec(metric), indent=2, sort_keys=True)


def _iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def resolve_context(
    url: dict[str, Any],
    *,
    start_ms: int,
    end_ms: int,
    interval: str,
    dashboard_filters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The search body Dashboards sends for a Vega `data.url`: what its query parser does with
    `%context%` (the dashboard's filters), `%timefield%` (the time picker's range), and, in the
    aggregations, `interval: {%autointerval%}` and `{%timefilter%: min|max}`.

    `interval` stands for the one Dashboards picks from the time range (e.g. "1m")."""
    resolved: dict[str, Any] = copy.deepcopy(url["body"])
    if url.get("%context%") or url.get("%timefield%"):
        query: dict[str, Any] = {
            "bool": {"must": [], "filter": list(dashboard_filters or []), "should": []}
        }
        query["bool"]["must_not"] = []
        timefield = url.get("%timefield%")
        if timefield:
            query["bool"]["must"].append(
                {
                    "range": {
                        timefield: {
                            "gte": _iso(start_ms),
                            "lte": _iso(end_ms),
                            "format": "strict_date_optional_time",
                        }
                    }
                }
            )
        resolved["query"] = query

    def inject(node: Any) -> Any:
        if isinstance(node, list):
            return [inject(item) for item in node]
        if not isinstance(node, dict):
            return node
        if node.get("%timefilter%") in ("min", "max"):
            return start_ms if node["%timefilter%"] == "min" else end_ms
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "interval" and isinstance(value, dict) and "%autointerval%" in value:
                out[key] = interval
            else:
                out[key] = inject(value)
        return out

    resolved["aggs"] = inject(resolved.get("aggs", {}))
    return resolved
