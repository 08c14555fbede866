"""Views: one viewer's session of playback, built from its events, as data every engine renders.

A *view* is what video analytics counts outcomes over (Mux's "view", Conviva's "session"): one
playback by one viewer, from the play intent to the viewer leaving. Exits before video start and
start failures are properties of a view, not of any single event: the viewer who leaves before the
first frame usually sends nothing more (the exit beacon is the one most often lost), so only the
view's state can say "this attempt never played".

**Which events make a view.** The viewers' records (`VIEW_INPUT`: client events, not the IVS
stream records, whose `session_id` is a stream's id) of one `session_id`, in event time, cut in
two wherever `timeout` (the inactivity timeout, `ViewRules.timeout_ms`) passes with no record of
that session,
and at every multiple of `max_length` since the epoch (so no view outlasts `max_length`; a
playback that crosses such an instant goes on as a new view, which has no attempt). This is
exactly a session window of gap `timeout` partitioned by (`session_id`, the `max_length` slot of
the record's event time), which is what Flink's session windows compute; a `STOP` ends the
viewer's playback (the view's outcome says so) and, since the SDK starts a new session id for a
new playback, nothing follows it.

**When a view counts.** A view *closes* `timeout` after its last record: its time, for windows, is
`close_time = last event time + timeout - 1 ms` (the last instant at which it was still open: the
`window_time` of Flink's session window). Every view KPI counts the view in the window holding its
close time, in every engine: streaming engines can emit it then (a later record of the session
would be at or after `last + timeout` and so start a new view), and batch engines compute the
same. View KPIs therefore come `timeout` after the view's last event.

**Records after their view closed.** Only records out of order by more than the allowed lateness
can come after the view they belong to has closed. The local engine *reopens* the view for such a
record when it comes within the revision horizon (see "Revisions" in the realtime service): the
view's record is withdrawn from its window, the record joins the view as if it had come in time,
and the view closes again, revised, so the result is the definition's over every record. The
Flink job cannot reopen a session window: it starts a new view with a record that is behind the
watermark while its window is still open, and drops it from views otherwise (it still counts in
its event window, and in the job's additive corrections). (One millisecond apart:
Flink's session windows also merge windows that only touch, so in the Flink job a record exactly
`timeout` after the last one still joins the view, where this definition starts a new one; the
Flink tests pin it.)

**Its attributes.** `client_platform`, `channel_watched`, `viewer_country`, `device_class` and
`user_id` are the largest value among the view's records (one value for a whole session in
practice; "largest" makes every engine pick the same one otherwise); `is_live` is true if any
record says so; `attempt_time` is its first ATTEMPT (or an old player's PLAY); the sums (playing,
buffering, stalls) are over its PLAYBACK_SUMMARY records, `error_count` counts its ERROR records,
`startup_latency_ms` is the smallest of its PLAY records', and `average_bitrate_bps` is the
bitrate weighted by playing time over the summaries that report one.

**A view's record** (`metric_type` "VIEW", `VIEW_FIELDS`) is computed from *partials*
(`PARTIALS`: min, max, sum, count and "any" aggregates over the view's records, which merge by
the same operation when two parts of a view meet) by *finishing* expressions (`finish_sql`). Its
outcome comes from the view's state, never from client flags:

- `start_failure`: a fatal ERROR, and no first frame before it (whatever the error's `phase`);
- `playback_failure`: a fatal ERROR after the first frame;
- `exit_before_start`: no fatal ERROR and no first frame;
- `played`: first frame, no fatal ERROR, and the viewer's STOP;
- `abandoned`: first frame, no fatal ERROR, no STOP (the tab or app went away, or the STOP beacon
  was lost).

The first frame is the first PLAY or PLAYBACK_SUMMARY (the SDK sends summaries only once playing).

**Experience score** (0-100, per view; the KPI is its mean over views that have one): four parts,
after Mux's Viewer Experience Score (playback success, startup time, smoothness, video quality)
and Conviva's "experience" metrics (VSF, EBVS, rebuffering ratio, bitrate):

- failure: 0 for a start or playback failure, 100 otherwise;
- startup: `100 * 8 / (8 + startup seconds)` (Mux's startup time score: 95 at 0.4 s, 80 at 2 s,
  50 at 8 s), none without a startup time;
- smoothness: the mean of `100 / sqrt(1 + (stalls / 2)^2)` and `100 * exp(-10 * stall share)`
  (stall share: buffering over playing + buffering time; Mux's smoothness score), none without
  watch time;
- quality: `100 * min(1, time-weighted bitrate / QUALITY_REFERENCE_BPS)` (Mux scores upscaling,
  which the SDK does not measure; the bitrate against the top of a typical ladder stands in),
  none without a bitrate.

The score: 0 for a failure; otherwise the mean of the startup, smoothness and quality parts the
view has; none for an exit before start (it had no playback to score; EBVS counts it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from qos_shared.catalogue import ATTEMPTS, METRIC_TYPES, VIEW, Eq, Field, Filter, Mul, NotNull
from qos_shared.catalogue_sql import Dialect, expr_sql, filter_sql

Outcome = Literal["played", "abandoned", "exit_before_start", "start_failure", "playback_failure"]
OUTCOMES: tuple[Outcome, ...] = (
    "played",
    "abandoned",
    "exit_before_start",
    "start_failure",
    "playback_failure",
)
FAILURES: tuple[Outcome, ...] = ("start_failure", "playback_failure")
STARTED: tuple[Outcome, ...] = ("played", "abandoned", "playback_failure")

#: The bitrate that scores 100 for quality: about a 1080p rendition of a typical ABR ladder.
QUALITY_REFERENCE_BPS = 6_000_000
#: The startup time that scores 50 (Mux's constant), in milliseconds.
STARTUP_HALF_SCORE_MS = 8_000


@dataclass(frozen=True, slots=True)
class ViewRules:
    """Where views are cut: after `timeout_ms` without a record of the session (longer than the
    SDK's summary interval, 60 s, so a playing viewer's view stays open), and at every multiple
    of `max_length_ms` since the epoch."""

    timeout_ms: int = 180_000
    max_length_ms: int = 4 * 3_600_000

    def __post_init__(self) -> None:
        if self.timeout_ms < 1:
            raise ValueError("a view's inactivity timeout is at least 1 ms")
        if self.max_length_ms < self.timeout_ms:
            raise ValueError("a view's maximum length is at least its inactivity timeout")

    def close_time(self, last_event_ms: int) -> int:
        """The view's time for windows: the last instant it was still open."""
        return last_event_ms + self.timeout_ms - 1

    def slot(self, event_ms: int) -> int:
        """The `max_length` slot of an event time: views never span two."""
        return event_ms // self.max_length_ms


DEFAULT_RULES = ViewRules()

PartialKind = Literal["min", "max", "sum", "count", "any"]


@dataclass(frozen=True, slots=True)
class Partial:
    """One aggregate over a view's records: `min`/`max`/`sum` of `value` (a record column, or a
    numeric catalogue expression for `sum`) over the records of `filter` (None: all), `count`
    of them, or `any` (1 if one passes, else 0). Two parts of one view merge by the same
    operation (`count` and `sum` by sum, `any` by max)."""

    name: str
    kind: PartialKind
    filter: Filter | None = None
    value: str | Field | Mul | None = None

    @property
    def merge(self) -> Literal["min", "max", "sum"]:
        return {"min": "min", "max": "max", "sum": "sum", "count": "sum", "any": "max"}[self.kind]  # type: ignore[return-value]


#: The records views are made of: the viewers' events. VIEW records and Amazon IVS stream
#: records (a channel's stream, keyed by its stream id) make no view.
VIEW_INPUT = Filter.of(*METRIC_TYPES)

SUMMARIES = Filter.of("PLAYBACK_SUMMARY")
FIRST_FRAMES = Filter.of("PLAY", "PLAYBACK_SUMMARY")
FATAL_ERRORS = Filter.of("ERROR", where=(Eq("fatal", True),))
RATED = Filter.of("PLAYBACK_SUMMARY", where=(NotNull("bitrate_bps"),))

#: The partials of a view, in the view state's column order.
PARTIALS: tuple[Partial, ...] = (
    Partial("view_start", "min", value="event_time"),
    Partial("last_event_time", "max", value="event_time"),
    Partial("records", "count"),
    Partial("attempt_time", "min", ATTEMPTS, "event_time"),
    Partial("first_frame_time", "min", FIRST_FRAMES, "event_time"),
    Partial("fatal_time", "min", FATAL_ERRORS, "event_time"),
    Partial("stopped", "any", Filter.of("STOP")),
    Partial("startup_latency_ms", "min", Filter.of("PLAY"), "startup_latency_ms"),
    Partial("playing_time_ms", "sum", SUMMARIES, Field("playing_time_ms")),
    Partial("buffering_time_ms", "sum", SUMMARIES, Field("buffering_time_ms")),
    Partial("buffering_count", "sum", SUMMARIES, Field("buffering_count")),
    Partial("error_count", "count", Filter.of("ERROR")),
    Partial("rated_time_ms", "sum", RATED, Field("playing_time_ms")),
    Partial("bitrate_time", "sum", RATED, Mul(Field("bitrate_bps"), Field("playing_time_ms"))),
    Partial("live", "any", Filter.of(*METRIC_TYPES, where=(Eq("is_live", True),))),
    Partial("client_platform", "max", value="client_platform"),
    Partial("channel_watched", "max", value="channel_watched"),
    Partial("viewer_country", "max", value="viewer_country"),
    Partial("device_class", "max", value="device_class"),
    Partial("user_id", "max", value="user_id"),
)

# ---------------------------------------------------------------------------------------------
# The view's record

ViewFieldType = Literal["STRING", "BIGINT", "DOUBLE", "BOOLEAN"]

#: A view's record: field -> type, in order. `event_time` is the view's close time.
VIEW_FIELDS: dict[str, ViewFieldType] = {
    "metric_type": "STRING",
    "event_id": "STRING",
    "view_id": "STRING",
    "session_id": "STRING",
    "user_id": "STRING",
    "client_platform": "STRING",
    "channel_watched": "STRING",
    "viewer_country": "STRING",
    "device_class": "STRING",
    "is_live": "BOOLEAN",
    "event_time": "BIGINT",
    "view_start": "BIGINT",
    "view_end": "BIGINT",
    "attempt_time": "BIGINT",
    "first_frame_time": "BIGINT",
    "fatal_time": "BIGINT",
    "startup_latency_ms": "BIGINT",
    "playing_time_ms": "BIGINT",
    "buffering_time_ms": "BIGINT",
    "buffering_count": "BIGINT",
    "error_count": "BIGINT",
    "average_bitrate_bps": "DOUBLE",
    "stopped": "BOOLEAN",
    "records": "BIGINT",
    "outcome": "STRING",
    "score": "DOUBLE",
    "score_failure": "DOUBLE",
    "score_startup": "DOUBLE",
    "score_smoothness": "DOUBLE",
    "score_quality": "DOUBLE",
}


_COLUMN_TYPES = {"STRING": "string", "BIGINT": "int", "DOUBLE": "float", "BOOLEAN": "bool"}


def view_column_types() -> dict[str, str]:
    """The view record's fields as `record_schema` column types (string, int, float, bool)."""
    return {name: _COLUMN_TYPES[kind] for name, kind in VIEW_FIELDS.items()}


#: The record fields the partials read (with `session_id`, the view's key).
def fields_read() -> frozenset[str]:
    names = {"session_id", "event_time", "metric_type"}
    for p in PARTIALS:
        if p.filter is not None:
            names.update(c.field for clause in p.filter.clauses for c in clause.conditions)
        if isinstance(p.value, str):
            names.add(p.value)
        elif p.value is not None:
            names.update(_expr_fields(p.value))
    return frozenset(names)


def _expr_fields(expr: Field | Mul) -> set[str]:
    if isinstance(expr, Field):
        return {expr.name}
    out: set[str] = set()
    for side in (expr.left, expr.right):
        assert isinstance(side, Field | Mul)
        out |= _expr_fields(side)
    return out


# ---------------------------------------------------------------------------------------------
# SQL, for every engine that builds views with SQL (DuckDB locally, Flink on AWS)


def _ident(name: str, dialect: Dialect) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a column name: {name!r}")
    return f"`{name}`" if dialect == "flink" else f'"{name}"'


def record_partial_sql(partial: Partial, dialect: Dialect) -> str:
    """The partial of a view of one record, as a plain expression over the record's columns
    (what `merge_sql` then merges): its value when the record passes the filter (else null),
    1 or 0 for `count` and `any`."""
    test = None if partial.filter is None else filter_sql(partial.filter, dialect)
    if partial.kind in ("count", "any"):
        return "1" if test is None else f"CASE WHEN {test} THEN 1 ELSE 0 END"
    assert partial.value is not None, partial.name
    if isinstance(partial.value, str):
        value = _ident(partial.value, dialect)
    else:
        value = expr_sql(partial.value, dialect)
    return value if test is None else f"CASE WHEN {test} THEN {value} END"


def partial_sql(partial: Partial, dialect: Dialect) -> str:
    """The partial as one aggregate call over a view's records."""
    value = record_partial_sql(partial, dialect)
    if partial.kind == "count":
        return "COUNT(*)" if partial.filter is None else f"SUM({value})"
    return f"{partial.merge.upper()}({value})"


def record_partials_sql(dialect: Dialect) -> list[str]:
    """`<expression> AS <partial>` for every partial, over one record."""
    return [f"{record_partial_sql(p, dialect)} AS {_ident(p.name, dialect)}" for p in PARTIALS]


def partials_sql(dialect: Dialect) -> list[str]:
    """`<aggregate> AS <partial>` for every partial, over a view's records."""
    return [f"{partial_sql(p, dialect)} AS {_ident(p.name, dialect)}" for p in PARTIALS]


def merge_sql(dialect: Dialect) -> list[str]:
    """`<aggregate> AS <partial>` merging rows of partials of one view into one."""
    return [
        f"{p.merge.upper()}({_ident(p.name, dialect)}) AS {_ident(p.name, dialect)}"
        for p in PARTIALS
    ]


def outcome_sql(dialect: Dialect) -> str:
    """The view's outcome from its partials."""
    fatal, frame = _ident("fatal_time", dialect), _ident("first_frame_time", dialect)
    stopped = _ident("stopped", dialect)
    return (
        f"CASE WHEN {fatal} IS NOT NULL AND ({frame} IS NULL OR {fatal} < {frame})"
        " THEN 'start_failure'"
        f" WHEN {fatal} IS NOT NULL THEN 'playback_failure'"
        f" WHEN {frame} IS NULL THEN 'exit_before_start'"
        f" WHEN {stopped} = 1 THEN 'played'"
        " ELSE 'abandoned' END"
    )


def _double(sql: str) -> str:
    return f"CAST({sql} AS DOUBLE)"


def score_parts_sql(dialect: Dialect) -> dict[str, str]:
    """score_failure, score_startup, score_smoothness, score_quality from the partials."""
    c = {p.name: _ident(p.name, dialect) for p in PARTIALS}
    outcome = outcome_sql(dialect)
    playing = f"COALESCE({c['playing_time_ms']}, 0)"
    buffering = f"COALESCE({c['buffering_time_ms']}, 0)"
    stalls = _double(f"COALESCE({c['buffering_count']}, 0)")
    watch = f"({playing} + {buffering})"
    bitrate = f"({c['bitrate_time']} / {_double(c['rated_time_ms'])})"
    failures = ", ".join(f"'{o}'" for o in FAILURES)
    return {
        "score_failure": (
            f"CASE WHEN ({outcome}) IN ({failures}) THEN 0.0"
            f" WHEN ({outcome}) = 'exit_before_start' THEN CAST(NULL AS DOUBLE) ELSE 100.0 END"
        ),
        "score_startup": (
            f"CASE WHEN {c['startup_latency_ms']} IS NULL THEN CAST(NULL AS DOUBLE)"
            f" ELSE 100.0 * {STARTUP_HALF_SCORE_MS}.0"
            f" / ({STARTUP_HALF_SCORE_MS}.0 + {_double(c['startup_latency_ms'])}) END"
        ),
        "score_smoothness": (
            f"CASE WHEN {watch} <= 0 THEN CAST(NULL AS DOUBLE)"
            f" ELSE (100.0 / SQRT(1.0 + ({stalls} / 2.0) * ({stalls} / 2.0))"
            f" + 100.0 * EXP(-10.0 * {_double(buffering)} / {_double(watch)})) / 2.0 END"
        ),
        "score_quality": (
            f"CASE WHEN {c['rated_time_ms']} IS NULL OR {c['rated_time_ms']} <= 0"
            " THEN CAST(NULL AS DOUBLE)"
            f" ELSE 100.0 * LEAST(1.0, {bitrate} / {QUALITY_REFERENCE_BPS}.0) END"
        ),
    }


def score_sql(dialect: Dialect) -> str:
    """The view's experience score from its partials (see the module's docstring)."""
    parts = score_parts_sql(dialect)
    outcome = outcome_sql(dialect)
    failures = ", ".join(f"'{o}'" for o in FAILURES)
    shown = [parts["score_startup"], parts["score_smoothness"], parts["score_quality"]]
    total = " + ".join(f"COALESCE({p}, 0.0)" for p in shown)
    count = " + ".join(f"CASE WHEN ({p}) IS NULL THEN 0 ELSE 1 END" for p in shown)
    return (
        f"CASE WHEN ({outcome}) = 'exit_before_start' THEN CAST(NULL AS DOUBLE)"
        f" WHEN ({outcome}) IN ({failures}) THEN 0.0"
        f" WHEN ({count}) = 0 THEN CAST(NULL AS DOUBLE)"
        f" ELSE ({total}) / CAST(({count}) AS DOUBLE) END"
    )


def finish_sql(dialect: Dialect, rules: ViewRules = DEFAULT_RULES) -> list[str]:
    """`<expression> AS <field>` for every field of the view's record (`VIEW_FIELDS`, in order),
    over one row of merged partials and the view's `session_id`."""
    c = {p.name: _ident(p.name, dialect) for p in PARTIALS}
    varchar = "STRING" if dialect == "flink" else "VARCHAR"
    view_id = f"{_ident('session_id', dialect)} || ':' || CAST({c['view_start']} AS {varchar})"
    parts = score_parts_sql(dialect)
    bitrate = (
        f"CASE WHEN {c['rated_time_ms']} IS NULL OR {c['rated_time_ms']} <= 0"
        f" THEN CAST(NULL AS DOUBLE) ELSE {c['bitrate_time']} / {_double(c['rated_time_ms'])} END"
    )

    def bigint(sql: str) -> str:
        return f"CAST({sql} AS BIGINT)"

    exprs: dict[str, str] = {
        "metric_type": f"'{VIEW}'",
        "event_id": f"'view:' || {view_id}",
        "view_id": view_id,
        "session_id": _ident("session_id", dialect),
        "user_id": c["user_id"],
        "client_platform": c["client_platform"],
        "channel_watched": c["channel_watched"],
        "viewer_country": c["viewer_country"],
        "device_class": c["device_class"],
        "is_live": f"{c['live']} = 1",
        "event_time": bigint(f"{c['last_event_time']} + {rules.timeout_ms - 1}"),
        "view_start": bigint(c["view_start"]),
        "view_end": bigint(c["last_event_time"]),
        "attempt_time": bigint(c["attempt_time"]),
        "first_frame_time": bigint(c["first_frame_time"]),
        "fatal_time": bigint(c["fatal_time"]),
        "startup_latency_ms": bigint(c["startup_latency_ms"]),
        "playing_time_ms": bigint(f"COALESCE({c['playing_time_ms']}, 0)"),
        "buffering_time_ms": bigint(f"COALESCE({c['buffering_time_ms']}, 0)"),
        "buffering_count": bigint(f"COALESCE({c['buffering_count']}, 0)"),
        "error_count": bigint(f"COALESCE({c['error_count']}, 0)"),
        "average_bitrate_bps": bitrate,
        "stopped": f"{c['stopped']} = 1",
        "records": bigint(c["records"]),
        "outcome": outcome_sql(dialect),
        "score": score_sql(dialect),
        **parts,
    }
    if set(exprs) != set(VIEW_FIELDS):
        raise AssertionError(f"view fields without SQL: {set(VIEW_FIELDS) ^ set(exprs)}")
    return [f"{exprs[name]} AS {_ident(name, dialect)}" for name in VIEW_FIELDS]
