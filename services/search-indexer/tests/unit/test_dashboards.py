"""The dashboards' saved objects: the committed file is current, every object is well formed
for an OpenSearch Dashboards 2.x import, names only mapped fields, and every KPI has a panel."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qos_search_indexer.dashboards import DEFAULT_PATH, panels, vega
from qos_search_indexer.dashboards.__main__ import main
from qos_search_indexer.dashboards.aggregations import always_present, filter_agg
from qos_search_indexer.dashboards.filters import filter_dql, filter_query
from qos_search_indexer.dashboards.saved_objects import (
    DASHBOARD_ID,
    INDEX_PATTERN_ID,
    SEARCH_INDEX_REF,
    VIEWS_INDEX_PATTERN_ID,
    VIEWS_SEARCH_ID,
    render_ndjson,
    section_id,
    views_search_body,
)
from qos_search_indexer.domain.index import (
    INDEX_PATTERN,
    TIME_FIELD,
    VIEWS_INDEX_PATTERN,
    field_types,
)
from qos_shared.catalogue import (
    ATTEMPTS,
    BY_NAME,
    CATALOGUE,
    LIVE_SUMMARIES,
    PLAYING_SUMMARIES,
    SECTIONS,
    SUMMARIES,
    Filter,
)
from qos_shared.views import VIEW_FIELDS

README = Path(__file__).resolve().parents[2] / "README.md"
FIELDS = field_types()
VIEW_FIELD_TYPES = field_types(views=True)
PANELS_BY_ID = {p.id: p for p in panels.all_panels()}


def over_views(obj: dict[str, Any]) -> bool:
    """Whether a visualization is a panel over the views' indices."""
    panel = PANELS_BY_ID.get(obj["id"])
    return panel is not None and panel.over_views


def fields_of(obj: dict[str, Any]) -> dict[str, str]:
    """The mapped fields of the indices the visualization searches."""
    return VIEW_FIELD_TYPES if over_views(obj) else FIELDS


# What OpenSearch Dashboards' saved-object mappings declare per type: the .kibana index maps
# them strictly, so an attribute outside these fails the import.
ALLOWED_ATTRIBUTES = {
    "visualization": {
        "description",
        "kibanaSavedObjectMeta",
        "savedSearchRefName",
        "title",
        "uiStateJSON",
        "version",
        "visState",
    },
    "dashboard": {
        "description",
        "hits",
        "kibanaSavedObjectMeta",
        "optionsJSON",
        "panelsJSON",
        "refreshInterval",
        "timeFrom",
        "timeRestore",
        "timeTo",
        "title",
        "version",
    },
    "index-pattern": {"fieldFormatMap", "fields", "timeFieldName", "title"},
    "search": {
        "columns",
        "description",
        "hits",
        "kibanaSavedObjectMeta",
        "sort",
        "title",
        "version",
    },
}
NUMERIC = {"long", "double"}


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in render_ndjson().decode().splitlines()]


def by_type(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["type"] == kind]


def vis_state(obj: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(obj["attributes"]["visState"])
    return state


def search_source(obj: dict[str, Any]) -> dict[str, Any]:
    source: dict[str, Any] = json.loads(
        obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]
    )
    return source


# --- the file ------------------------------------------------------------------------------


def test_the_committed_file_is_current() -> None:
    assert DEFAULT_PATH.read_bytes() == render_ndjson(), (
        "run `python -m qos_search_indexer.dashboards generate` and commit the file"
    )


def test_generation_is_deterministic() -> None:
    assert render_ndjson() == render_ndjson()


def test_every_line_is_a_saved_object(objects: list[dict[str, Any]]) -> None:
    text = render_ndjson().decode()
    assert text.endswith("\n") and "\n\n" not in text
    for obj in objects:
        assert set(obj) == {"attributes", "id", "migrationVersion", "references", "type"}
        assert set(obj["attributes"]) <= ALLOWED_ATTRIBUTES[obj["type"]], obj["id"]
        for name in ("visState", "uiStateJSON", "panelsJSON", "optionsJSON", "fields"):
            if name in obj["attributes"]:
                assert isinstance(obj["attributes"][name], str)
                json.loads(obj["attributes"][name])
        if "kibanaSavedObjectMeta" in obj["attributes"]:
            search_source(obj)


def test_ids_are_unique_and_every_reference_resolves(objects: list[dict[str, Any]]) -> None:
    ids = [(o["type"], o["id"]) for o in objects]
    assert len(ids) == len(set(ids))
    known = set(ids)
    for obj in objects:
        names = [r["name"] for r in obj["references"]]
        assert len(names) == len(set(names)), obj["id"]
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in known, (obj["id"], ref)


# --- the index pattern ----------------------------------------------------------------------


def test_the_index_pattern(objects: list[dict[str, Any]]) -> None:
    [pattern] = [o for o in by_type(objects, "index-pattern") if o["id"] == INDEX_PATTERN_ID]
    attributes = pattern["attributes"]
    assert pattern["id"] == INDEX_PATTERN_ID
    assert attributes["title"] == INDEX_PATTERN == "qos-events-*"
    assert attributes["timeFieldName"] == TIME_FIELD == "event_time"
    listed = {f["name"]: f for f in json.loads(attributes["fields"])}
    for name, es_type in FIELDS.items():
        if es_type != "object":
            assert listed[name]["esTypes"] == [es_type], name
    assert listed["event_time"]["type"] == "date"
    assert listed["viewer_location"]["type"] == "geo_point"
    assert listed["error_message"]["aggregatable"] is False
    assert listed["error_message.keyword"]["subType"] == {"multi": {"parent": "error_message"}}
    formats = json.loads(attributes["fieldFormatMap"])
    assert set(formats) <= set(FIELDS)
    assert formats["startup_latency_ms"]["params"]["outputFormat"] == "asSeconds"


def test_the_views_index_pattern_lists_every_view_field(objects: list[dict[str, Any]]) -> None:
    [pattern] = [o for o in by_type(objects, "index-pattern") if o["id"] == VIEWS_INDEX_PATTERN_ID]
    attributes = pattern["attributes"]
    assert attributes["title"] == VIEWS_INDEX_PATTERN == "qos-views-*"
    assert attributes["timeFieldName"] == "event_time"  # the view's close time
    listed = {f["name"]: f for f in json.loads(attributes["fields"]) if "esTypes" in f}
    expected = {"STRING": "keyword", "BIGINT": "long", "DOUBLE": "double", "BOOLEAN": "boolean"}
    dates = {"event_time", "view_start", "view_end", "attempt_time", "first_frame_time"}
    for name, kind in VIEW_FIELDS.items():
        want = "date" if name in dates | {"fatal_time"} else expected[kind]
        assert listed[name]["esTypes"] == [want], name
    assert set(listed) == set(VIEW_FIELDS) | {"_id", "_index", "_source"}
    formats = json.loads(attributes["fieldFormatMap"])
    assert set(formats) <= set(VIEW_FIELDS)
    assert formats["startup_latency_ms"]["params"]["outputFormat"] == "asSeconds"


def test_the_saved_search_lists_views_worst_score_first(objects: list[dict[str, Any]]) -> None:
    [search] = by_type(objects, "search")
    assert search["id"] == VIEWS_SEARCH_ID
    attributes = search["attributes"]
    assert attributes["sort"][0] == ["score", "asc"]
    parts = {"score", "score_failure", "score_startup", "score_smoothness", "score_quality"}
    assert parts | {"outcome", "session_id"} <= set(attributes["columns"])
    assert set(attributes["columns"]) <= set(VIEW_FIELDS)
    assert search_source(search)["indexRefName"] == SEARCH_INDEX_REF
    assert search["references"] == [
        {"id": VIEWS_INDEX_PATTERN_ID, "name": SEARCH_INDEX_REF, "type": "index-pattern"}
    ]
    body = views_search_body(start_ms=0, end_ms=1)
    assert body["sort"][0] == {"score": {"order": "asc"}}
    [board] = by_type(objects, "dashboard")
    assert {"id": VIEWS_SEARCH_ID, "type": "search"} in [
        {"id": r["id"], "type": r["type"]} for r in board["references"]
    ]


# --- visualizations ---------------------------------------------------------------------------


def test_every_visualization_names_its_index_pattern(objects: list[dict[str, Any]]) -> None:
    for obj in by_type(objects, "visualization"):
        state = vis_state(obj)
        source = search_source(obj)
        refs = {r["name"]: r for r in obj["references"]}
        kind = state["type"]
        assert state["title"] == obj["attributes"]["title"]
        pattern_id = VIEWS_INDEX_PATTERN_ID if over_views(obj) else INDEX_PATTERN_ID
        if kind in ("line", "metric", "pie", "tile_map"):
            # As Dashboards 2.x exports: the search source names a reference, not an id.
            assert "index" not in source
            assert source["indexRefName"] == SEARCH_INDEX_REF
            assert refs[SEARCH_INDEX_REF] == {
                "id": pattern_id,
                "name": SEARCH_INDEX_REF,
                "type": "index-pattern",
            }
            for i, custom in enumerate(source["filter"]):
                name = f"kibanaSavedObjectMeta.searchSourceJSON.filter[{i}].meta.index"
                assert custom["meta"]["indexRefName"] == name and "index" not in custom["meta"]
                assert refs[name]["id"] == pattern_id
        elif kind == "input_control_vis":
            for i, control in enumerate(state["params"]["controls"]):
                assert "indexPattern" not in control
                assert control["indexPatternRefName"] == f"control_{i}_index_pattern"
                assert refs[control["indexPatternRefName"]]["id"] == INDEX_PATTERN_ID
        elif kind == "vega":
            # Vega names its index by title in the spec; it has no references.
            spec = json.loads(state["params"]["spec"])
            pattern = VIEWS_INDEX_PATTERN if over_views(obj) else INDEX_PATTERN
            assert spec["data"]["url"]["index"] == pattern
            assert spec["data"]["url"]["%timefield%"] == TIME_FIELD
            assert spec["data"]["url"]["%context%"] is True
            assert refs == {}
        else:
            assert kind == "markdown" and refs == {}, obj["id"]


def _dsl_fields(node: Any) -> Iterator[str]:
    """Field names a query/aggregation DSL reads."""
    if isinstance(node, list):
        for item in node:
            yield from _dsl_fields(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("term", "terms", "range") and isinstance(value, dict):
                yield from (k for k in value if k not in ("boost",))
            elif key == "exists":
                yield value["field"]
            elif key == "field" and isinstance(value, str):
                yield value
            elif key == "source" and isinstance(value, str):
                yield from re.findall(r"doc\['([^']+)'\]", value)
            elif key == "%timefield%":
                yield value
            else:
                yield from _dsl_fields(value)


def _agg_field_type_ok(agg_type: str, es_type: str) -> bool:
    return {
        "sum": es_type in NUMERIC,
        "avg": es_type in NUMERIC,
        "percentiles": es_type in NUMERIC,
        "cardinality": es_type in NUMERIC | {"keyword", "boolean", "date"},
        "terms": es_type in NUMERIC | {"keyword", "boolean"},
        "date_histogram": es_type == "date",
        "geohash_grid": es_type == "geo_point",
    }[agg_type]


def test_visualizations_name_only_mapped_fields_of_the_right_type(
    objects: list[dict[str, Any]],
) -> None:
    seen: set[str] = set()
    for obj in by_type(objects, "visualization"):
        state = vis_state(obj)
        FIELDS = fields_of(obj)  # noqa: N806 - the module's name, for this object's index
        for agg in state.get("aggs", []):
            name = agg["params"].get("field")
            if agg["type"] == "count":
                assert name is None
                continue
            assert name in FIELDS, (obj["id"], name)
            assert _agg_field_type_ok(agg["type"], FIELDS[name]), (obj["id"], agg["type"], name)
            seen.add(name)
        for control in state["params"].get("controls", []):
            assert FIELDS.get(control["fieldName"]) == "keyword", control
            seen.add(control["fieldName"])
        for name in _dsl_fields(search_source(obj)):
            assert name in FIELDS, (obj["id"], name)
            seen.add(name)
        if state["type"] == "vega":
            # The search it sends (not the chart's encoding: those are the response's fields).
            url = json.loads(state["params"]["spec"])["data"]["url"]
            for name in _dsl_fields(url):
                assert name in FIELDS, (obj["id"], name)
                seen.add(name)
    # The walk did find the fields (a broken walker would pass everything).
    assert {"session_id", "playing_time_ms", "is_live", "metric_type", "viewer_location"} <= seen
    assert {"outcome", "score", "channel_watched"} <= seen  # and the views' panels


def test_every_catalogue_metric_has_a_panel_or_a_documented_exclusion(
    objects: list[dict[str, Any]],
) -> None:
    drawn = {p.metric for p in panels.all_panels() if p.metric}
    for metric in CATALOGUE:
        assert (metric.name in drawn) != (metric.name in panels.EXCLUDED), metric.name
    readme = README.read_text()
    for name in panels.EXCLUDED:
        assert f"`{name}`" in readme, f"README must say why {name} is left out"
    for title in panels.OUT_OF_SCOPE:
        assert title in readme
    ids = {o["id"] for o in by_type(objects, "visualization")}
    assert {p.id for p in panels.all_panels()} <= ids


def test_every_catalogue_kpi_is_in_the_ndjson_as_its_entry_presents_it(
    objects: list[dict[str, Any]],
) -> None:
    """Read from the rendered saved objects, not from the panel list: each catalogue KPI's
    visualization is on the dashboard under its section's header, with the catalogue's title,
    a pie exactly when its chart is one, and the original panel it stands for in its
    description; the sections come in the catalogue's order."""
    visualizations = {o["id"]: o for o in by_type(objects, "visualization")}
    [board] = by_type(objects, "dashboard")
    on_board = [ref["id"] for ref in board["references"]]
    headers = [section_id(s.name) for s in SECTIONS]
    assert [i for i in on_board if i in headers] == headers
    section_at: dict[str, str | None] = {}
    current: str | None = None
    for object_id in on_board:
        current = object_id if object_id in headers else current
        section_at[object_id] = current
    for metric in CATALOGUE:
        if metric.name in panels.EXCLUDED:
            continue
        shown = metric.presentation
        vis_id = panels.panel_id(metric.name)
        assert vis_id in on_board, f"{metric.name} is not on the OpenSearch dashboard"
        assert section_at[vis_id] == section_id(shown.section), metric.name
        attributes = visualizations[vis_id]["attributes"]
        assert attributes["title"] == f"{metric.title} ({metric.unit})", metric.name
        assert (vis_state(visualizations[vis_id])["type"] == "pie") == (shown.chart == "pie")
        if shown.original_panel is not None:
            assert f'"{shown.original_panel}"' in attributes["description"], metric.name


def test_the_original_kibana_panels_we_can_feed_are_there() -> None:
    originals = {p.original for p in panels.all_panels() if p.original}
    for title in (
        "Concurrent Viewers",
        "Concurrent Viewers By Platform",
        "Number of Viewers Start / Stop Watching",
        "Total Watch Time + Unique Sessions",
        "Playing Time (geo tile map)",
        "Percent of Buffer Time",
        "Percent Renditions",
        "Median Startup Latency",
        "Median Live Latency",
        "Median Playback Errors",
    ):
        assert title in originals, title


def test_ratios_are_vega_and_the_rest_standard() -> None:
    kinds = {p.metric: p.kind for p in panels.all_panels() if p.metric}
    for metric in CATALOGUE:
        expected = {"ratio": "vega", "share": "pie"}.get(metric.kind, "line")
        assert kinds[metric.name] == expected, metric.name


def test_standard_panels_show_the_metric_in_its_unit() -> None:
    for panel in panels.all_panels():
        if panel.metric and panel.kind == "line":
            [agg] = panel.metrics
            assert agg.scale == BY_NAME[panel.metric].scale, panel.id


def test_input_controls_cover_platform_channel_and_country(objects: list[dict[str, Any]]) -> None:
    [controls] = [
        o for o in by_type(objects, "visualization") if vis_state(o)["type"] == "input_control_vis"
    ]
    fields = [c["fieldName"] for c in vis_state(controls)["params"]["controls"]]
    assert fields == ["client_platform", "channel_watched", "viewer_country"]


# --- the dashboard ------------------------------------------------------------------------------


def test_the_dashboard_lays_out_every_visualization(objects: list[dict[str, Any]]) -> None:
    [dashboard] = by_type(objects, "dashboard")
    assert dashboard["id"] == DASHBOARD_ID
    entries = json.loads(dashboard["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dashboard["references"]}
    assert [e["panelRefName"] for e in entries] == list(refs)
    shown = by_type(objects, "visualization") + by_type(objects, "search")
    assert {r["id"] for r in refs.values()} == {o["id"] for o in shown}
    cells: set[tuple[int, int]] = set()
    for entry in entries:
        grid = entry["gridData"]
        assert grid["i"] == entry["panelIndex"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 48
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"panels overlap at {(x, y)}"
                cells.add((x, y))
    assert len({e["panelIndex"] for e in entries}) == len(entries)


# --- filters, aggregations, formulas ------------------------------------------------------------


def test_filters_as_query_dsl() -> None:
    assert filter_query(LIVE_SUMMARIES) == {
        "bool": {
            "should": [
                {
                    "bool": {
                        "filter": [
                            {"terms": {"metric_type": ["PLAYBACK_SUMMARY"]}},
                            {"term": {"is_live": True}},
                            {"exists": {"field": "live_latency_ms"}},
                        ]
                    }
                }
            ],
            "minimum_should_match": 1,
        }
    }
    assert filter_query(PLAYING_SUMMARIES)["bool"]["should"][0]["bool"]["filter"][1] == {
        "range": {"playing_time_ms": {"gt": 0}}
    }
    assert len(filter_query(ATTEMPTS)["bool"]["should"]) == 2


def test_filters_as_dql() -> None:
    assert filter_dql(SUMMARIES) == 'metric_type:"PLAYBACK_SUMMARY"'
    assert filter_dql(LIVE_SUMMARIES) == (
        'metric_type:"PLAYBACK_SUMMARY" and is_live:true and live_latency_ms:*'
    )
    assert filter_dql(ATTEMPTS) == (
        '(metric_type:"ATTEMPT") or (metric_type:"PLAY" and source_format:"legacy")'
    )
    assert filter_dql(Filter.of("PLAY", "STOP")) == 'metric_type:("PLAY" or "STOP")'
    assert filter_dql(PLAYING_SUMMARIES).endswith("playing_time_ms > 0")


def test_presence_follows_the_models() -> None:
    assert always_present("playing_time_ms", SUMMARIES)  # required by PlaybackSummary
    assert always_present("live_latency_ms", LIVE_SUMMARIES)  # NotNull in the filter
    assert not always_present("live_latency_ms", SUMMARIES)  # optional
    assert not always_present("bitrate_bps", SUMMARIES)
    assert not always_present("startup_latency_ms", ATTEMPTS)  # ATTEMPT has none


def test_watch_time_is_two_field_sums_and_bitrate_a_guarded_product() -> None:
    watch = BY_NAME["rebuffering_ratio"].denominator
    assert watch is not None
    assert filter_agg(watch)["aggs"] == {
        "v0": {"sum": {"field": "playing_time_ms"}},
        "v1": {"sum": {"field": "buffering_time_ms"}},
    }
    weighted = filter_agg(BY_NAME["average_bitrate"].numerator)["aggs"]["v"]["sum"]["script"]
    assert weighted["source"] == (
        "doc['bitrate_bps'].size() == 0 || doc['playing_time_ms'].size() == 0 ? 0.0 : "
        "(((double) doc['bitrate_bps'].value) * ((double) doc['playing_time_ms'].value))"
    )


def test_ratio_formulas_are_null_on_an_empty_denominator() -> None:
    vsf = BY_NAME["video_start_failure"]
    assert vega.value_expression(vsf) == (
        "datum.den.doc_count == 0 ? null : datum.num.doc_count / datum.den.doc_count * 100.0"
    )
    assert vega.evaluate(vsf, {"num": {"doc_count": 0}, "den": {"doc_count": 0}}) is None
    assert vega.evaluate(vsf, {"num": {"doc_count": 1}, "den": {"doc_count": 4}}) == 25.0
    ratio = BY_NAME["rebuffering_ratio"]
    assert vega.value_expression(ratio) == (
        "(datum.den.v0.value + datum.den.v1.value) == 0 ? null : "
        "datum.num.v.value / (datum.den.v0.value + datum.den.v1.value) * 100.0"
    )
    bucket = {"num": {"v": {"value": 2.0}}, "den": {"v0": {"value": 6.0}, "v1": {"value": 2.0}}}
    assert vega.evaluate(ratio, bucket) == 25.0


def test_vega_context_is_resolved_like_dashboards_does() -> None:
    spec = vega.spec(BY_NAME["playback_failure"])
    body = vega.resolve_context(spec["data"]["url"], start_ms=0, end_ms=60_000, interval="1m")
    histogram = body["aggs"]["time"]["date_histogram"]
    assert histogram["interval"] == "1m"
    assert histogram["extended_bounds"] == {"min": 0, "max": 60_000}
    assert body["query"]["bool"]["must"] == [
        {
            "range": {
                "event_time": {
                    "gte": "1970-01-01T00:00:00.000Z",
                    "lte": "1970-01-01T00:01:00.000Z",
                    "format": "strict_date_optional_time",
                }
            }
        }
    ]
    assert "%" not in json.dumps(body)


def test_standard_search_bodies_nest_buckets_around_metrics() -> None:
    panel = next(p for p in panels.all_panels() if p.id == "qos-concurrent-viewers-by-platform")
    body = panels.search_body(panel, start_ms=0, end_ms=1)
    histogram = body["aggs"]["2"]
    assert histogram["date_histogram"]["field"] == "event_time"
    terms = histogram["aggs"]["3"]
    assert terms["terms"]["field"] == "client_platform"
    assert terms["aggs"]["1"]["cardinality"] == {
        "field": "session_id",
        "precision_threshold": 40_000,
    }
    assert body["query"]["bool"]["filter"][0] == filter_query(SUMMARIES)


def test_json_input_is_what_the_search_body_adds(objects: list[dict[str, Any]]) -> None:
    """The saved visualization's "JSON input" (merged into the aggregation by Dashboards) holds
    exactly the keys `search_body` adds beyond the field and percents, for every metric."""
    states = {
        obj["id"]: json.loads(obj["attributes"]["visState"])
        for obj in objects
        if obj["type"] == "visualization"
    }
    hdr = set()
    for panel in panels.all_panels():
        if panel.kind == "vega":
            continue
        aggs = {a["id"]: a for a in states[panel.id]["aggs"]}
        for metric_id, agg in zip(panel.metric_ids(), panel.metrics, strict=True):
            sent = panels.metric_dsl(agg)
            saved = aggs[metric_id]["params"].get("json")
            if sent is None:
                assert saved is None
                continue
            extra = {k: v for k, v in sent[agg.type].items() if k not in ("field", "percents")}
            assert (json.loads(saved) if saved else {}) == extra, panel.id
            if "hdr" in extra:
                hdr.add(panel.id)
    assert hdr == {
        "qos-median-buffer-count",
        "qos-median-buffer-time",
        "qos-median-playback-errors",
    }


# --- the command line ---------------------------------------------------------------------------


def test_generate_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d" / "qos.ndjson"
    assert main(["generate", "--out", str(out)]) == 0
    assert out.read_bytes() == render_ndjson()
    assert main(["generate", "--check", "--out", str(out)]) == 0
    out.write_bytes(out.read_bytes().replace(b"Startup", b"Stale", 1))
    capsys.readouterr()
    assert main(["generate", "--check", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "stale" in err and err.count("\n") == 1


def test_bad_input_is_one_line_and_a_nonzero_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QOS_DASHBOARDS_PASSWORD", raising=False)
    cases = [
        (["import", "--endpoint", "ftp://example"], 2, "not an http(s)"),
        (["import", "--endpoint", "http://127.0.0.1:9", "--user", "admin"], 2, "not set"),
        (["import", "--endpoint", "http://x", "--file", str(tmp_path / "none")], 2, "cannot read"),
        (["generate", "--check", "--out", str(tmp_path / "none")], 1, "cannot read"),
        (["generate", "--check", "--out", "-"], 2, "--check"),
    ]
    for argv, code, words in cases:
        assert main(argv) == code, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and err.count("\n") == 1, err
        assert "Traceback" not in err


def test_import_of_an_unreachable_dashboards_fails_cleanly(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Port 9 (discard) on the loopback: nothing listens, the connection is refused.
    assert main(["import", "--endpoint", "http://127.0.0.1:9", "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach http://127.0.0.1:9/api/saved_objects/_import")
