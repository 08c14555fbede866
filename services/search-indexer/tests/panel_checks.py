"""Every dashboard panel's search on an OpenSearch node holding `panels_support.generate()`'s
records, checked against an independent computation on the same records:
`qos_shared.testing.oracle` for catalogue KPIs, plain Python (`panels_support.ORIGINAL_TRUTH`)
for the original Kibana panels.

Shared by the panel tests (index design applied by the local indexer's code) and the setup test
(index design applied by the setup custom resource's handler). Tolerances, and why, are in
`integration/test_panels.py`'s docstring.
"""

from __future__ import annotations

import json
import math
from typing import Any

from opensearchpy import OpenSearch, helpers

from qos_search_indexer.api import index_for, view_index_for
from qos_search_indexer.dashboards import panels, vega
from qos_search_indexer.dashboards.panels import Panel
from qos_search_indexer.dashboards.saved_objects import saved_objects
from qos_shared.catalogue import BY_NAME, STREAM_METRIC_TYPES
from qos_shared.testing.oracle import ORACLE, Record, rendition_shares

from .panels_support import (
    ORIGINAL_TRUTH,
    PERCENTILE_VALUES,
    Truth,
    by_minute,
    rank_bounds,
    time_range,
)

PANELS = panels.all_panels()
PLATFORM_FILTERS: list[str | None] = [None, "ios"]


def daily_index(record: Record) -> str:
    """Where the local indexer puts a record: views' or events' daily index by event time."""
    if record["metric_type"] == "VIEW":
        return view_index_for(record["event_time"])
    return index_for(record["event_time"])


def index_records(client: OpenSearch, records: list[Record]) -> list[str]:
    """Index the records as the local indexer does (daily index by event time, a view's into
    the views' indices, id = event_id), searchable on return; returns the daily indices
    written."""
    actions = ({"_index": daily_index(r), "_id": r["event_id"], "_source": r} for r in records)
    indexed_count, errors = helpers.bulk(client, actions, refresh=True)
    assert (indexed_count, errors) == (len(records), [])
    return sorted({daily_index(r) for r in records})


def check_panel(
    client: OpenSearch, panel: Panel, records: list[Record], platform: str | None
) -> None:
    """One panel's search on the node, against the truth (over `platform`'s records if set)."""
    if panel.kind == "vega":
        run_vega(client, panel, records, platform)
    else:
        run_standard(client, panel, records, platform)


def close(got: float | None, expected: float | None) -> bool:
    if got is None or expected is None:
        return got is expected
    return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)


def _percentile_key(panel: Panel) -> str | None:
    """The PERCENTILE_VALUES entry of a percentile panel, None for other panels."""
    if not panel.metrics or panel.metrics[0].type != "percentiles":
        return None
    if panel.metric is not None:
        family = panel.metric.rsplit("_p", 1)[0]
        assert family in PERCENTILE_VALUES, f"add the values of {panel.metric} to panels_support"
        return family
    return panel.id


def check_percentile(
    panel: Panel, key: tuple[Any, ...], got: float | None, records: list[Record]
) -> None:
    """One percentile bucket: within one rank either side of the exact interpolation."""
    family = _percentile_key(panel)
    assert family is not None
    values = PERCENTILE_VALUES[family](records)
    scale = panel.metrics[0].scale
    q = panel.metrics[0].percents[0] / 100
    assert got is not None and values, (panel.id, key)
    low, high = rank_bounds(values, q)
    digits = panel.metrics[0].hdr_digits
    slack = 0.0 if digits is None else 10.0**-digits
    low, high = low * (1 - slack), high * (1 + slack)
    assert low * scale - 1e-9 <= got <= high * scale + 1e-9, (panel.id, key, got, low, high)


def truth_of(panel: Panel, records: list[Record]) -> Truth:
    """The independent truth of a standard panel, keyed like its rows."""
    if panel.id in ORIGINAL_TRUTH:
        return ORIGINAL_TRUTH[panel.id](records)
    assert panel.metric is not None, f"{panel.id} has no truth: add it to ORIGINAL_TRUTH"
    if panel.kind == "pie":
        return {(name,): (share,) for name, share in rendition_shares(records).items()}
    oracle = ORACLE[panel.metric]
    return {(minute,): (oracle(group),) for minute, group in by_minute(records).items()}


def empty(value: float | None) -> bool:
    """What a metric is over no records: 0 for counts and sums, None (no data) otherwise."""
    return value is None or value == 0


def run_standard(
    client: OpenSearch, panel: Panel, records: list[Record], platform: str | None
) -> None:
    start, end = time_range(records)
    dashboard_filters = (
        [] if platform is None else [{"match_phrase": {"client_platform": platform}}]
    )
    body = panels.search_body(
        panel, start_ms=start, end_ms=end, interval="1m", dashboard_filters=dashboard_filters
    )
    rows = panels.read_rows(panel, client.search(index=panel.index_pattern, body=body))
    if panel.kind == "pie":
        # The pie shows each slice's share of the slices' total.
        total = sum(v[0] or 0.0 for _, v in rows)
        rows = [(k, (None if total == 0 else (v[0] or 0.0) / total * 100,)) for k, v in rows]
    scope = [r for r in records if platform is None or r.get("client_platform") == platform]
    truth = truth_of(panel, scope)
    if (
        platform is not None
        and panel.filter is not None
        and panel.filter.metric_types <= set(STREAM_METRIC_TYPES)
    ):
        # IVS stream records have no platform: a platform filter leaves none of them.
        assert not rows and not any(v for values in truth.values() for v in values), panel.id
        return
    assert rows, f"{panel.id}: no rows"
    for key, values in rows:
        assert key in truth, (panel.id, key, "a bucket the truth does not have")
        for i, got in enumerate(values):
            if _percentile_key(panel) is not None:
                minute_records = by_minute(scope)[key[0]]
                check_percentile(panel, key, got, minute_records)
                assert truth[key][i] is not None
            else:
                assert close(got, truth[key][i]), (panel.id, key, got, truth[key][i])
    # Buckets are left out only where the panel's records are none: an empty metric.
    shown = {key for key, _ in rows}
    for key, expected in truth.items():
        if key not in shown:
            assert all(empty(v) for v in expected), (panel.id, key, expected)


def run_vega(client: OpenSearch, panel: Panel, records: list[Record], platform: str | None) -> None:
    """The body stored in the saved object's spec, resolved as Dashboards resolves it."""
    assert panel.metric is not None
    [obj] = [o for o in saved_objects() if o["id"] == panel.id]
    spec = json.loads(json.loads(obj["attributes"]["visState"])["params"]["spec"])
    start, end = time_range(records)
    dashboard_filters = (
        [] if platform is None else [{"match_phrase": {"client_platform": platform}}]
    )
    body = vega.resolve_context(
        spec["data"]["url"],
        start_ms=start,
        end_ms=end,
        interval="1m",
        dashboard_filters=dashboard_filters,
    )
    # What panels.search_body renders for the panel is that very body.
    assert body == panels.search_body(
        panel, start_ms=start, end_ms=end, interval="1m", dashboard_filters=dashboard_filters
    )
    assert spec["data"]["url"]["index"] == panel.index_pattern
    response = client.search(index=spec["data"]["url"]["index"], body=body)
    buckets = response["aggregations"][vega.BUCKETS]["buckets"]
    assert spec["data"]["format"]["property"] == vega.BUCKETS_PROPERTY
    # extended_bounds: a bucket for every minute of the range, data or not.
    assert [b["key"] for b in buckets] == list(range(start, end, 60_000))
    scope = by_minute(
        r for r in records if platform is None or r.get("client_platform") == platform
    )
    metric = BY_NAME[panel.metric]
    nulls = 0
    for bucket in buckets:
        got = vega.evaluate(metric, bucket)
        expected = ORACLE[panel.metric](scope.get(bucket["key"], []))
        assert close(got, expected), (panel.id, bucket["key"], got, expected)
        nulls += got is None
    assert nulls < len(buckets), f"{panel.id}: no data at all"
