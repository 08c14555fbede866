"""Every dashboard panel's search against a real OpenSearch node, checked against an independent
computation on the same records: `qos_shared.testing.oracle` for catalogue KPIs, plain Python
(`panels_support.ORIGINAL_TRUTH`) for the original Kibana panels.

The records go through the real index design (`apply_index_design`: templates, mappings, the
pipeline that makes `viewer_location`), with the view records the realtime engine would build
from them in the views' indices (the panels over views search those). Each panel runs twice:
over everything, and with the dashboard filtered to one platform (as the Platform control does),
against the truth on that platform's records. Time buckets are one minute (Dashboards would
pick the interval from the time range).

Tolerances, and why:
- exact up to float rounding (relative 1e-9) for counts, sums, distinct counts (cardinality is
  exact below `precision_threshold`, 40000 here) and every ratio;
- percentiles: OpenSearch estimates them with a t-digest (documented as approximate; with fewer
  values than its compression, 100, each value is its own centroid) and interpolates between
  centroid midpoints rather than numpy's closest ranks, so the estimate must lie within one rank
  either side of the two ranks the exact value interpolates between; an HDR percentile
  (`MetricAgg.hdr_digits` d) is a value at a rank, recorded within a relative 10^-d, so the
  same bounds widened by that.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch

from qos_search_indexer.api import INDEX_PATTERN, apply_index_design, client_for
from qos_search_indexer.dashboards.panels import Panel
from qos_shared.testing.oracle import ORACLE, Record

from ..panel_checks import PANELS, PLATFORM_FILTERS, check_panel, index_records
from ..panels_support import ORIGINAL_TRUTH, generate, with_views


@pytest.fixture(scope="module")
def indexed(opensearch_url: str) -> Iterator[tuple[OpenSearch, list[Record]]]:
    client = client_for(opensearch_url)
    apply_index_design(client)
    records = with_views(generate())
    indices = index_records(client, records)
    try:
        yield client, records
    finally:
        client.indices.delete(index=",".join(indices), ignore_unavailable=True)
        client.close()


def test_the_pipeline_and_the_generator_gave_what_the_panels_need(
    indexed: tuple[OpenSearch, list[Record]],
) -> None:
    client, records = indexed
    located = client.count(
        index=INDEX_PATTERN, body={"query": {"exists": {"field": "viewer_location"}}}
    )
    assert located["count"] == sum(1 for r in records if r.get("viewer_latitude") is not None)
    kinds = {r["metric_type"] for r in records}
    assert kinds == {
        "ATTEMPT",
        "PLAY",
        "PLAYBACK_SUMMARY",
        "QUALITY_CHANGED",
        "STOP",
        "ERROR",
        "VIEW",
        "STREAM_STATE",
        "STREAM_HEALTH",
    }
    streams = [r for r in records if r["metric_type"] == "STREAM_STATE"]
    assert {r["event_name"] for r in streams} >= {"Stream Start", "Stream End", "Stream Failure"}
    errors = [r for r in records if r["metric_type"] == "ERROR"]
    assert {(r["fatal"], r["phase"]) for r in errors} >= {(True, "startup"), (True, "playback")}
    assert any(r["metric_type"] == "PLAY" and r["source_format"] == "legacy" for r in records)
    assert any(r.get("exit_before_start") is True for r in records)
    summaries = [r for r in records if r["metric_type"] == "PLAYBACK_SUMMARY"]
    assert any(r["playing_time_ms"] == 0 for r in summaries)  # paused: a session, not a viewer
    assert any("rendition_name" not in r for r in summaries)
    assert {r["is_live"] for r in summaries} == {True, False}


@pytest.mark.parametrize("platform", PLATFORM_FILTERS, ids=lambda p: p or "all")
@pytest.mark.parametrize("panel", PANELS, ids=lambda p: p.id)
def test_panel_matches_the_independent_truth(
    indexed: tuple[OpenSearch, list[Record]], panel: Panel, platform: str | None
) -> None:
    client, records = indexed
    check_panel(client, panel, records, platform)


def test_every_panel_is_checked() -> None:
    """Every standard panel has a truth and every Vega panel an oracle entry."""
    for panel in PANELS:
        if panel.metric is not None:
            assert panel.metric in ORACLE or panel.kind == "pie", panel.id
        else:
            assert panel.id in ORIGINAL_TRUTH, panel.id
