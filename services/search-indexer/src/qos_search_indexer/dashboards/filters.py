"""A catalogue `Filter` as OpenSearch query DSL, and as DQL (kuery) text for people to read.

The DSL is what the panels send: standard visualizations carry it as a custom filter of their
search source, Vega panels inside `filter` aggregations. It follows the SQL rendering of
`qos_shared.catalogue_sql` clause for clause:

    metric_type IN (...) AND cond AND cond   ->  bool.filter [terms metric_type, cond, cond]
    clause OR clause                         ->  bool.should [clause, clause], minimum 1
    Eq(field, v)                             ->  term {field: v}
    Gt(field, v)                             ->  range {field: {gt: v}}
    NotNull(field)                           ->  exists {field}

A missing field never matches `term` or `range`, like SQL's NULL never passing `=` or `>`.

The DQL text is the same filter in the query bar's language; it labels the filter (its `alias`)
so the editor shows what a panel counts, and is what a query-string visualization would take.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from qos_shared.catalogue import Clause, Condition, Eq, Filter, Gt

METRIC_TYPE_FIELD = "metric_type"


def condition_query(condition: Condition) -> dict[str, Any]:
    if isinstance(condition, Eq):
        return {"term": {condition.field: condition.value}}
    if isinstance(condition, Gt):
        return {"range": {condition.field: {"gt": condition.value}}}
    return {"exists": {"field": condition.field}}


def clause_query(clause: Clause) -> dict[str, Any]:
    parts = [{"terms": {METRIC_TYPE_FIELD: list(clause.metric_types)}}]
    parts += [condition_query(c) for c in clause.conditions]
    return {"bool": {"filter": parts}}


def filter_query(filter_: Filter) -> dict[str, Any]:
    """The records of the filter, as one query (a bool of should clauses, at least one)."""
    return {
        "bool": {
            "should": [clause_query(c) for c in filter_.clauses],
            "minimum_should_match": 1,
        }
    }


def _dql_value(value: str | bool | int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    # A quoted DQL string: backslash and double quote are escaped.
    return json.dumps(value)


def condition_dql(condition: Condition) -> str:
    if isinstance(condition, Eq):
        return f"{condition.field}:{_dql_value(condition.value)}"
    if isinstance(condition, Gt):
        return f"{condition.field} > {_dql_value(condition.value)}"
    return f"{condition.field}:*"


def clause_dql(clause: Clause) -> str:
    types = [_dql_value(t) for t in clause.metric_types]
    head = types[0] if len(types) == 1 else "(" + " or ".join(types) + ")"
    parts = [f"{METRIC_TYPE_FIELD}:{head}"] + [condition_dql(c) for c in clause.conditions]
    return " and ".join(parts)


def filter_dql(filter_: Filter) -> str:
    """The filter as DQL, e.g. `metric_type:"PLAYBACK_SUMMARY" and playing_time_ms > 0`."""
    clauses = [clause_dql(c) for c in filter_.clauses]
    if len(clauses) == 1:
        return clauses[0]
    return " or ".join(f"({c})" for c in clauses)


def filter_fields(filter_: Filter) -> Iterator[str]:
    """Every field the filter reads."""
    yield METRIC_TYPE_FIELD
    for clause in filter_.clauses:
        for condition in clause.conditions:
            yield condition.field
