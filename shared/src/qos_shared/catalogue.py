"""The metric catalogue: every KPI of METRICS.md §1 and §2, as data.

Each engine renders these definitions in its own language (the local window engine in Python, the
Flink job and the lake in SQL, the CloudWatch dashboard and the OpenSearch panels as JSON), so
adding a KPI here is the one change that adds it everywhere; tests compare the renderings on the
same golden events.

A metric is a final formula over one or two aggregates of stored event records:

- an aggregate is `count`, `sum` (of a value expression), `distinct` (count of distinct values of a
  field) or `values` (the multiset of a value expression, for percentiles), each over the records
  that pass its filter (an OR of clauses; a clause is a set of metric types AND conditions);
- the metric's `kind` says how aggregates become a number: `count`/`sum`/`distinct` take the
  numerator as is, `mean` divides a sum by a count over the same records (whose filter
  guarantees the value is present), `ratio` divides the
  numerator by the denominator, `share` divides a numerator split by `split_by` (one value per
  rendition, say) by the unsplit denominator, and `percentile` interpolates linearly between the
  closest ranks of the values (numpy's default, and Flink's `PERCENTILE`);
- then `scale` multiplies the result (100 for percentages, 1/1000 for milliseconds to seconds).

SQL semantics everywhere: a null value is skipped by sum, mean, distinct and values; a ratio with
a zero or empty denominator is null (no data), never zero; a count or sum metric over no records
is 0.

Each metric also says how the dashboards present it (`Presentation`): its section, its chart, its
tile on the local dashboard's "Now" row, its default CloudWatch alarm, and the widget of the
original sample's dashboards it stands for. The local dashboard (through its API), the
OpenSearch saved objects and the CloudWatch dashboard and alarms all read it, so one entry puts
a KPI on every dashboard.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

# ---------------------------------------------------------------------------------------------
# Expressions and filters over one stored record (flat JSON: event fields + enrichment fields)


@dataclass(frozen=True, slots=True)
class Field:
    name: str


@dataclass(frozen=True, slots=True)
class Add:
    """left + right; null if either is null."""

    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Mul:
    """left * right; null if either is null."""

    left: Expr
    right: Expr


Expr = Field | Add | Mul


@dataclass(frozen=True, slots=True)
class Eq:
    field: str
    value: str | bool | int


@dataclass(frozen=True, slots=True)
class Gt:
    field: str
    value: int | float


@dataclass(frozen=True, slots=True)
class NotNull:
    field: str


Condition = Eq | Gt | NotNull


@dataclass(frozen=True, slots=True)
class Clause:
    """Records of one of `metric_types` that meet every condition."""

    metric_types: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class Filter:
    """Records that match any clause."""

    clauses: tuple[Clause, ...]

    @classmethod
    def of(cls, *metric_types: str, where: tuple[Condition, ...] = ()) -> Filter:
        return cls((Clause(tuple(metric_types), where),))

    def __or__(self, other: Filter) -> Filter:
        return Filter(self.clauses + other.clauses)

    @property
    def metric_types(self) -> frozenset[str]:
        return frozenset(t for clause in self.clauses for t in clause.metric_types)


AggregateKind = Literal["count", "sum", "distinct", "values"]


@dataclass(frozen=True, slots=True)
class Aggregate:
    kind: AggregateKind
    filter: Filter
    value: Expr | None = None  # sum, values: the expression; distinct: a Field

    def __post_init__(self) -> None:
        if (self.kind == "count") != (self.value is None):
            raise ValueError(
                f"a {self.kind} aggregate {'takes no' if self.kind == 'count' else 'needs a'} value"
            )
        if self.kind == "distinct" and not isinstance(self.value, Field):
            raise ValueError("distinct counts a field")


# ---------------------------------------------------------------------------------------------
# Metrics

#: The client events' metric types (`qos_shared.events`; here, in the standard library's
#: reach, for the modules the Flink job vendors).
METRIC_TYPES: tuple[str, ...] = (
    "ATTEMPT",
    "PLAY",
    "PLAYBACK_SUMMARY",
    "QUALITY_CHANGED",
    "STOP",
    "ERROR",
)
#: The metric types of Amazon IVS's stream events, which ingest stores from EventBridge
#: (`qos_shared.events.StreamState`, `StreamHealth`): a channel's stream, not a viewer's.
STREAM_STATE = "STREAM_STATE"
STREAM_HEALTH = "STREAM_HEALTH"
STREAM_METRIC_TYPES: tuple[str, ...] = (STREAM_STATE, STREAM_HEALTH)
#: The metric_type of a view's record (`qos_shared.views`).
VIEW = "VIEW"

MetricKind = Literal["count", "sum", "distinct", "mean", "ratio", "share", "percentile"]
# CloudWatch's unit names (PutMetricData accepts only these); `unit` below is for people.
CloudWatchUnit = Literal["Seconds", "Percent", "Count", "Bits/Second", "None"]
Dimension = Literal["client_platform", "channel_watched"]
ALL_DIMENSIONS: tuple[Dimension, ...] = ("client_platform", "channel_watched")


# ---------------------------------------------------------------------------------------------
# Presentation: where and how the dashboards draw a metric

SectionName = Literal["Audience", "Startup", "Playback quality", "Live"]
# "line": the value over time; "pie": each split value's share of the total (share metrics).
Chart = Literal["line", "pie"]


@dataclass(frozen=True, slots=True)
class Section:
    """A group of panels on the dashboards, under a header with this description."""

    name: SectionName
    description: str


#: The dashboards' sections, in page order.
SECTIONS: tuple[Section, ...] = (
    Section(
        "Audience", "Who is watching: concurrent viewers, starts and stops, watch time, where."
    ),
    Section(
        "Startup",
        "From play intent to first frame: attempts, plays, failures, exits, startup time.",
    ),
    Section(
        "Playback quality",
        "Once playing: stalls, errors, failures, bitrate, renditions, quality switches.",
    ),
    Section(
        "Live",
        "Live streams: channels on air, their streams' starts, ends, failures and starvations"
        " (Amazon IVS stream events), and the viewers' live latency.",
    ),
)

#: The original sample's CloudWatch dashboard: its widgets' titles, in its order (METRICS.md §3).
ORIGINAL_WIDGETS: tuple[str, ...] = (
    "Concurrent Users",
    "Buffer Ratio",
    "Errors",
    "Startup Time",
    "Live Latency",
)


@dataclass(frozen=True, slots=True)
class Presentation:
    """How every dashboard shows one metric."""

    section: SectionName
    chart: Chart = "line"
    #: Its place among the local dashboard's "Now" tiles (1 = first), each with a chart of its
    #: windows; None: no tile.
    tile: int | None = None
    #: The default CloudWatch alarm on the all-viewers value, in the metric's `cloudwatch_unit`:
    #: it breaches on the bad side (above when lower is better, below otherwise). None: no alarm.
    alarm_threshold: float | None = None
    #: The original CloudWatch dashboard's widget it stands for (one of `ORIGINAL_WIDGETS`).
    original_widget: str | None = None
    #: The original Kibana dashboard's panel it stands for (METRICS.md §3).
    original_panel: str | None = None


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    title: str
    description: str
    unit: str
    cloudwatch_unit: CloudWatchUnit
    kind: MetricKind
    numerator: Aggregate
    denominator: Aggregate | None = None
    scale: float = 1.0
    quantile: float | None = None
    split_by: str | None = None  # share: the field whose values split the numerator
    dimensions: tuple[Dimension, ...] = ALL_DIMENSIONS
    legacy_name: str | None = None  # the original sample's CloudWatch metric name
    higher_is_better: bool | None = None
    presentation: Presentation = field(kw_only=True)

    @property
    def over_views(self) -> bool:
        """Whether the metric reads view records (`VIEW`), which only engines that build views
        have, rather than events."""
        return VIEW in self.numerator.filter.metric_types

    def __post_init__(self) -> None:
        needs_denominator = self.kind in ("mean", "ratio", "share")
        if needs_denominator != (self.denominator is not None):
            raise ValueError(f"{self.name}: {self.kind} needs a denominator iff it divides")
        if (self.kind == "percentile") != (self.quantile is not None):
            raise ValueError(f"{self.name}: a quantile goes with kind percentile only")
        if self.kind == "percentile" and self.numerator.kind != "values":
            raise ValueError(f"{self.name}: a percentile reads a values aggregate")
        if self.kind == "mean" and (
            self.numerator.kind != "sum"
            or self.denominator is None
            or self.denominator != Aggregate("count", self.numerator.filter)
        ):
            raise ValueError(f"{self.name}: a mean is a sum over a count of the same records")
        if (self.kind == "share") != (self.split_by is not None):
            raise ValueError(f"{self.name}: split_by goes with kind share only")
        shown = self.presentation
        if shown.chart == "pie" and self.kind != "share":
            raise ValueError(f"{self.name}: a pie shows the shares of a share metric only")
        if shown.alarm_threshold is not None and not math.isfinite(shown.alarm_threshold):
            raise ValueError(f"{self.name}: an alarm threshold is a finite number")
        if shown.original_widget is not None and shown.original_widget not in ORIGINAL_WIDGETS:
            raise ValueError(
                f"{self.name}: the original dashboard has no {shown.original_widget!r}"
            )


# The filters the catalogue uses, named once.
SUMMARIES = Filter.of("PLAYBACK_SUMMARY")
LIVE_SUMMARIES = Filter.of(
    "PLAYBACK_SUMMARY", where=(Eq("is_live", True), NotNull("live_latency_ms"))
)
PLAYING_SUMMARIES = Filter.of("PLAYBACK_SUMMARY", where=(Gt("playing_time_ms", 0),))
PLAYS = Filter.of("PLAY")
# Old players send no ATTEMPT; their PLAY (recognisable by the legacy envelope) is the attempt.
ATTEMPTS = Filter.of("ATTEMPT") | Filter.of("PLAY", where=(Eq("source_format", "legacy"),))
# Views (`qos_shared.views`): one record per view, metric_type VIEW, at the view's close time.
VIEWS = Filter.of(VIEW)


def _views_ending(*outcomes: str) -> Filter:
    filters = [Filter.of(VIEW, where=(Eq("outcome", o),)) for o in outcomes]
    out = filters[0]
    for f in filters[1:]:
        out = out | f
    return out


START_FAILURES = _views_ending("start_failure")
PLAYBACK_FAILURES = _views_ending("playback_failure")
EXITS_BEFORE_START = _views_ending("exit_before_start")
STARTED_VIEWS = _views_ending("played", "abandoned", "playback_failure")
SCORED_VIEWS = Filter.of(VIEW, where=(NotNull("score"),))
# Amazon IVS stream events (EventBridge): one record per event of a channel's stream.
STREAM_EVENTS = Filter.of(*STREAM_METRIC_TYPES)
# Live viewers' records (a VIEW is not one: it is counted at its close, not while it plays).
LIVE_VIEWER_RECORDS = Filter.of(*METRIC_TYPES, where=(Eq("is_live", True),))

WATCH_MS = Add(Field("playing_time_ms"), Field("buffering_time_ms"))
MS_TO_S = 1 / 1000
MS_TO_MIN = 1 / 60_000


def _mean_seconds(
    name: str,
    title: str,
    description: str,
    records: Filter,
    milliseconds: str,
    *,
    legacy_name: str,
    presentation: Presentation,
) -> Metric:
    """The mean of a duration field in milliseconds over the records, in seconds."""
    return Metric(
        name=name,
        title=title,
        description=description,
        unit="s",
        cloudwatch_unit="Seconds",
        kind="mean",
        numerator=Aggregate("sum", records, Field(milliseconds)),
        denominator=Aggregate("count", records),
        scale=MS_TO_S,
        legacy_name=legacy_name,
        higher_is_better=False,
        presentation=presentation,
    )


def _percentile(
    mean: Metric, q: float, title: str, description: str, presentation: Presentation
) -> Metric:
    """The q-quantile across the records of the values a mean metric averages."""
    return replace(
        mean,
        name=f"{mean.name}_p{round(q * 100)}",
        title=f"{title} p{round(q * 100)}",
        description=description,
        kind="percentile",
        numerator=replace(mean.numerator, kind="values"),
        denominator=None,
        quantile=q,
        legacy_name=None,
        presentation=presentation,
    )


STARTUP_TIME = _mean_seconds(
    "startup_time",
    "Startup time (mean)",
    "Mean startup_latency_ms of PLAY events, in seconds.",
    PLAYS,
    "startup_latency_ms",
    legacy_name="STARTUP_TIME",
    presentation=Presentation("Startup", original_widget="Startup Time"),
)
LIVE_LATENCY = _mean_seconds(
    "live_latency",
    "Live latency (mean)",
    "Mean live_latency_ms of live PLAYBACK_SUMMARY events, in seconds.",
    LIVE_SUMMARIES,
    "live_latency_ms",
    legacy_name="LIVE_LATENCY",
    presentation=Presentation("Live", original_widget="Live Latency"),
)
_STARTUP_PERCENTILE = (
    "Play intent to first frame, over PLAY events (percentile across viewers). The intent is the"
    " play request the browser allowed: after a blocked autoplay, the viewer's click (the wait for"
    " it is not startup)."
)
_LIVE_LATENCY_PERCENTILE = "Live latency reported by live PLAYBACK_SUMMARY events (percentile)."


def _count(
    name: str,
    title: str,
    description: str,
    records: Filter,
    presentation: Presentation,
    *,
    higher_is_better: bool | None = None,
) -> Metric:
    """A metric that counts the records of a filter."""
    return Metric(
        name=name,
        title=title,
        description=description,
        unit="count",
        cloudwatch_unit="Count",
        kind="count",
        numerator=Aggregate("count", records),
        higher_is_better=higher_is_better,
        presentation=presentation,
    )


def _percent_of_events(
    name: str,
    title: str,
    description: str,
    events: Filter,
    per: Filter,
    presentation: Presentation,
) -> Metric:
    """The records of `events` per record of `per`, in percent (an outcome rate: lower is
    better)."""
    events_count = _count(name, title, description, events, presentation, higher_is_better=False)
    return replace(
        events_count,
        unit="%",
        cloudwatch_unit="Percent",
        kind="ratio",
        denominator=Aggregate("count", per),
        scale=100.0,
    )


def _quality_switches(direction: Literal["UP", "DOWN"], higher_is_better: bool | None) -> Metric:
    return _count(
        f"quality_switches_{direction.lower()}",
        f"Quality switches {direction.lower()}",
        f"QUALITY_CHANGED events with step_direction {direction}.",
        Filter.of("QUALITY_CHANGED", where=(Eq("step_direction", direction),)),
        Presentation("Playback quality"),
        higher_is_better=higher_is_better,
    )


CATALOGUE: tuple[Metric, ...] = (
    # --- METRICS.md §1: the original sample's five, under their old names too ----------------
    STARTUP_TIME,
    Metric(
        name="errors",
        title="Errors",
        description="Sum of error_count over PLAYBACK_SUMMARY events.",
        unit="count",
        cloudwatch_unit="Count",
        kind="sum",
        numerator=Aggregate("sum", SUMMARIES, Field("error_count")),
        legacy_name="ERRORS",
        higher_is_better=False,
        presentation=Presentation("Playback quality", tile=7, original_widget="Errors"),
    ),
    Metric(
        name="rebuffering_ratio",
        title="Rebuffering ratio",
        description=(
            "Stall time over watch time (playing + stalled), a ratio of sums over "
            "PLAYBACK_SUMMARY events, in percent. Stalls from seeks and startup are excluded by "
            "the SDK. The original's BUFFER_RATIO."
        ),
        unit="%",
        cloudwatch_unit="Percent",
        kind="ratio",
        numerator=Aggregate("sum", SUMMARIES, Field("buffering_time_ms")),
        denominator=Aggregate("sum", SUMMARIES, WATCH_MS),
        scale=100.0,
        legacy_name="BUFFER_RATIO",
        higher_is_better=False,
        presentation=Presentation(
            "Playback quality",
            tile=4,
            alarm_threshold=2.0,  # percent of watch time
            original_widget="Buffer Ratio",
            original_panel="Percent of Buffer Time",
        ),
    ),
    LIVE_LATENCY,
    Metric(
        name="concurrency",
        title="Concurrent sessions",
        description="Distinct session_id with a PLAYBACK_SUMMARY in the window.",
        unit="sessions",
        cloudwatch_unit="Count",
        kind="distinct",
        numerator=Aggregate("distinct", SUMMARIES, Field("session_id")),
        legacy_name="CONCURRENCY",
        presentation=Presentation(
            "Audience", original_widget="Concurrent Users", original_panel="Concurrent Viewers"
        ),
    ),
    # --- METRICS.md §2 -----------------------------------------------------------------------
    _count(
        "attempts",
        "Attempts",
        "ATTEMPT events (play intents); for old players, which send none, their PLAY.",
        ATTEMPTS,
        Presentation("Startup"),
    ),
    _count(
        "plays",
        "Plays",
        "PLAY events: sessions that reached their first frame.",
        PLAYS,
        Presentation("Startup"),
    ),
    _count(
        "views",
        "Views",
        "Views that closed in the window: one viewer's playback each, counted once, when it "
        "closes (see Views).",
        VIEWS,
        Presentation("Audience"),
    ),
    _percent_of_events(
        "video_start_failure",
        "Video start failures",
        "Views that ended in a start failure (a fatal error before the first frame, whatever "
        "its phase) per view, in percent (VSF).",
        START_FAILURES,
        VIEWS,
        Presentation("Startup", tile=8, alarm_threshold=5.0),  # percent of views
    ),
    _percent_of_events(
        "exits_before_video_start",
        "Exits before video start",
        "Views that ended with no first frame and no fatal error per view, in percent (EBVS): "
        "whether or not the viewer's STOP arrived.",
        EXITS_BEFORE_START,
        VIEWS,
        Presentation("Startup", tile=9),
    ),
    _percentile(
        STARTUP_TIME,
        0.5,
        "Video startup time",
        _STARTUP_PERCENTILE,
        Presentation("Startup", tile=2, original_panel="Median Startup Latency"),
    ),
    _percentile(
        STARTUP_TIME, 0.9, "Video startup time", _STARTUP_PERCENTILE, Presentation("Startup")
    ),
    _percentile(
        STARTUP_TIME,
        0.95,
        "Video startup time",
        _STARTUP_PERCENTILE,
        Presentation("Startup", tile=3, alarm_threshold=5.0),  # seconds
    ),
    Metric(
        name="rebuffer_frequency",
        title="Rebuffer frequency",
        description="Stalls per minute of watch time (playing + stalled), over PLAYBACK_SUMMARY.",
        unit="stalls/min",
        cloudwatch_unit="None",
        kind="ratio",
        numerator=Aggregate("sum", SUMMARIES, Field("buffering_count")),
        denominator=Aggregate("sum", SUMMARIES, WATCH_MS),
        scale=60_000.0,
        higher_is_better=False,
        presentation=Presentation("Playback quality"),
    ),
    _percent_of_events(
        "playback_failure",
        "Playback failures",
        "Views that ended in a fatal error after the first frame per view that reached it, in "
        "percent.",
        PLAYBACK_FAILURES,
        STARTED_VIEWS,
        Presentation("Playback quality"),
    ),
    Metric(
        name="average_bitrate",
        title="Average bitrate",
        description="Bitrate weighted by playing time, over summaries that report bitrate_bps.",
        unit="bit/s",
        cloudwatch_unit="Bits/Second",
        kind="ratio",
        numerator=Aggregate("sum", SUMMARIES, Mul(Field("bitrate_bps"), Field("playing_time_ms"))),
        denominator=Aggregate(
            "sum",
            Filter.of("PLAYBACK_SUMMARY", where=(NotNull("bitrate_bps"),)),
            Field("playing_time_ms"),
        ),
        higher_is_better=True,
        presentation=Presentation("Playback quality"),
    ),
    Metric(
        name="rendition_share",
        title="Rendition share",
        description="Share of playing time per rendition_name, in percent (Percent Renditions).",
        unit="%",
        cloudwatch_unit="Percent",
        kind="share",
        numerator=Aggregate(
            "sum",
            Filter.of("PLAYBACK_SUMMARY", where=(NotNull("rendition_name"),)),
            Field("playing_time_ms"),
        ),
        denominator=Aggregate(
            "sum",
            Filter.of("PLAYBACK_SUMMARY", where=(NotNull("rendition_name"),)),
            Field("playing_time_ms"),
        ),
        split_by="rendition_name",
        scale=100.0,
        presentation=Presentation(
            "Playback quality", chart="pie", original_panel="Percent Renditions"
        ),
    ),
    _quality_switches("UP", higher_is_better=None),
    _quality_switches("DOWN", higher_is_better=False),
    _percentile(
        LIVE_LATENCY,
        0.5,
        "Live latency",
        _LIVE_LATENCY_PERCENTILE,
        Presentation("Live", tile=5, original_panel="Median Live Latency"),
    ),
    _percentile(
        LIVE_LATENCY, 0.95, "Live latency", _LIVE_LATENCY_PERCENTILE, Presentation("Live", tile=6)
    ),
    Metric(
        name="concurrent_viewers",
        title="Concurrent viewers",
        description=(
            "Distinct sessions that played in the window (a PLAYBACK_SUMMARY with playing time): "
            "paused, failed and not-yet-started sessions do not count."
        ),
        unit="viewers",
        cloudwatch_unit="Count",
        kind="distinct",
        numerator=Aggregate("distinct", PLAYING_SUMMARIES, Field("session_id")),
        presentation=Presentation("Audience", tile=1),
    ),
    Metric(
        name="watch_time",
        title="Watch time",
        description="Sum of playing time, in viewer-minutes.",
        unit="min",
        cloudwatch_unit="None",
        kind="sum",
        numerator=Aggregate("sum", SUMMARIES, Field("playing_time_ms")),
        scale=MS_TO_MIN,
        presentation=Presentation("Audience", original_panel="Total Watch Time"),
    ),
    Metric(
        name="experience_score",
        title="Experience score",
        description=(
            "Mean experience score (0-100) of the views that closed in the window and have one: "
            "failure, startup, smoothness and quality parts (see Views)."
        ),
        unit="score",
        cloudwatch_unit="None",
        kind="mean",
        numerator=Aggregate("sum", SCORED_VIEWS, Field("score")),
        denominator=Aggregate("count", SCORED_VIEWS),
        higher_is_better=True,
        presentation=Presentation("Audience", tile=10, alarm_threshold=None),
    ),
)


def _stream_events(
    name: str,
    title: str,
    metric_type: str,
    event_name: str,
    description: str,
    *,
    higher_is_better: bool | None = None,
    tile: int | None = None,
) -> Metric:
    """The IVS stream events of one name: a channel's stream, counted once per event (a
    redelivered event is one record)."""
    return _count(
        name,
        title,
        f'{metric_type} records with event_name "{event_name}": {description}',
        Filter.of(metric_type, where=(Eq("event_name", event_name),)),
        Presentation("Live", tile=tile),
        higher_is_better=higher_is_better,
    )


CATALOGUE += (
    # --- Amazon IVS stream events (EventBridge; METRICS.md "Stream events") ------------------
    Metric(
        name="live_channels",
        title="Live channels",
        description=(
            "Distinct channel_watched with an IVS stream event (STREAM_STATE or STREAM_HEALTH) "
            "or a live viewer record (a client event with is_live) in the window: the channels "
            "on air, as their streams or their viewers show them."
        ),
        unit="channels",
        cloudwatch_unit="Count",
        kind="distinct",
        numerator=Aggregate(
            "distinct", STREAM_EVENTS | LIVE_VIEWER_RECORDS, Field("channel_watched")
        ),
        presentation=Presentation("Live", tile=11, original_panel="Concurrent Channels"),
    ),
    _stream_events(
        "stream_starts",
        "Stream starts",
        STREAM_STATE,
        "Stream Start",
        "streams that started sending video (the original's Channels Started).",
        tile=12,
    ),
    _stream_events(
        "stream_ends",
        "Stream ends",
        STREAM_STATE,
        "Stream End",
        "streams that stopped (the original's Channels Stopped).",
        tile=13,
    ),
    _stream_events(
        "stream_failures",
        "Stream failures",
        STREAM_STATE,
        "Stream Failure",
        "streams that failed (an ingest error on the broadcaster's side).",
        higher_is_better=False,
        tile=14,
    ),
    _stream_events(
        "starvations",
        "Stream starvations",
        STREAM_HEALTH,
        "Stream Starvation Start",
        "the broadcaster stopped sending data for a while (viewers stall with it).",
        higher_is_better=False,
        tile=15,
    ),
)

# Counted by each engine itself (records that came after their window closed), not from a filter.
LATE_EVENTS = "late_events"

BY_NAME: dict[str, Metric] = {m.name: m for m in CATALOGUE}
#: The metrics over events only: what an engine without views computes.
EVENT_METRICS: tuple[Metric, ...] = tuple(m for m in CATALOGUE if not m.over_views)


def metric(name: str) -> Metric:
    try:
        return BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(BY_NAME))
        raise KeyError(f"unknown metric {name!r}; the catalogue has: {known}") from None


def tiles() -> tuple[Metric, ...]:
    """The metrics with a tile on the local dashboard, in tile order."""
    shown = [m for m in CATALOGUE if m.presentation.tile is not None]
    return tuple(sorted(shown, key=lambda m: m.presentation.tile or 0))


def original_widgets() -> tuple[tuple[str, Metric], ...]:
    """(widget title, metric) for each widget of the original CloudWatch dashboard, in its order."""
    of = {m.presentation.original_widget: m for m in CATALOGUE}
    return tuple((title, of[title]) for title in ORIGINAL_WIDGETS)


def alarm_thresholds() -> dict[str, float]:
    """Metric name -> default alarm threshold, in the metric's CloudWatch unit."""
    return {
        m.name: m.presentation.alarm_threshold
        for m in CATALOGUE
        if m.presentation.alarm_threshold is not None
    }


def _check_presentation() -> None:
    """What no single entry can check: tiles numbered 1..n once each, every original widget
    drawn by exactly one metric."""
    numbers = sorted(m.presentation.tile for m in CATALOGUE if m.presentation.tile is not None)
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"tile positions must be 1..n, each once: {numbers}")
    claimed = [m.presentation.original_widget for m in CATALOGUE if m.presentation.original_widget]
    if sorted(claimed) != sorted(ORIGINAL_WIDGETS):
        raise ValueError(
            f"each original widget {ORIGINAL_WIDGETS} stands for one metric, not {claimed}"
        )


_check_presentation()


def aggregates(metrics: tuple[Metric, ...] | None = None) -> Iterator[Aggregate]:
    """Every distinct aggregate the metrics need (default: the catalogue's; engines compute each
    once)."""
    seen: set[Aggregate] = set()
    for m in CATALOGUE if metrics is None else metrics:
        for aggregate in (m.numerator, m.denominator):
            if aggregate is not None and aggregate not in seen:
                seen.add(aggregate)
                yield aggregate


def fields_read(metrics: tuple[Metric, ...] | None = None) -> frozenset[str]:
    """Every record field a filter or an expression of the metrics (default: the catalogue's)
    reads."""
    chosen = CATALOGUE if metrics is None else metrics
    names: set[str] = {"metric_type", "event_time", "session_id", *ALL_DIMENSIONS}
    for aggregate in aggregates(chosen):
        for clause in aggregate.filter.clauses:
            names.update(c.field for c in clause.conditions)
        if aggregate.value is not None:
            names.update(expr_fields(aggregate.value))
    for m in chosen:
        if m.split_by:
            names.add(m.split_by)
    return frozenset(names)


def expr_fields(expr: Expr) -> Iterator[str]:
    """The record fields an expression reads."""
    if isinstance(expr, Field):
        yield expr.name
    else:
        yield from expr_fields(expr.left)
        yield from expr_fields(expr.right)


__all__ = [
    "ALL_DIMENSIONS",
    "CATALOGUE",
    "EVENT_METRICS",
    "LATE_EVENTS",
    "METRIC_TYPES",
    "ORIGINAL_WIDGETS",
    "SECTIONS",
    "STREAM_HEALTH",
    "STREAM_METRIC_TYPES",
    "STREAM_STATE",
    "VIEW",
    "Add",
    "Aggregate",
    "Chart",
    "Clause",
    "Eq",
    "Field",
    "Filter",
    "Gt",
    "Metric",
    "Mul",
    "NotNull",
    "Presentation",
    "Section",
    "SectionName",
    "aggregates",
    "alarm_thresholds",
    "expr_fields",
    "fields_read",
    "metric",
    "original_widgets",
    "tiles",
]
