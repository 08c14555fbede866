"""The panels as OpenSearch Dashboards 2.x saved objects, one NDJSON line each.

The shapes are those Dashboards 2.x exports (Stack Management > Saved objects > Export), so the
file imports as is through `POST /api/saved_objects/_import`:

- objects carry `migrationVersion` at the latest migration of their type (visualization 7.10.0,
  dashboard 7.9.3, index-pattern 7.6.0), so the import runs none of the legacy migrations;
- a visualization names its index pattern through `references`: the search source has
  `indexRefName: kibanaSavedObjectMeta.searchSourceJSON.index` (and each filter
  `meta.indexRefName: ...filter[i].meta.index`), an input control `indexPatternRefName:
  control_<i>_index_pattern`, and the dashboard each panel by `panelRefName: panel_<i>`;
- JSON-in-a-string attributes (`visState`, `uiStateJSON`, `searchSourceJSON`, `panelsJSON`,
  `optionsJSON`, `fields`, `fieldFormatMap`) are strings, as the mappings declare them;
- a Vega visualization names its index by title in its spec (Vega has no references);
- two index patterns: the events' (`qos-events-*`) and the views' (`qos-views-*`), each panel
  referencing the one of its indices (`Panel.over_views`); a saved search lists the views, worst
  experience score first, with the score's parts.

Ids are fixed (`qos-…`), keys sorted and separators compact, so the committed file changes only
when the catalogue or the panels do, and an import with overwrite updates in place.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from qos_search_indexer.dashboards import vega
from qos_search_indexer.dashboards.filters import filter_dql, filter_query
from qos_search_indexer.dashboards.panels import (
    FIELD_FORMATS,
    BucketAgg,
    MetricAgg,
    Panel,
    all_panels,
    json_input,
    panel_id,
)
from qos_search_indexer.domain.index import (
    INDEX_PATTERN,
    TIME_FIELD,
    VIEWS_INDEX_PATTERN,
    field_types,
)
from qos_shared.catalogue import BY_NAME, SECTIONS

INDEX_PATTERN_ID = "qos-events"
VIEWS_INDEX_PATTERN_ID = "qos-views"
VIEWS_SEARCH_ID = "qos-views-worst-first"
VIEWS_SEARCH_TITLE = "Views, worst experience score first"
#: The saved search's columns: who and what, the outcome, the score and its parts, the measures.
VIEWS_SEARCH_COLUMNS: tuple[str, ...] = (
    "session_id",
    "client_platform",
    "channel_watched",
    "viewer_country",
    "outcome",
    "score",
    "score_failure",
    "score_startup",
    "score_smoothness",
    "score_quality",
    "startup_latency_ms",
    "playing_time_ms",
    "buffering_time_ms",
    "buffering_count",
    "error_count",
    "average_bitrate_bps",
    "view_start",
)
DASHBOARD_ID = "qos-dashboard"
CONTROLS_ID = panel_id("controls")
INTRO_ID = panel_id("intro")
DASHBOARD_TITLE = "QoS: video quality of experience"

#: The version stamped on dashboard panels (Dashboards 2.x writes its own version there).
PANEL_VERSION = "2.19.0"
MIGRATION_VERSION = {
    "visualization": {"visualization": "7.10.0"},
    "dashboard": {"dashboard": "7.9.3"},
    "index-pattern": {"index-pattern": "7.6.0"},
    "search": {"search": "7.9.3"},
}
SEARCH_INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"

#: The dashboard's filter controls: (field, label).
CONTROLS: tuple[tuple[str, str], ...] = (
    ("client_platform", "Platform"),
    ("channel_watched", "Channel"),
    ("viewer_country", "Country"),
)

GRID_COLUMNS = 48
PANEL_HEIGHT = 12
HEADER_HEIGHT = 4
WIDTHS = {"tile_map": 32, "pie": 16, "metric": 16, "line": 16, "vega": 16}


def dumps(value: Any) -> str:
    """Deterministic compact JSON (the strings inside saved objects, and each NDJSON line)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# The index pattern

_OSD_TYPES = {
    "keyword": "string",
    "text": "string",
    "long": "number",
    "double": "number",
    "date": "date",
    "boolean": "boolean",
    "geo_point": "geo_point",
}


def index_pattern_fields(*, views: bool = False) -> list[dict[str, Any]]:
    """The index pattern's field list (the events', or the views' with `views`), as Dashboards
    reads it from `_field_caps`: every mapped leaf field (objects kept only in `_source` are not
    fields) and the meta fields."""
    fields: list[dict[str, Any]] = [
        _meta_field("_id", "string", aggregatable=True, searchable=True),
        _meta_field("_index", "string", aggregatable=True, searchable=True),
        {
            "aggregatable": False,
            "count": 0,
            "name": "_score",
            "readFromDocValues": False,
            "scripted": False,
            "searchable": False,
            "type": "number",
        },
        _meta_field("_source", "_source", aggregatable=False, searchable=False),
    ]
    for name, es_type in sorted(field_types(views=views).items()):
        osd_type = _OSD_TYPES.get(es_type)
        if osd_type is None:
            continue
        doc_values = es_type != "text"
        spec: dict[str, Any] = {
            "aggregatable": doc_values,
            "count": 0,
            "esTypes": [es_type],
            "name": name,
            "readFromDocValues": doc_values,
            "scripted": False,
            "searchable": True,
            "type": osd_type,
        }
        if "." in name:
            spec["subType"] = {"multi": {"parent": name.rsplit(".", 1)[0]}}
        fields.append(spec)
    return fields


def _meta_field(name: str, kind: str, *, aggregatable: bool, searchable: bool) -> dict[str, Any]:
    return {
        "aggregatable": aggregatable,
        "count": 0,
        "esTypes": [name],
        "name": name,
        "readFromDocValues": False,
        "scripted": False,
        "searchable": searchable,
        "type": kind,
    }


def index_pattern(*, views: bool = False) -> dict[str, Any]:
    """The events' index pattern, or the views' (time field: the view's close time)."""
    names = set(field_types(views=views))
    formats = {
        name: {"id": f.id, "params": f.params} for name, f in FIELD_FORMATS.items() if name in names
    }
    return {
        "attributes": {
            "fieldFormatMap": dumps(formats),
            "fields": dumps(index_pattern_fields(views=views)),
            "timeFieldName": TIME_FIELD,
            "title": VIEWS_INDEX_PATTERN if views else INDEX_PATTERN,
        },
        "id": VIEWS_INDEX_PATTERN_ID if views else INDEX_PATTERN_ID,
        "migrationVersion": MIGRATION_VERSION["index-pattern"],
        "references": [],
        "type": "index-pattern",
    }


# ---------------------------------------------------------------------------------------------
# Visualizations


def _search_source(filters: list[dict[str, Any]], *, index: bool) -> str:
    source: dict[str, Any] = {"filter": filters, "query": {"language": "kuery", "query": ""}}
    if index:
        source["indexRefName"] = SEARCH_INDEX_REF
    return dumps(source)


def _panel_filters(panel: Panel) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The panel's catalogue filter as a custom (query DSL) filter of its search source, with
    its index-pattern reference; the DQL text is its label."""
    if panel.filter is None:
        return [], []
    name = "kibanaSavedObjectMeta.searchSourceJSON.filter[0].meta.index"
    custom = {
        "$state": {"store": "appState"},
        "meta": {
            "alias": filter_dql(panel.filter),
            "disabled": False,
            "indexRefName": name,
            "negate": False,
            "type": "custom",
        },
        "query": filter_query(panel.filter),
    }
    return [custom], [{"id": pattern_id(panel), "name": name, "type": "index-pattern"}]


def pattern_id(panel: Panel) -> str:
    """The id of the index pattern the panel searches."""
    return VIEWS_INDEX_PATTERN_ID if panel.over_views else INDEX_PATTERN_ID


def _metric_agg_state(agg_id: str, agg: MetricAgg) -> dict[str, Any]:
    params: dict[str, Any] = {"customLabel": agg.label}
    if agg.field is not None:
        params["field"] = agg.field
    extra = json_input(agg)
    if extra is not None:
        # "JSON input": merged into the aggregation Dashboards sends.
        params["json"] = dumps(extra)
    if agg.type == "percentiles":
        params["percents"] = list(agg.percents)
    return {"enabled": True, "id": agg_id, "params": params, "schema": "metric", "type": agg.type}


def _bucket_agg_state(agg_id: str, bucket: BucketAgg, order_by: str) -> dict[str, Any]:
    params: dict[str, Any]
    if bucket.type == "date_histogram":
        params = {
            "drop_partials": False,
            "extended_bounds": {},
            "field": bucket.field,
            "interval": bucket.interval,
            "min_doc_count": 1,
            "scaleMetricValues": False,
            "useNormalizedOpenSearchInterval": True,
        }
    elif bucket.type == "terms":
        params = {
            "field": bucket.field,
            "missingBucket": False,
            "missingBucketLabel": "Missing",
            "order": "desc",
            "orderBy": order_by,
            "otherBucket": bucket.other_bucket,
            "otherBucketLabel": "Other",
            "size": bucket.size,
        }
    else:
        params = {
            "autoPrecision": True,
            "field": bucket.field,
            "isFilteredByCollar": True,
            "precision": bucket.precision,
            "useGeocentroid": True,
        }
    return {
        "enabled": True,
        "id": agg_id,
        "params": params,
        "schema": bucket.schema,
        "type": bucket.type,
    }


def _aggs_state(panel: Panel) -> list[dict[str, Any]]:
    first = panel.metrics[0]
    order_by = "1" if first.type in ("sum", "avg", "cardinality") else "_count"
    aggs = [_metric_agg_state(i, a) for i, a in zip(panel.metric_ids(), panel.metrics, strict=True)]
    aggs += [
        _bucket_agg_state(i, b, order_by)
        for i, b in zip(panel.bucket_ids(), panel.buckets, strict=True)
    ]
    return aggs


def _line_params(panel: Panel) -> dict[str, Any]:
    label = panel.metrics[0].label
    return {
        "addLegend": True,
        "addTimeMarker": False,
        "addTooltip": True,
        "categoryAxes": [
            {
                "id": "CategoryAxis-1",
                "labels": {"filter": True, "show": True, "truncate": 100},
                "position": "bottom",
                "scale": {"type": "linear"},
                "show": True,
                "style": {},
                "title": {},
                "type": "category",
            }
        ],
        "grid": {"categoryLines": False},
        "labels": {},
        "legendPosition": "right",
        "seriesParams": [
            {
                "data": {"id": "1", "label": label},
                "drawLinesBetweenPoints": True,
                "interpolate": "linear",
                "lineWidth": 2,
                "mode": "normal",
                "show": True,
                "showCircles": True,
                "type": "line",
                "valueAxis": "ValueAxis-1",
            }
        ],
        "thresholdLine": {
            "color": "#E7664C",
            "show": False,
            "style": "full",
            "value": 10,
            "width": 1,
        },
        "times": [],
        "type": "line",
        "valueAxes": [
            {
                "id": "ValueAxis-1",
                "labels": {"filter": False, "rotate": 0, "show": True, "truncate": 100},
                "name": "LeftAxis-1",
                "position": "left",
                "scale": {"mode": "normal", "type": "linear"},
                "show": True,
                "style": {},
                "title": {"text": label},
                "type": "value",
            }
        ],
    }


def _metric_params() -> dict[str, Any]:
    return {
        "addLegend": False,
        "addTooltip": True,
        "metric": {
            "colorSchema": "Green to Red",
            "colorsRange": [{"from": 0, "to": 10000}],
            "invertColors": False,
            "labels": {"show": True},
            "metricColorMode": "None",
            "percentageMode": False,
            "style": {
                "bgColor": False,
                "bgFill": "#000",
                "fontSize": 60,
                "labelColor": False,
                "subText": "",
            },
            "useRanges": False,
        },
        "type": "metric",
    }


def _pie_params() -> dict[str, Any]:
    return {
        "addLegend": True,
        "addTooltip": True,
        "isDonut": True,
        "labels": {"last_level": True, "show": True, "truncate": 100, "values": True},
        "legendPosition": "right",
        "type": "pie",
    }


def _tile_map_params() -> dict[str, Any]:
    return {
        "addTooltip": True,
        "colorSchema": "Yellow to Red",
        "heatClusterSize": 1.5,
        "isDesaturated": True,
        "legendPosition": "bottomright",
        "mapCenter": [20, 0],
        "mapType": "Scaled Circle Markers",
        "mapZoom": 2,
        "wms": {
            "enabled": False,
            "options": {
                "attribution": "",
                "format": "image/png",
                "layers": "",
                "styles": "",
                "transparent": True,
                "version": "",
            },
            "url": "",
        },
    }


def _vis_params(panel: Panel) -> dict[str, Any]:
    if panel.kind == "line":
        return _line_params(panel)
    if panel.kind == "metric":
        return _metric_params()
    if panel.kind == "pie":
        return _pie_params()
    return _tile_map_params()


def _visualization(
    object_id: str,
    title: str,
    vis_state: dict[str, Any],
    *,
    description: str = "",
    search_source: str,
    references: list[dict[str, str]],
    ui_state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "attributes": {
            "description": description,
            "kibanaSavedObjectMeta": {"searchSourceJSON": search_source},
            "title": title,
            "uiStateJSON": dumps(ui_state or {}),
            "version": 1,
            "visState": dumps(vis_state),
        },
        "id": object_id,
        "migrationVersion": MIGRATION_VERSION["visualization"],
        "references": references,
        "type": "visualization",
    }


def panel_visualization(panel: Panel) -> dict[str, Any]:
    if panel.kind == "vega":
        assert panel.metric is not None
        vega_state = {
            "aggs": [],
            "params": {"spec": vega.spec_text(BY_NAME[panel.metric])},
            "title": panel.title,
            "type": "vega",
        }
        return _visualization(
            panel.id,
            panel.title,
            vega_state,
            description=panel.description,
            search_source=_search_source([], index=False),
            references=[],
        )
    filters, filter_refs = _panel_filters(panel)
    vis_state: dict[str, Any] = {
        "aggs": _aggs_state(panel),
        "params": _vis_params(panel),
        "title": panel.title,
        "type": panel.kind,
    }
    ui_state = {"mapCenter": [20, 0], "mapZoom": 2} if panel.kind == "tile_map" else None
    return _visualization(
        panel.id,
        panel.title,
        vis_state,
        description=panel.description,
        search_source=_search_source(filters, index=True),
        references=[
            {"id": pattern_id(panel), "name": SEARCH_INDEX_REF, "type": "index-pattern"},
            *filter_refs,
        ],
        ui_state=ui_state,
    )


def controls_visualization() -> dict[str, Any]:
    controls = [
        {
            "fieldName": field_name,
            "id": str(i + 1),
            "indexPatternRefName": f"control_{i}_index_pattern",
            "label": label,
            "options": {
                "dynamicOptions": True,
                "multiselect": True,
                "order": "desc",
                "size": 50,
                "type": "terms",
            },
            "parent": "",
            "type": "list",
        }
        for i, (field_name, label) in enumerate(CONTROLS)
    ]
    title = "Filters"
    vis_state = {
        "aggs": [],
        "params": {
            "controls": controls,
            "pinFilters": False,
            "updateFiltersOnChange": True,
            "useTimeFilter": True,
        },
        "title": title,
        "type": "input_control_vis",
    }
    references = [
        {"id": INDEX_PATTERN_ID, "name": f"control_{i}_index_pattern", "type": "index-pattern"}
        for i in range(len(CONTROLS))
    ]
    return _visualization(
        CONTROLS_ID,
        title,
        vis_state,
        search_source=_search_source([], index=False),
        references=references,
    )


def markdown_visualization(object_id: str, title: str, text: str) -> dict[str, Any]:
    vis_state = {
        "aggs": [],
        "params": {"fontSize": 12, "markdown": text, "openLinksInNewTab": False},
        "title": title,
        "type": "markdown",
    }
    return _visualization(
        object_id, title, vis_state, search_source=_search_source([], index=False), references=[]
    )


def views_search() -> dict[str, Any]:
    """The saved search of the views: every view, worst experience score first (views without a
    score, exits before start, last), with its parts and measures as columns."""
    return {
        "attributes": {
            "columns": list(VIEWS_SEARCH_COLUMNS),
            "description": "One row per view (a viewer's playback), worst experience score "
            "first: its outcome, the score's failure, startup, smoothness and quality parts, "
            "and what they were computed from.",
            "hits": 0,
            "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source([], index=True)},
            "sort": [["score", "asc"], [TIME_FIELD, "desc"]],
            "title": VIEWS_SEARCH_TITLE,
            "version": 1,
        },
        "id": VIEWS_SEARCH_ID,
        "migrationVersion": MIGRATION_VERSION["search"],
        "references": [
            {"id": VIEWS_INDEX_PATTERN_ID, "name": SEARCH_INDEX_REF, "type": "index-pattern"}
        ],
        "type": "search",
    }


def views_search_body(*, start_ms: int, end_ms: int, size: int = 500) -> dict[str, Any]:
    """The search the saved search sends for a time range: its sort, the time filter."""
    sort = [{field: {"order": order}} for field, order in views_search()["attributes"]["sort"]]
    time_range = {TIME_FIELD: {"gte": start_ms, "lte": end_ms, "format": "epoch_millis"}}
    return {
        "size": size,
        "sort": sort,
        "query": {"bool": {"filter": [{"range": time_range}]}},
    }


def section_id(section: str) -> str:
    return panel_id("section_" + section.lower().replace(" ", "_"))


INTRO_TEXT = (
    "### Video quality of experience\n"
    "Generated from the metric catalogue (`qos_shared.catalogue`) by "
    "`python -m qos_search_indexer.dashboards generate`; edit the catalogue or "
    "`dashboards/panels.py`, not these panels. Each panel's description says how it is "
    "computed. Use the filters beside this text to narrow every panel to a platform, a "
    "channel or a country."
)


# ---------------------------------------------------------------------------------------------
# The dashboard


def _layout(panels: list[Panel]) -> Iterator[tuple[str, int, int, int, int]]:
    """(object id, x, y, w, h) for every panel of the dashboard, section by section, then the
    views' saved search across the whole width."""
    yield INTRO_ID, 0, 0, 24, 8
    yield CONTROLS_ID, 24, 0, 24, 8
    y = 8
    for section in SECTIONS:
        members = [p for p in panels if p.section == section.name]
        if not members:
            continue
        yield section_id(section.name), 0, y, GRID_COLUMNS, HEADER_HEIGHT
        y += HEADER_HEIGHT
        x = 0
        for panel in members:
            width = WIDTHS[panel.kind]
            if x + width > GRID_COLUMNS:
                x, y = 0, y + PANEL_HEIGHT
            yield panel.id, x, y, width, PANEL_HEIGHT
            x += width
        y += PANEL_HEIGHT
    yield VIEWS_SEARCH_ID, 0, y, GRID_COLUMNS, 2 * PANEL_HEIGHT


def dashboard(panels: list[Panel]) -> dict[str, Any]:
    entries = []
    references = []
    for i, (object_id, x, y, w, h) in enumerate(_layout(panels)):
        index = str(i + 1)
        is_header = object_id.startswith(panel_id("section_"))
        entries.append(
            {
                "embeddableConfig": {"hidePanelTitles": True} if is_header else {},
                "gridData": {"h": h, "i": index, "w": w, "x": x, "y": y},
                "panelIndex": index,
                "panelRefName": f"panel_{i}",
                "version": PANEL_VERSION,
            }
        )
        kind = "search" if object_id == VIEWS_SEARCH_ID else "visualization"
        references.append({"id": object_id, "name": f"panel_{i}", "type": kind})
    return {
        "attributes": {
            "description": "Video QoE KPIs from the metric catalogue and the original sample's "
            "Kibana panels, over the qos-events-* and qos-views-* indices.",
            "hits": 0,
            "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source([], index=False)},
            "optionsJSON": dumps({"hidePanelTitles": False, "useMargins": True}),
            "panelsJSON": dumps(entries),
            "refreshInterval": {"pause": False, "value": 60_000},
            "timeFrom": "now-24h",
            "timeRestore": True,
            "timeTo": "now",
            "title": DASHBOARD_TITLE,
            "version": 1,
        },
        "id": DASHBOARD_ID,
        "migrationVersion": MIGRATION_VERSION["dashboard"],
        "references": references,
        "type": "dashboard",
    }


def saved_objects() -> list[dict[str, Any]]:
    """Every saved object, references before the objects that name them."""
    panels = all_panels()
    objects = [index_pattern(), index_pattern(views=True), views_search()]
    objects.append(markdown_visualization(INTRO_ID, "About this dashboard", INTRO_TEXT))
    objects.append(controls_visualization())
    for section in SECTIONS:
        if any(p.section == section.name for p in panels):
            objects.append(
                markdown_visualization(
                    section_id(section.name),
                    section.name,
                    f"## {section.name}\n{section.description}",
                )
            )
    objects += [panel_visualization(p) for p in panels]
    objects.append(dashboard(panels))
    return objects


def render_ndjson() -> bytes:
    """The NDJSON file: one saved object per line, deterministic."""
    return "".join(dumps(obj) + "\n" for obj in saved_objects()).encode()


__all__ = [
    "DASHBOARD_ID",
    "INDEX_PATTERN_ID",
    "VIEWS_INDEX_PATTERN_ID",
    "VIEWS_SEARCH_ID",
    "dashboard",
    "index_pattern",
    "render_ndjson",
    "saved_objects",
    "views_search",
    "views_search_body",
]
