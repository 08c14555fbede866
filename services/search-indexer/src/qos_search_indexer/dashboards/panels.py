"""The dashboard's panels as data, and the search each one sends.

Three sources:

- **the catalogue**: one panel per KPI (the KPIs over view records, `Metric.over_views`, over
  the views' indices `qos-views-*`, every other over the events' `qos-events-*`), made from its
  definition and placed by its presentation (section, chart, original panel), so a KPI added to
  `qos_shared.catalogue` gets its panel with no edit here. A KPI a standard visualization can
  compute exactly (a count, a sum or mean of a field, a distinct count, a percentile; its scale
  shown by the index pattern's field format) is a line chart of that aggregation over time;
  a share is a pie; a ratio, whose two aggregations a standard visualization cannot divide,
  is a Vega chart (`vega.py`) whose search body and formula are written from the definition;
- **the original sample's Kibana dashboard** (METRICS.md §3), for the panels our events feed
  and the catalogue does not already draw: concurrent viewers by platform, viewers starting and
  stopping, total watch time with unique sessions, playing time on a map, median buffer count,
  median buffer time, median playback errors. The channel panels (Concurrent Channels,
  Channels Started / Stopped, Median Channel Duration) came from IVS stream-state events, which
  this platform does not ingest: they are out of scope;
- **the views** beyond their KPIs (`view_panels`): views by outcome over time, and the experience
  score per channel over time (the dashboard's saved search lists the views themselves).

`search_body(panel, ...)` renders the query and aggregations a standard panel asks OpenSearch
for (as Dashboards builds them from the visState: agg ids as aggregation names, the panel's
filter in the bool filter beside the time range); `read_rows` reads its response back.
Vega panels carry their body in their spec (see `vega.resolve_context`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

from qos_search_indexer.dashboards import vega
from qos_search_indexer.dashboards.aggregations import (
    PRECISION_THRESHOLD,
    NotExpressible,
    always_present,
    percent,
)
from qos_search_indexer.dashboards.filters import filter_query
from qos_search_indexer.domain.index import (
    INDEX_PATTERN,
    LOCATION_FIELD,
    TIME_FIELD,
    VIEWS_INDEX_PATTERN,
)
from qos_shared.catalogue import (
    BY_NAME,
    CATALOGUE,
    MS_TO_MIN,
    MS_TO_S,
    SCORED_VIEWS,
    SECTIONS,
    SUMMARIES,
    VIEWS,
    Eq,
    Field,
    Filter,
    Metric,
    SectionName,
)
from qos_shared.views import OUTCOMES

MetricType = Literal["count", "sum", "avg", "cardinality", "percentiles"]
BucketType = Literal["date_histogram", "terms", "geohash_grid"]
VisKind = Literal["line", "metric", "pie", "tile_map", "vega"]

AUTO = "auto"
#: Significant digits of the HDR percentiles (`MetricAgg.hdr_digits`): exact below 1,000.
HDR_DIGITS = 3
#: Dashboards' one-minute interval: distinct counts per minute, like the realtime windows.
MINUTE = "m"


@dataclass(frozen=True, slots=True)
class FieldFormat:
    """How the index pattern shows a field: the value shown is the raw value times `scale`."""

    id: str
    params: dict[str, Any]
    scale: float


def _duration(output: str, precision: int, scale: float) -> FieldFormat:
    params = {"inputFormat": "milliseconds", "outputFormat": output, "outputPrecision": precision}
    return FieldFormat("duration", params, scale)


#: Milliseconds shown in the catalogue's units, so a standard panel shows the KPI as defined
#: (startup time in seconds, watch time in minutes) while aggregating the raw field exactly.
FIELD_FORMATS: dict[str, FieldFormat] = {
    "startup_latency_ms": _duration("asSeconds", 3, MS_TO_S),
    "live_latency_ms": _duration("asSeconds", 3, MS_TO_S),
    "buffering_time_ms": _duration("asSeconds", 3, MS_TO_S),
    "playing_time_ms": _duration("asMinutes", 1, MS_TO_MIN),
}


@dataclass(frozen=True, slots=True)
class MetricAgg:
    """One metric aggregation of a standard visualization."""

    type: MetricType
    label: str
    field: str | None = None
    percents: tuple[float, ...] = ()
    # percentiles: OpenSearch's t-digest (its default), or an HDR histogram with this many
    # significant digits: exact up to 10^digits, within 10^-digits relative above. HDR is for
    # non-negative integers dominated by one value (counts per report, mostly 0), where the
    # t-digest takes seconds a day (2.4-2.8 s against 0.06-0.11 s at 1 M records).
    hdr_digits: int | None = None

    @property
    def scale(self) -> float:
        """The factor the field's format applies to this aggregation's value on screen."""
        if self.type in ("count", "cardinality") or self.field is None:
            return 1.0
        fmt = FIELD_FORMATS.get(self.field)
        return 1.0 if fmt is None else fmt.scale


@dataclass(frozen=True, slots=True)
class BucketAgg:
    """One bucket aggregation: the x axis (segment) or a split into series (group)."""

    type: BucketType
    field: str
    schema: Literal["segment", "group"] = "segment"
    interval: str = AUTO  # date_histogram: Dashboards' interval name
    size: int = 10  # terms
    other_bucket: bool = False  # terms
    precision: int = 3  # geohash_grid (the map picks it from the zoom: autoPrecision)


@dataclass(frozen=True, slots=True)
class Panel:
    id: str
    title: str
    section: SectionName
    kind: VisKind
    description: str
    filter: Filter | None = None
    metrics: tuple[MetricAgg, ...] = ()
    buckets: tuple[BucketAgg, ...] = ()
    #: The catalogue metric the panel draws, if any.
    metric: str | None = None
    #: The original Kibana panel (METRICS.md §3) it stands for, if any.
    original: str | None = None
    #: Over the views' indices (`qos-views-*`) rather than the events'.
    over_views: bool = False

    @property
    def index_pattern(self) -> str:
        """The indices the panel searches."""
        return VIEWS_INDEX_PATTERN if self.over_views else INDEX_PATTERN

    def metric_ids(self) -> list[str]:
        return [str(i + 1) for i in range(len(self.metrics))]

    def bucket_ids(self) -> list[str]:
        return [str(len(self.metrics) + i + 1) for i in range(len(self.buckets))]


# ---------------------------------------------------------------------------------------------
# The catalogue's panels, in the sections the catalogue names (`qos_shared.catalogue.SECTIONS`)

#: Catalogue KPIs left off the dashboard, with the reason (README "Dashboards" lists them).
#: Empty today: every KPI has a faithful panel. A KPI that cannot be drawn faithfully must be
#: added here with its reason, or `catalogue_panels` fails.
EXCLUDED: dict[str, str] = {}

# Terms sizes: every platform, every rendition ladder we know, with an "Other" bucket beyond.
RENDITIONS_SHOWN = 20


def panel_id(name: str) -> str:
    return "qos-" + name.replace("_", "-")


def _standard_metric(metric: Metric) -> MetricAgg | None:
    """The one standard aggregation that computes the metric exactly, shown in its unit by the
    field format, or None."""
    agg = metric.numerator
    label = f"{metric.title} ({metric.unit})"
    value = agg.value
    if metric.kind == "count":
        candidate = MetricAgg("count", label)
    elif metric.kind == "distinct" and isinstance(value, Field):
        candidate = MetricAgg("cardinality", label, value.name)
    elif metric.kind == "sum" and isinstance(value, Field):
        candidate = MetricAgg("sum", label, value.name)
    elif (
        metric.kind == "mean"
        and isinstance(value, Field)
        # avg divides by the records that have the field: the metric's count is of every
        # record of the filter, so the two agree only when each record has it.
        and always_present(value.name, agg.filter)
    ):
        candidate = MetricAgg("avg", label, value.name)
    elif metric.kind == "percentile" and isinstance(value, Field):
        assert metric.quantile is not None
        candidate = MetricAgg("percentiles", label, value.name, (percent(metric.quantile),))
    else:
        return None
    return candidate if candidate.scale == metric.scale else None


def _description(metric: Metric, how: str) -> str:
    original = metric.presentation.original_panel
    was = f' The original dashboard\'s "{original}".' if original else ""
    return f"{metric.description}{was} {how}"


def catalogue_panel(metric: Metric) -> Panel:
    """The panel of one catalogue KPI (raises NotExpressible when there is none)."""
    common = Panel(
        id=panel_id(metric.name),
        title=f"{metric.title} ({metric.unit})",
        section=metric.presentation.section,
        kind="line",
        description="",
        metric=metric.name,
        original=metric.presentation.original_panel,
        over_views=metric.over_views,
    )
    if metric.kind == "share":
        assert metric.split_by is not None and isinstance(metric.numerator.value, Field)
        if metric.presentation.chart != "pie":
            raise NotExpressible(f"{metric.name}: a share is drawn as a pie")
        if metric.numerator != metric.denominator or metric.scale != 100.0:
            raise NotExpressible(f"{metric.name}: a pie shows shares of its own total only")
        return replace(
            common,
            kind="pie",
            description=_description(metric, "A pie of the summed value per split value."),
            filter=metric.numerator.filter,
            metrics=(MetricAgg("sum", metric.title, metric.numerator.value.name),),
            buckets=(
                BucketAgg("terms", metric.split_by, size=RENDITIONS_SHOWN, other_bucket=True),
            ),
        )
    standard = _standard_metric(metric)
    if standard is not None:
        interval = MINUTE if metric.kind == "distinct" else AUTO
        return replace(
            common,
            description=_description(metric, "Over time."),
            filter=metric.numerator.filter,
            metrics=(standard,),
            buckets=(BucketAgg("date_histogram", TIME_FIELD, interval=interval),),
        )
    vega.body(metric)  # raises NotExpressible for what Vega cannot draw either
    return replace(
        common,
        kind="vega",
        description=_description(
            metric, "A Vega chart: the formula over two filtered aggregations per time bucket."
        ),
    )


def catalogue_panels() -> list[Panel]:
    panels = []
    # Every KPI: those over view records search the views' indices (`Panel.over_views`).
    for metric in CATALOGUE:
        if metric.name in EXCLUDED:
            continue
        try:
            panels.append(catalogue_panel(metric))
        except NotExpressible as error:
            raise NotExpressible(
                f"{metric.name} has no faithful panel ({error}); add it to EXCLUDED with why"
            ) from error
    return panels


# ---------------------------------------------------------------------------------------------
# The original Kibana panels our events feed that the catalogue does not draw

PLAYS_AND_STOPS = Filter.of("PLAY", "STOP")
# Amazon IVS stream events (EventBridge): streams started and stopped.
STREAM_STARTS_AND_ENDS = Filter.of("STREAM_STATE", where=(Eq("event_name", "Stream Start"),)) | (
    Filter.of("STREAM_STATE", where=(Eq("event_name", "Stream End"),))
)


def original_panels() -> list[Panel]:
    sessions = MetricAgg("cardinality", "Viewers (distinct sessions)", "session_id")
    over_time = BucketAgg("date_histogram", TIME_FIELD)
    per_minute = BucketAgg("date_histogram", TIME_FIELD, interval=MINUTE)

    def median(field_name: str, title: str, description: str, original: str) -> Panel:
        """A line of the median of a summary field over time (HDR: exact for these counts)."""
        return Panel(
            id=panel_id(title.removesuffix(" (s)").lower().replace(" ", "_")),
            title=title,
            section="Playback quality",
            kind="line",
            description=description,
            filter=SUMMARIES,
            metrics=(MetricAgg("percentiles", title, field_name, (50.0,), hdr_digits=HDR_DIGITS),),
            buckets=(over_time,),
            original=original,
        )

    return [
        Panel(
            id=panel_id("concurrent_viewers_by_platform"),
            title="Concurrent viewers by platform",
            section="Audience",
            kind="line",
            description="Distinct sessions with a PLAYBACK_SUMMARY per minute, per platform.",
            filter=SUMMARIES,
            metrics=(sessions,),
            buckets=(per_minute, BucketAgg("terms", "client_platform", "group", size=5)),
            original="Concurrent Viewers By Platform",
        ),
        Panel(
            id=panel_id("viewers_start_stop"),
            title="Viewers start / stop watching",
            section="Audience",
            kind="line",
            description="PLAY events (first frames) and STOP events (session ends) over time.",
            filter=PLAYS_AND_STOPS,
            metrics=(MetricAgg("count", "Events"),),
            buckets=(over_time, BucketAgg("terms", "metric_type", "group", size=2)),
            original="Number of Viewers Start / Stop Watching",
        ),
        Panel(
            id=panel_id("channels_started_stopped"),
            title="Channels started / stopped",
            section="Live",
            kind="line",
            description="Amazon IVS streams that started (Stream Start) and stopped (Stream End) "
            "over time, from their STREAM_STATE events (EventBridge).",
            filter=STREAM_STARTS_AND_ENDS,
            metrics=(MetricAgg("count", "Streams"),),
            buckets=(over_time, BucketAgg("terms", "event_name", "group", size=2)),
            original="Channels Started / Stopped",
        ),
        Panel(
            id=panel_id("watch_time_and_sessions"),
            title="Total watch time (min) and unique sessions",
            section="Audience",
            kind="metric",
            description="Playing time summed over PLAYBACK_SUMMARY events, in minutes, and the "
            "distinct sessions that sent them, over the selected time range.",
            filter=SUMMARIES,
            metrics=(
                MetricAgg("sum", "Watch time (min)", "playing_time_ms"),
                MetricAgg("cardinality", "Unique sessions", "session_id"),
            ),
            original="Total Watch Time + Unique Sessions",
        ),
        Panel(
            id=panel_id("playing_time_map"),
            title="Playing time by viewer location (min)",
            section="Audience",
            kind="tile_map",
            description="Playing time summed per geohash cell of the viewer's location.",
            filter=SUMMARIES,
            metrics=(MetricAgg("sum", "Playing time (min)", "playing_time_ms"),),
            buckets=(BucketAgg("geohash_grid", LOCATION_FIELD),),
            original="Playing Time (geo tile map)",
        ),
        median(
            "buffering_count",
            "Median buffer count",
            "Median buffering_count of PLAYBACK_SUMMARY events (stalls per report).",
            "Median Buffer Count / Median Starvation Count",
        ),
        median(
            "buffering_time_ms",
            "Median buffer time (s)",
            "Median buffering_time_ms of PLAYBACK_SUMMARY events, in seconds.",
            "Median Starvation Time",
        ),
        median(
            "error_count",
            "Median playback errors",
            "Median error_count of PLAYBACK_SUMMARY events.",
            "Median Playback Errors",
        ),
    ]


# ---------------------------------------------------------------------------------------------
# The views beyond their KPIs

#: Terms sizes: every outcome; channels, with an "Other" bucket beyond.
CHANNELS_SHOWN = 20


def view_panels() -> list[Panel]:
    """Views by outcome over time, and the mean experience score per channel over time."""
    over_time = BucketAgg("date_histogram", TIME_FIELD)
    return [
        Panel(
            id=panel_id("views_by_outcome"),
            title="Views by outcome",
            section="Audience",
            kind="line",
            description="Views that closed in each interval, per outcome (played, abandoned, "
            "exit before start, start failure, playback failure: see Views).",
            filter=VIEWS,
            metrics=(MetricAgg("count", "Views"),),
            buckets=(over_time, BucketAgg("terms", "outcome", "group", size=len(OUTCOMES))),
            over_views=True,
        ),
        Panel(
            id=panel_id("experience_score_by_channel"),
            title="Experience score by channel (score)",
            section="Audience",
            kind="line",
            description="Mean experience score (0-100) of the views that closed in each "
            "interval and have one, per channel.",
            filter=SCORED_VIEWS,
            metrics=(MetricAgg("avg", "Experience score (score)", "score"),),
            buckets=(
                over_time,
                BucketAgg("terms", "channel_watched", "group", size=CHANNELS_SHOWN),
            ),
            over_views=True,
        ),
    ]


#: The original Kibana panels not drawn, and why (README "Dashboards" repeats this).
#: "Concurrent Channels" is the catalogue's live_channels, "Channels Started / Stopped" an
#: original panel above, both from the IVS stream events ingest stores.
OUT_OF_SCOPE: dict[str, str] = {
    "Median Channel Duration": "a stream's duration pairs its Stream Start with its Stream End"
    " event, which no aggregation over single records computes: the lake's `stream-durations`"
    " query answers it",
}


def all_panels() -> list[Panel]:
    """Every data panel, in dashboard order: by section, catalogue KPIs first."""
    panels = catalogue_panels() + original_panels() + view_panels()
    order = {section.name: i for i, section in enumerate(SECTIONS)}
    return sorted(panels, key=lambda p: order[p.section])  # stable within a section


# ---------------------------------------------------------------------------------------------
# The search a standard panel sends, and its response read back


def json_input(agg: MetricAgg) -> dict[str, Any] | None:
    """The visualization's "JSON input" for a metric: merged by Dashboards into the
    aggregation it sends (None: no JSON input)."""
    if agg.type == "cardinality":
        return {"precision_threshold": PRECISION_THRESHOLD}
    if agg.type == "percentiles" and agg.hdr_digits is not None:
        return {"hdr": {"number_of_significant_value_digits": agg.hdr_digits}}
    return None


def metric_dsl(agg: MetricAgg) -> dict[str, Any] | None:
    """The aggregation Dashboards sends for a metric (None for count: it reads doc_count)."""
    if agg.type == "count":
        return None
    assert agg.field is not None
    body: dict[str, Any] = {"field": agg.field}
    if agg.type == "percentiles":
        body["percents"] = list(agg.percents)
    return {agg.type: body | (json_input(agg) or {})}


def bucket_dsl(
    panel: Panel, bucket: BucketAgg, *, start_ms: int, end_ms: int, interval: str
) -> dict[str, Any]:
    if bucket.type == "date_histogram":
        return {
            "date_histogram": {
                "field": bucket.field,
                "fixed_interval": interval,
                "time_zone": "UTC",
                "min_doc_count": 1,
                "extended_bounds": {"min": start_ms, "max": end_ms},
            }
        }
    if bucket.type == "terms":
        first = panel.metrics[0]
        order = {"1": "desc"} if first.type in ("sum", "avg", "cardinality") else {"_count": "desc"}
        return {"terms": {"field": bucket.field, "size": bucket.size, "order": order}}
    return {"geohash_grid": {"field": bucket.field, "precision": bucket.precision}}


def search_body(
    panel: Panel,
    *,
    start_ms: int,
    end_ms: int,
    interval: str = "1m",
    dashboard_filters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The search a panel sends for a time range and the dashboard's filters. `interval` stands
    for the one Dashboards derives from the range for `auto` (and for a minute scaled up on
    long ranges). A Vega panel's body is its spec's, resolved as Dashboards resolves it."""
    if panel.kind == "vega":
        assert panel.metric is not None
        return vega.resolve_context(
            vega.spec(BY_NAME[panel.metric])["data"]["url"],
            start_ms=start_ms,
            end_ms=end_ms,
            interval=interval,
            dashboard_filters=dashboard_filters,
        )
    time_range = {
        "range": {
            TIME_FIELD: {"gte": start_ms, "lte": end_ms, "format": "epoch_millis"},
        }
    }
    filters: list[dict[str, Any]] = []
    if panel.filter is not None:
        filters.append(filter_query(panel.filter))
    filters += list(dashboard_filters or [])
    filters.append(time_range)
    aggs: dict[str, Any] = {}
    for metric_id, agg in zip(panel.metric_ids(), panel.metrics, strict=True):
        dsl = metric_dsl(agg)
        if dsl is not None:
            aggs[metric_id] = dsl
    for bucket_id, bucket in reversed(list(zip(panel.bucket_ids(), panel.buckets, strict=True))):
        node = bucket_dsl(panel, bucket, start_ms=start_ms, end_ms=end_ms, interval=interval)
        if aggs:
            node["aggs"] = aggs
        aggs = {bucket_id: node}
    return {
        "size": 0,
        "track_total_hits": True,
        "query": {"bool": {"must": [], "filter": filters, "should": [], "must_not": []}},
        "aggs": aggs,
    }


Row = tuple[tuple[Any, ...], tuple[float | None, ...]]


def _metric_value(agg: MetricAgg, metric_id: str, node: dict[str, Any]) -> float | None:
    if agg.type == "count":
        return float(node["doc_count"])
    result = node[metric_id]
    if agg.type == "percentiles":
        values = result["values"]
        found = list(values.values()) if isinstance(values, dict) else [values[0]["value"]]
        value = found[0]
    else:
        value = result["value"]
    return None if value is None else float(value)


def read_rows(panel: Panel, response: dict[str, Any]) -> list[Row]:
    """The response as rows: (bucket keys outermost first, metric values as shown on screen,
    i.e. times each metric's field-format scale; for Vega, the formula's value per bucket)."""
    if panel.kind == "vega":
        assert panel.metric is not None
        metric = BY_NAME[panel.metric]
        buckets = response["aggregations"][vega.BUCKETS]["buckets"]
        return [((b["key"],), (vega.evaluate(metric, b),)) for b in buckets]
    rows: list[Row] = []

    def walk(node: dict[str, Any], depth: int, keys: tuple[Any, ...]) -> None:
        if depth == len(panel.buckets):
            values = tuple(
                None if (v := _metric_value(agg, mid, node)) is None else v * agg.scale
                for mid, agg in zip(panel.metric_ids(), panel.metrics, strict=True)
            )
            rows.append((keys, values))
            return
        bucket_id = panel.bucket_ids()[depth]
        for bucket in node[bucket_id]["buckets"]:
            walk(bucket, depth + 1, (*keys, bucket["key"]))

    root = dict(response["aggregations"])
    root.setdefault("doc_count", response["hits"]["total"]["value"])
    walk(root, 0, ())
    return rows


def fields_of(panel: Panel) -> Iterator[str]:
    """Every field a standard panel's aggregations name."""
    for agg in panel.metrics:
        if agg.field is not None:
            yield agg.field
    for bucket in panel.buckets:
        yield bucket.field
