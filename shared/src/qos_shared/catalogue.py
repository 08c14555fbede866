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
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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

MetricKind = Literal["count", "sum", "distinct", "mean", "ratio", "share", "percentile"]
# CloudWatch's unit names (PutMetricData accepts only these); `unit` below is for people.
CloudWatchUnit = Literal["Seconds", "Percent", "Count", "Bits/Second", "None"]
Dimension = Literal["client_platform", "channel_watched"]
ALL_DIMENSIONS: tuple[Dimension, ...] = ("client_platform", "channel_watched")


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


# The filters the catalogue uses, named once.
SUMMARIES = Filter.of("PLAYBACK_SUMMARY")
LIVE_SUMMARIES = Filter.of(
    "PLAYBACK_SUMMARY", where=(Eq("is_live", True), NotNull("live_latency_ms"))
)
PLAYING_SUMMARIES = Filter.of("PLAYBACK_SUMMARY", where=(Gt("playing_time_ms", 0),))
PLAYS = Filter.of("PLAY")
# Old players send no ATTEMPT; their PLAY (recognisable by the legacy envelope) is the attempt.
ATTEMPTS = Filter.of("ATTEMPT") | Filter.of("PLAY", where=(Eq("source_format", "legacy"),))
START_FAILURES = Filter.of("ERROR", where=(Eq("fatal", True), Eq("phase", "startup")))
PLAYBACK_FAILURES = Filter.of("ERROR", where=(Eq("fatal", True), Eq("phase", "playback")))
EXITS_BEFORE_START = Filter.of("STOP", where=(Eq("exit_before_start", True),))

WATCH_MS = Add(Field("playing_time_ms"), Field("buffering_time_ms"))
MS_TO_S = 1 / 1000
MS_TO_MIN = 1 / 60_000


def _startup_percentile(q: float) -> Metric:
    return Metric(
        name=f"startup_time_p{round(q * 100)}",
        title=f"Video startup time p{round(q * 100)}",
        description="Play intent to first frame, over PLAY events (percentile across viewers).",
        unit="s",
        cloudwatch_unit="Seconds",
        kind="percentile",
        numerator=Aggregate("values", PLAYS, Field("startup_latency_ms")),
        quantile=q,
        scale=MS_TO_S,
        higher_is_better=False,
    )


def _live_latency_percentile(q: float) -> Metric:
    return Metric(
        name=f"live_latency_p{round(q * 100)}",
        title=f"Live latency p{round(q * 100)}",
        description="Live latency reported by live PLAYBACK_SUMMARY events (percentile).",
        unit="s",
        cloudwatch_unit="Seconds",
        kind="percentile",
        numerator=Aggregate("values", LIVE_SUMMARIES, Field("live_latency_ms")),
        quantile=q,
        scale=MS_TO_S,
        higher_is_better=False,
    )


CATALOGUE: tuple[Metric, ...] = (
    # --- METRICS.md §1: the original sample's five, under their old names too ----------------
    Metric(
        name="startup_time",
        title="Startup time (mean)",
        description="Mean startup_latency_ms of PLAY events, in seconds.",
        unit="s",
        cloudwatch_unit="Seconds",
        kind="mean",
        numerator=Aggregate("sum", PLAYS, Field("startup_latency_ms")),
        denominator=Aggregate("count", PLAYS),
        scale=MS_TO_S,
        legacy_name="STARTUP_TIME",
        higher_is_better=False,
    ),
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
    ),
    Metric(
        name="live_latency",
        title="Live latency (mean)",
        description="Mean live_latency_ms of live PLAYBACK_SUMMARY events, in seconds.",
        unit="s",
        cloudwatch_unit="Seconds",
        kind="mean",
        numerator=Aggregate("sum", LIVE_SUMMARIES, Field("live_latency_ms")),
        denominator=Aggregate("count", LIVE_SUMMARIES),
        scale=MS_TO_S,
        legacy_name="LIVE_LATENCY",
        higher_is_better=False,
    ),
    Metric(
        name="concurrency",
        title="Concurrent sessions",
        description="Distinct session_id with a PLAYBACK_SUMMARY in the window.",
        unit="sessions",
        cloudwatch_unit="Count",
        kind="distinct",
        numerator=Aggregate("distinct", SUMMARIES, Field("session_id")),
        legacy_name="CONCURRENCY",
    ),
    # --- METRICS.md §2 -----------------------------------------------------------------------
    Metric(
        name="attempts",
        title="Attempts",
        description="ATTEMPT events (play intents); for old players, which send none, their PLAY.",
        unit="count",
        cloudwatch_unit="Count",
        kind="count",
        numerator=Aggregate("count", ATTEMPTS),
    ),
    Metric(
        name="plays",
        title="Plays",
        description="PLAY events: sessions that reached their first frame.",
        unit="count",
        cloudwatch_unit="Count",
        kind="count",
        numerator=Aggregate("count", PLAYS),
    ),
    Metric(
        name="video_start_failure",
        title="Video start failures",
        description="Fatal ERROR events in the startup phase per attempt, in percent (VSF).",
        unit="%",
        cloudwatch_unit="Percent",
        kind="ratio",
        numerator=Aggregate("count", START_FAILURES),
        denominator=Aggregate("count", ATTEMPTS),
        scale=100.0,
        higher_is_better=False,
    ),
    Metric(
        name="exits_before_video_start",
        title="Exits before video start",
        description=(
            "STOP events of sessions that ended with no first frame and no fatal error, per "
            "attempt, in percent (EBVS)."
        ),
        unit="%",
        cloudwatch_unit="Percent",
        kind="ratio",
        numerator=Aggregate("count", EXITS_BEFORE_START),
        denominator=Aggregate("count", ATTEMPTS),
        scale=100.0,
        higher_is_better=False,
    ),
    _startup_percentile(0.5),
    _startup_percentile(0.9),
    _startup_percentile(0.95),
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
    ),
    Metric(
        name="playback_failure",
        title="Playback failures",
        description="Fatal ERROR events after the first frame per PLAY, in percent.",
        unit="%",
        cloudwatch_unit="Percent",
        kind="ratio",
        numerator=Aggregate("count", PLAYBACK_FAILURES),
        denominator=Aggregate("count", PLAYS),
        scale=100.0,
        higher_is_better=False,
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
    ),
    Metric(
        name="quality_switches_up",
        title="Quality switches up",
        description="QUALITY_CHANGED events with step_direction UP.",
        unit="count",
        cloudwatch_unit="Count",
        kind="count",
        numerator=Aggregate(
            "count", Filter.of("QUALITY_CHANGED", where=(Eq("step_direction", "UP"),))
        ),
    ),
    Metric(
        name="quality_switches_down",
        title="Quality switches down",
        description="QUALITY_CHANGED events with step_direction DOWN.",
        unit="count",
        cloudwatch_unit="Count",
        kind="count",
        numerator=Aggregate(
            "count", Filter.of("QUALITY_CHANGED", where=(Eq("step_direction", "DOWN"),))
        ),
        higher_is_better=False,
    ),
    _live_latency_percentile(0.5),
    _live_latency_percentile(0.95),
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
    ),
)

# Counted by each engine itself (records that came after their window closed), not from a filter.
LATE_EVENTS = "late_events"

BY_NAME: dict[str, Metric] = {m.name: m for m in CATALOGUE}


def metric(name: str) -> Metric:
    try:
        return BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(BY_NAME))
        raise KeyError(f"unknown metric {name!r}; the catalogue has: {known}") from None


def aggregates() -> Iterator[Aggregate]:
    """Every distinct aggregate the catalogue needs (engines compute each once)."""
    seen: set[Aggregate] = set()
    for m in CATALOGUE:
        for aggregate in (m.numerator, m.denominator):
            if aggregate is not None and aggregate not in seen:
                seen.add(aggregate)
                yield aggregate


def fields_read() -> frozenset[str]:
    """Every record field a filter or an expression of the catalogue reads."""
    names: set[str] = {"metric_type", "event_time", "session_id", *ALL_DIMENSIONS}
    for aggregate in aggregates():
        for clause in aggregate.filter.clauses:
            names.update(c.field for c in clause.conditions)
        if aggregate.value is not None:
            names.update(expr_fields(aggregate.value))
    for m in CATALOGUE:
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
    "LATE_EVENTS",
    "Add",
    "Aggregate",
    "Clause",
    "Eq",
    "Field",
    "Filter",
    "Gt",
    "Metric",
    "Mul",
    "NotNull",
    "aggregates",
    "expr_fields",
    "fields_read",
    "metric",
]
