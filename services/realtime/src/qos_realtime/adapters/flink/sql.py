"""Renders the Flink SQL of the window job from the metric catalogue: views from a source to rows.

The job is a chain of temporary views over a source table (any table with the fields the
catalogue and the views read, `RECORD_FIELDS`, and `event_id`, a `rowtime` attribute with a
watermark and a `proctime` attribute; see `tables`), ending in `qos_metric_rows`, whose columns
are those of `MetricRow` (window bounds in epoch ms), `qos_distribution_rows`, whose columns are
those of `DistributionRow`, `qos_late_rows`, MetricRows of the `late_events` metric, and
`qos_views`, the VIEW records. `insert_sql` writes the first two to one sink, `late_insert_sql`
the third to the same sink, `views_insert_sql` the views to a sink of their own; the job runs
the INSERTs as one statement set. Semantics, shared with the local engine
(`qos_realtime.adapters.window_engine`):

- duplicates: Kinesis delivers at least once, so one record (one `event_id`) may come twice.
  `qos_unique_events` keeps the first record of each `event_id` and drops the others, before any
  window (Flink's deduplication: `ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY proctime)
  = 1`). Ordered by the processing-time attribute, not by `rowtime`: that variant is insert-only
  and keeps `rowtime` a time attribute for the window functions downstream, whereas Flink 2.2's
  keep-first on `rowtime` holds records until the watermark passes them and drops those already
  behind it, so late records would vanish before they could be counted. Its state (one key per
  `event_id`) expires after `table.exec.state.ttl` (the job's `dedupe.ttl.seconds`): a duplicate
  that comes later than that is counted again. A record without `event_id` is dropped (stored
  records always have one; the local engine's event log requires it too). The event log the local
  engine reads is unique by `event_id` already, so both engines count a record once.
- late records: a record is late when its window has closed, that is when its window's last
  millisecond is at or behind the watermark (`CURRENT_WATERMARK(rowtime)`), which is what Flink's
  window operator drops. The job splits the unique records on that test: `qos_events` (on time)
  feeds every window, `qos_late_events` becomes `late_events` rows (`qos_late_rows`), like the
  local engine's: the late record's own window, group `all`, `final` true, and a value that adds
  up: one row of value 1 per late record (see `late_views`). A duplicate of a late record is
  dropped before the test, so it counts once. The test runs after the deduplication, in its
  task; the window operator is downstream of it, and watermarks travel behind the records they
  follow, so the watermark the window operator has when a record reaches it is never ahead of
  the one the test saw (with parallelism 1 they are the same): a record found on time is never
  dropped by its window, and every unique record is counted once, in its window or as late.
- revisions: a late record whose window ended less than the revision horizon before the watermark
  (`revision.horizon.seconds`, `qos_revision_events`) also becomes correction rows (`correction`
  true; see `revision_views`): its own aggregates, per group and correctable metric, in the
  window's key, which readers add to the window's final row's (`numerator`, `denominator`: every
  final row of an additive metric carries its aggregates too), and its distribution values.
  Counts, sums, means and ratios over events add up; distinct counts and shares do not (a late
  session may already be counted; every part's denominator moves) and the view KPIs cannot (a
  late record joins no view): none is emitted for them. Records beyond the horizon are only
  `late_events`.
- the watermark (`tables`): the largest `LEAST(event time, receive time)` read, minus the
  allowed lateness; a client clock ahead cannot push it past the server's clock.

- views (`qos_shared.views`): `qos_view_keyed` gives each record on time its view's key
  (`session_id` and the start of its `max_length` slot, one column), `qos_view_partials` is a
  session window (`SESSION` TVF, gap `timeout`, partitioned by that key) aggregating each view's
  partials, emitted when the watermark passes the window's `window_time`: the view's last record +
  `timeout` - 1 ms, its close time, which stays its time attribute (`view_time`). `qos_views`
  finishes the partials into the view's record (`VIEW_FIELDS`), which goes to the views sink
  (`views_insert_sql`) and, through `qos_window_input` (the events and the VIEW records, with the
  catalogue's columns, null where a row has none), into every window: a view counts in the window
  holding its close time, like an event. No VIEW record is late there: a window operator emits
  what a watermark closes before it forwards that watermark, so the tumbling window downstream
  has not passed the view's time when its record arrives (a test jumps the watermark past views
  and windows at once). The session state lives while the view is open. Flink merges session
  windows that touch, so a record exactly `timeout` after the last joins the view, where the
  definition starts a new one (docs/metrics.md; a test pins it).
- event-time tumbling windows of W seconds, aligned to the epoch (`table.local-time-zone` UTC);
- groups: all records, per `client_platform`, per `channel_watched` (GROUPING SETS, which Flink's
  window aggregation supports; every channel is kept: the top-N + "other" guard is the
  publisher's and the local engine's business);
- group metrics: one window aggregation computes every non-share metric as one column, then
  `CROSS JOIN UNNEST(MAP[name, value, ...])` turns the columns into one row per metric (the
  unpivot Flink SQL lacks), keeping null values (no data) as rows, like the local engine. (A MAP,
  not an ARRAY of ROWs: Flink 2.2 cannot store a view whose ROWs it must cast to one type.)
- share metrics: a window aggregation sums the numerator per (group, split value); a second,
  cascaded window aggregation over its `window_time` totals each group and collects its parts
  (`ARRAY_AGG`), which are unnested and divided by the total. No join, so no unbounded state.
- distribution rows (`DistributionRow`, `qos_distribution_rows`): see below.

The sink takes both row types, one JSON object per row: its columns are MetricRow's followed by
DistributionRow's others (`SINK_COLUMNS`, every one nullable), and the one INSERT writes the
distribution rows with null `metric`, `value`, `split` and the metric rows with null `source`,
`values`, `counts` (the publisher tells them apart by a non-null `source`). One sink and one
INSERT rather than a second sink table on the same stream: one Kinesis producer, and one job
whose statements are DDL, views, INSERT.

Distribution rows carry the values behind the percentiles, so that CloudWatch computes real
percentiles across viewers: per window, group (all, each `client_platform`, each
`channel_watched`: every channel, like the metric rows) and source (each field a percentile metric
reads, over that metric's records, `DISTRIBUTION_SOURCES`), the exact multiset of the source's
values in the window, as `values` (distinct, ascending, in the field's own unit) and `counts`.

- `qos_distribution_values`: the records of each source's filter that have a value, one row per
  (record, source), fanned out to the record's three groups with `CROSS JOIN UNNEST(MAP[...])`
  (what GROUPING SETS would expand to; here the group columns are plain columns from the start).
- `qos_distribution_counts`: a window aggregation counts each distinct value per (window, source,
  group); its state is the distinct values of the open windows, freed when a window closes.
- `qos_distribution_chunks`: a cascaded window aggregation over that one's `window_time` collects
  the (value, count) pairs of each (window, source, group, chunk) with `ARRAY_AGG`. Its input is
  one row per distinct value, so its state is bounded the same way. No join, no unbounded state.
- Order. `ARRAY_AGG` collects in arrival order (Flink has no ordered ARRAY_AGG), and Flink 2.2's
  `ARRAY_SORT` sorts no ROWs, nor could one sort keep a separate counts array aligned, so each
  pair is encoded as one sortable DECIMAL(38, 18): the value (an integer) as the integral part,
  the count as the 18 fractional digits (`1200` seen 3 times: `1200.000000000000000003`). Values
  are distinct within a group, so sorting the keys sorts by value (negative ones too: the count
  only moves a key within its integer's unit interval, away from zero). `qos_distribution_rows`
  then reads the values back by casting the keys to BIGINT (which truncates the fraction) and
  the counts from the keys' text (the digits after the point). Hence sources must be integer
  fields (BIGINT: the millisecond fields), which a test checks.
- Size. A Kinesis record holds 1 MiB, and a group's distinct values are not bounded by the window
  (every millisecond of startup time may occur). So a group's values are split into chunks of
  `DISTRIBUTION_CHUNK` consecutive integers (`FLOOR(value / DISTRIBUTION_CHUNK)`), one row each:
  at most 20,000 pairs of at most 43 JSON characters (a DOUBLE, a BIGINT, two commas), 860 KB.
  Splitting is harmless: the publisher sends each row as datums of the same name, dimensions and
  timestamp, which CloudWatch adds up. A group whose values all lie below 20 s (the usual case)
  is one row. Splitting, not snapping values to a bounded grid in SQL: the rows stay exact, and
  chunks of consecutive integers need no knowledge of the group's other values.

Every statement is plain text; `statements()` lists them in order.
"""

# ruff: noqa: S608 - SQL text rendered from the catalogue, integers and fixed names; no input.
from __future__ import annotations

from collections.abc import Collection

from qos_shared import views
from qos_shared.catalogue import (
    CATALOGUE,
    EVENT_METRICS,
    LATE_EVENTS,
    Aggregate,
    Field,
    Metric,
    fields_read,
)
from qos_shared.catalogue_sql import (
    aggregate_sql,
    expr_sql,
    filter_sql,
    metric_sql,
    share_numerator_sql,
)
from qos_shared.views import DEFAULT_RULES, VIEW_FIELDS, ViewRules

# Every metric of the catalogue: those over events, and those over the job's VIEW records.
GROUP_METRICS: tuple[Metric, ...] = tuple(m for m in CATALOGUE if m.kind != "share")
SHARE_METRICS: tuple[Metric, ...] = tuple(m for m in CATALOGUE if m.kind == "share")
# The metrics whose rows carry their aggregates (MetricRow's `numerator`, `denominator`): those
# that add up across records. Distinct counts, shares and percentiles do not.
ADDITIVE_KINDS = frozenset({"count", "sum", "mean", "ratio"})
ADDITIVE_METRICS: tuple[Metric, ...] = tuple(m for m in GROUP_METRICS if m.kind in ADDITIVE_KINDS)
# The metrics a late record's corrections revise: the additive ones over events. A metric over
# VIEW records cannot be: a late record never reaches its view (the views read records on time).
CORRECTABLE_METRICS: tuple[Metric, ...] = tuple(m for m in ADDITIVE_METRICS if not m.over_views)
DEFAULT_REVISION_HORIZON_S = 600

# Flink types of the stored-record fields the job reads (the event metrics' and the views').
# A unit test checks this against `qos_shared.record_schema` (which needs pydantic, absent from
# the Flink runtime).
FIELD_TYPES: dict[str, str] = {
    "metric_type": "STRING",
    "session_id": "STRING",
    "user_id": "STRING",
    "client_platform": "STRING",
    "channel_watched": "STRING",
    "viewer_country": "STRING",
    "device_class": "STRING",
    "event_time": "BIGINT",
    "is_live": "BOOLEAN",
    "source_format": "STRING",
    "startup_latency_ms": "BIGINT",
    "playing_time_ms": "BIGINT",
    "buffering_time_ms": "BIGINT",
    "buffering_count": "BIGINT",
    "error_count": "BIGINT",
    "live_latency_ms": "BIGINT",
    "bitrate_bps": "BIGINT",
    "rendition_name": "STRING",
    "step_direction": "STRING",
    "exit_before_start": "BOOLEAN",
    "fatal": "BOOLEAN",
    "phase": "STRING",
    "event_name": "STRING",
}
# The records' fields the job reads: those of the metrics over events and of the view partials.
RECORD_FIELDS: tuple[str, ...] = tuple(sorted(fields_read(EVENT_METRICS) | views.fields_read()))
# The windows' input columns: every field the catalogue reads, over events and VIEW records
# (`outcome` and `score` are the view record's only), with their types.
WINDOW_FIELDS: dict[str, str] = {
    name: FIELD_TYPES.get(name) or VIEW_FIELDS[name] for name in sorted(fields_read(CATALOGUE))
}

# The view of the job's MetricRows, and its columns (MetricRow's fields, in order).
ROWS_VIEW = "qos_metric_rows"
ROW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("window_start", "BIGINT"),
    ("window_end", "BIGINT"),
    ("metric", "STRING"),
    ("dimension", "STRING"),
    ("dimension_value", "STRING"),
    ("value", "DOUBLE"),
    ("split", "STRING"),
    ("final", "BOOLEAN"),
    ("numerator", "DOUBLE"),
    ("denominator", "DOUBLE"),
    ("correction", "BOOLEAN"),
)
# DistributionRow's fields, in order, and the view of the job's distribution rows.
DISTRIBUTIONS_VIEW = "qos_distribution_rows"
DISTRIBUTION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("window_start", "BIGINT"),
    ("window_end", "BIGINT"),
    ("source", "STRING"),
    ("dimension", "STRING"),
    ("dimension_value", "STRING"),
    ("values", "ARRAY<DOUBLE>"),
    ("counts", "ARRAY<BIGINT>"),
    ("final", "BOOLEAN"),
    ("correction", "BOOLEAN"),
)
# The sink's columns: MetricRow's, then DistributionRow's others. A row fills those of its type.
SINK_COLUMNS: tuple[tuple[str, str], ...] = ROW_COLUMNS + tuple(
    c for c in DISTRIBUTION_COLUMNS if c[0] not in dict(ROW_COLUMNS)
)
# Consecutive integer values per distribution row (see the module docstring: a row < 1 MiB).
DISTRIBUTION_CHUNK = 20_000
# The count's digits in a distribution key DECIMAL(38, 18); a BIGINT value fits the other 20.
_COUNT_DIGITS = 18
# MetricRow's group dimensions; the grouped columns of the window aggregation are the last two.
GROUP_DIMENSIONS: tuple[str, ...] = ("all", "client_platform", "channel_watched")

RECORDS_VIEW = "qos_records"
UNIQUE_VIEW = "qos_unique_events"
EVENTS_VIEW = "qos_events"  # the unique records on time: the views and every window read these
VIEW_KEYS_VIEW = "qos_view_keyed"  # the events with their view's key
VIEW_PARTIALS_VIEW = "qos_view_partials"  # one row of partials per view, when it closes
VIEWS_VIEW = "qos_views"  # one VIEW record per view (VIEW_FIELDS), and `view_time`
WINDOW_INPUT_VIEW = "qos_window_input"  # the events and the VIEW records: every window reads it
LATE_VIEW = "qos_late_events"  # the unique records whose window had closed
LATE_ROWS_VIEW = "qos_late_rows"
REVISION_VIEW = "qos_revision_events"  # the late records within the revision horizon
CORRECTIONS_VIEW = "qos_correction_rows"  # their MetricRows of deltas (`correction` true)
DISTRIBUTION_CORRECTIONS_VIEW = "qos_distribution_corrections"  # their DistributionRows
GROUPS_VIEW = "qos_group_metrics"
# The source's columns the job needs besides the catalogue's fields (see `tables`).
EVENT_ID = "event_id"
PROCTIME = "proctime"  # a processing-time attribute: the deduplication's order
RECEIVED_AT = "received_at"  # the server's receive time (epoch ms): bounds the watermark


def ident(name: str) -> str:
    """A Flink SQL identifier, back-quoted (`value`, `final` and `split` are keywords)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not an identifier: {name!r}")
    return f"`{name}`"


def string(value: str) -> str:
    """A STRING literal: Flink types a bare 'abc' as CHAR(3), and a CASE or ARRAY of CHARs of
    different lengths pads them all to the longest."""
    return "CAST('" + value.replace("'", "''") + "' AS STRING)"


def _epoch_ms(column: str) -> str:
    # window_start/window_end are TIMESTAMP(3) in the session time zone; whole seconds here.
    return f"UNIX_TIMESTAMP(CAST({column} AS STRING)) * 1000"


def _tumble(table: str, time_column: str, window_s: int) -> str:
    return (
        f"TABLE(TUMBLE(TABLE {table}, DESCRIPTOR({ident(time_column)}), "
        f"INTERVAL '{int(window_s)}' SECOND))"
    )


_PLATFORM, _CHANNEL = (ident(d) for d in GROUP_DIMENSIONS[1:])
_GROUPING_SETS = f"GROUPING SETS ((), ({_PLATFORM}), ({_CHANNEL}))"
_DIMENSION = f"""CASE WHEN GROUPING({_PLATFORM}) = 0 THEN {string("client_platform")}
             WHEN GROUPING({_CHANNEL}) = 0 THEN {string("channel_watched")}
             ELSE {string("all")} END AS dimension,
        CASE WHEN GROUPING({_PLATFORM}) = 0 THEN COALESCE({_PLATFORM}, '')
             WHEN GROUPING({_CHANNEL}) = 0 THEN COALESCE({_CHANNEL}, '')
             ELSE '' END AS dimension_value"""


def records_view(source: str) -> str:
    """The source's records that have an event time (a null rowtime cannot be windowed) and an
    `event_id` (the deduplication's key)."""
    return f"""CREATE TEMPORARY VIEW {RECORDS_VIEW} AS
SELECT * FROM {source}
WHERE {ident("event_time")} IS NOT NULL AND {ident(EVENT_ID)} IS NOT NULL"""


def unique_events_view() -> str:
    """The first record of each `event_id` (keep-first deduplication on processing time: an
    insert-only stream whose `rowtime` is still a time attribute); the catalogue's fields and
    `rowtime`."""
    columns = ", ".join(ident(c) for c in [*RECORD_FIELDS, "rowtime"])
    return f"""CREATE TEMPORARY VIEW {UNIQUE_VIEW} AS
SELECT {columns}
FROM (
    SELECT *,
           ROW_NUMBER() OVER (PARTITION BY {ident(EVENT_ID)} ORDER BY {ident(PROCTIME)} ASC)
               AS row_num
    FROM {RECORDS_VIEW}
)
WHERE row_num = 1"""


def _aligned_start(column: str, ms: int) -> str:
    """The epoch-ms start of the span of `ms` holding the column's time, aligned to the epoch."""
    time = ident(column)
    return f"({time} - MOD(MOD({time}, {int(ms)}) + {int(ms)}, {int(ms)}))"


def _window_start_ms(window_s: int) -> str:
    """The epoch-ms start of the record's window, aligned to the epoch like TUMBLE's."""
    return _aligned_start("event_time", int(window_s) * 1000)


def late_sql(window_s: int) -> str:
    """True for a record whose window has closed: its window's last millisecond is at or behind
    the watermark (what the window operator drops); false before the first watermark."""
    last_ms = f"TO_TIMESTAMP_LTZ({_window_start_ms(window_s)} + {int(window_s) * 1000 - 1}, 3)"
    watermark = f"CURRENT_WATERMARK({ident('rowtime')})"
    return f"({watermark} IS NOT NULL AND {last_ms} <= {watermark})"


def events_view(window_s: int) -> str:
    """The unique records on time: the input of every window."""
    return f"""CREATE TEMPORARY VIEW {EVENTS_VIEW} AS
SELECT * FROM {UNIQUE_VIEW}
WHERE NOT {late_sql(window_s)}"""


def late_views(window_s: int) -> list[str]:
    """The unique records behind the watermark, and their `late_events` MetricRows: one per
    record, of value 1, in the record's own window and group `all` (the local engine's shape;
    readers add the values up, as the metric store and CloudWatch do). One row per record, not a
    count per window: any event-time window would drop these records again, a non-windowed
    GROUP BY emits updates the sink cannot take, and a processing-time window holds its last
    counts back when a bounded input ends (checked on the mini-cluster)."""
    start = _window_start_ms(window_s)
    return [
        f"""CREATE TEMPORARY VIEW {LATE_VIEW} AS
SELECT * FROM {UNIQUE_VIEW}
WHERE {late_sql(window_s)}""",
        f"""CREATE TEMPORARY VIEW {LATE_ROWS_VIEW} AS
SELECT {start} AS window_start,
       {start} + {int(window_s) * 1000} AS window_end,
       {string(LATE_EVENTS)} AS metric, {string("all")} AS dimension,
       {string("")} AS dimension_value, CAST(1 AS DOUBLE) AS {ident("value")},
       {string("")} AS {ident("split")}, TRUE AS {ident("final")},
       {_NO_AGGREGATES}
FROM {LATE_VIEW}""",
    ]


# The aggregates' columns of a row that has none (late_events, shares).
_NO_AGGREGATES = (
    f"CAST(NULL AS DOUBLE) AS {ident('numerator')}, CAST(NULL AS DOUBLE) AS "
    f"{ident('denominator')}, FALSE AS {ident('correction')}"
)


def _row_aggregate(aggregate: Aggregate) -> str:
    """One record's contribution to a count or sum aggregate, as a DOUBLE: 0 outside its
    filter (or without the summed value)."""
    where = filter_sql(aggregate.filter, "flink")
    if aggregate.kind == "count":
        return f"CAST(CASE WHEN {where} THEN 1 ELSE 0 END AS DOUBLE)"
    if aggregate.kind != "sum" or aggregate.value is None:
        raise ValueError(f"a {aggregate.kind} aggregate does not add up over records")
    return f"COALESCE(CASE WHEN {where} THEN {expr_sql(aggregate.value, 'flink')} END, 0E0)"


def _applies(metric: Metric) -> str:
    """True for a record in the filter of the metric's numerator or denominator."""
    filters = [metric.numerator.filter] + (
        [] if metric.denominator is None else [metric.denominator.filter]
    )
    return " OR ".join(f"({filter_sql(f, 'flink')})" for f in dict.fromkeys(filters))


def _value_of(metric: Metric, numerator: str, denominator: str) -> str:
    """The metric's value from its aggregates (null for a mean or ratio over nothing)."""
    scale = f" * {metric.scale!r}" if metric.scale != 1.0 else ""
    if metric.denominator is None:
        return f"({numerator}){scale}"
    return f"({numerator}) / CASE WHEN {denominator} = 0 THEN NULL ELSE {denominator} END{scale}"


def _within_horizon_sql(window_s: int, horizon_s: int) -> str:
    """True for a late record whose window ended less than `horizon_s` before the watermark."""
    if horizon_s <= 0:
        return "FALSE"
    end = f"{_window_start_ms(window_s)} + {int(window_s) * 1000}"
    return (
        f"TO_TIMESTAMP_LTZ({end} + {int(horizon_s) * 1000}, 3) > "
        f"CURRENT_WATERMARK({ident('rowtime')})"
    )


_GROUPS_OF_RECORD = ",\n    ".join(
    [
        f"{string('all')}, {string('')}",
        *(f"{string(d)}, COALESCE(e.{ident(d)}, '')" for d in GROUP_DIMENSIONS[1:]),
    ]
)


def revision_views(window_s: int, horizon_s: int) -> list[str]:
    """The late records within the revision horizon, and their correction rows: per record,
    group (all, its platform, its channel) and correctable metric whose filters it is in, a
    MetricRow of the record's own aggregates (the deltas to add to the closed window's), and per
    record, group and distribution source it has a value of, a DistributionRow of that one value.
    One row per record, like the `late_events` rows, for the same reasons (see `late_views`):
    readers add them up (the publisher sends statistic sets and values CloudWatch combines)."""
    start = _window_start_ms(window_s)
    window = f"{start} AS window_start, {start} + {int(window_s) * 1000} AS window_end"
    triples = []
    for m in CORRECTABLE_METRICS:
        numerator = _row_aggregate(m.numerator)
        denominator = (
            "CAST(NULL AS DOUBLE)" if m.denominator is None else _row_aggregate(m.denominator)
        )
        applies = f"CAST(CASE WHEN {_applies(m)} THEN 1 ELSE 0 END AS DOUBLE)"
        value = _value_of(m, numerator, denominator)
        triples.append(
            f"{string(m.name)}, ARRAY[CAST({value} AS DOUBLE), {numerator}, "
            f"CAST({denominator} AS DOUBLE), {applies}]"
        )
    pairs = ",\n    ".join(triples)
    branches = "\nUNION ALL\n".join(
        f"""SELECT {window}, {_PLATFORM}, {_CHANNEL}, {string(name)} AS source,
       {ident(name)} AS {ident("value")}
FROM {REVISION_VIEW}
WHERE {filter_sql(aggregate.filter, "flink")} AND {ident(name)} IS NOT NULL"""
        for name, aggregate in DISTRIBUTION_SOURCES.items()
    )
    return [
        f"""CREATE TEMPORARY VIEW {REVISION_VIEW} AS
SELECT * FROM {LATE_VIEW}
WHERE {_within_horizon_sql(window_s, horizon_s)}""",
        f"""CREATE TEMPORARY VIEW {CORRECTIONS_VIEW} AS
SELECT e.window_start, e.window_end, m.metric, g.dimension, g.dimension_value,
       m.a[1] AS {ident("value")}, {string("")} AS {ident("split")}, TRUE AS {ident("final")},
       m.a[2] AS {ident("numerator")}, m.a[3] AS {ident("denominator")},
       TRUE AS {ident("correction")}
FROM (SELECT {window}, * FROM {REVISION_VIEW}) AS e
CROSS JOIN UNNEST(MAP[
    {_GROUPS_OF_RECORD}
]) AS g (dimension, dimension_value)
CROSS JOIN UNNEST(MAP[
    {pairs}
]) AS m (metric, a)
WHERE m.a[4] > 0""",
        f"""CREATE TEMPORARY VIEW {DISTRIBUTION_CORRECTIONS_VIEW} AS
SELECT e.window_start, e.window_end, e.source, g.dimension, g.dimension_value,
       ARRAY[CAST(e.{ident("value")} AS DOUBLE)] AS {ident("values")},
       ARRAY[CAST(1 AS BIGINT)] AS {ident("counts")},
       TRUE AS {ident("final")}, TRUE AS {ident("correction")}
FROM (
{branches}
) AS e
CROSS JOIN UNNEST(MAP[
    {_GROUPS_OF_RECORD}
]) AS g (dimension, dimension_value)""",
    ]


def _interval_ms(ms: int) -> str:
    """An INTERVAL of whole milliseconds (seconds with a leading precision that fits it)."""
    seconds = f"{ms // 1000}.{ms % 1000:03d}"
    return f"INTERVAL '{seconds}' SECOND({max(2, len(str(ms // 1000)))}, 3)"


def view_views(rules: ViewRules = DEFAULT_RULES) -> list[str]:
    """The views of the records on time, and their VIEW records (see `qos_shared.views`).

    `qos_view_keyed`: each record with its view's key, `session_id` and the start of its
    `max_length` slot (one column: Flink 2.2 cannot expand a stored view whose session window
    is partitioned by two). `qos_view_partials`: a session window of gap `timeout` per key
    aggregates each view's partials; it emits a view when the watermark passes its
    `window_time`, the view's last record + `timeout` - 1 ms, which stays the row's time
    attribute (`view_time`). GROUP BY the partition key and the window, nothing else: that is
    what Flink plans as a window aggregation (insert-only, state freed when the view closes).
    `qos_views`: the partials finished into the view's record (`VIEW_FIELDS`)."""
    slot = _aligned_start("event_time", rules.max_length_ms)
    partials = ",\n       ".join(views.partials_sql("flink"))
    finished = ",\n       ".join(views.finish_sql("flink", rules))
    return [
        f"""CREATE TEMPORARY VIEW {VIEW_KEYS_VIEW} AS
SELECT *, {ident("session_id")} || '/' || CAST({slot} AS STRING) AS view_key
FROM {EVENTS_VIEW}
WHERE {filter_sql(views.VIEW_INPUT, "flink")}""",
        f"""CREATE TEMPORARY VIEW {VIEW_PARTIALS_VIEW} AS
SELECT window_time AS view_time,
       MAX({ident("session_id")}) AS {ident("session_id")},
       {partials}
FROM TABLE(SESSION(TABLE {VIEW_KEYS_VIEW} PARTITION BY view_key, DESCRIPTOR(rowtime),
    {_interval_ms(rules.timeout_ms)}))
GROUP BY view_key, window_start, window_end, window_time""",
        f"""CREATE TEMPORARY VIEW {VIEWS_VIEW} AS
SELECT view_time,
       {finished}
FROM {VIEW_PARTIALS_VIEW}""",
    ]


def window_input_view() -> str:
    """The input of every window: the records on time and the VIEW records, with the columns
    the catalogue reads (`WINDOW_FIELDS`: null where a row has none, such as an event's
    `outcome`) and `rowtime` (a VIEW record's is its `view_time`: it counts in the window
    holding its close time, like an event)."""

    def column(name: str, have: Collection[str]) -> str:
        value = ident(name) if name in have else "NULL"
        return f"CAST({value} AS {WINDOW_FIELDS[name]}) AS {ident(name)}"

    events = ", ".join(column(c, set(RECORD_FIELDS)) for c in WINDOW_FIELDS)
    records = ", ".join(column(c, VIEW_FIELDS) for c in WINDOW_FIELDS)
    return f"""CREATE TEMPORARY VIEW {WINDOW_INPUT_VIEW} AS
SELECT {events}, rowtime
FROM {EVENTS_VIEW}
UNION ALL
SELECT {records}, view_time AS rowtime
FROM {VIEWS_VIEW}"""


def group_metrics_view(window_s: int) -> str:
    """One row per (window, group), one DOUBLE column per non-share metric, named after it."""
    columns = ",\n        ".join(
        [
            *(f"{metric_sql(m, 'flink')} AS {ident(m.name)}" for m in GROUP_METRICS),
            *(
                # A sum over no record is null in SQL; as an aggregate to add up, it is 0.
                f"CAST(COALESCE({aggregate_sql(a, 'flink')}, 0) AS DOUBLE) "
                f"AS {ident(_aggregate_column(m, i))}"
                for m in ADDITIVE_METRICS
                for i, a in enumerate((m.numerator, m.denominator))
                if a is not None
            ),
        ]
    )
    return f"""CREATE TEMPORARY VIEW {GROUPS_VIEW} AS
SELECT window_start, window_end,
        {_DIMENSION},
        {columns}
FROM {_tumble(WINDOW_INPUT_VIEW, "rowtime", window_s)}
GROUP BY window_start, window_end, {_GROUPING_SETS}"""


def _aggregate_column(metric: Metric, index: int) -> str:
    """The group metrics' column of a metric's numerator (0) or denominator (1)."""
    return f"{metric.name}__{('numerator', 'denominator')[index]}"


def group_rows_view() -> str:
    """The group metrics unpivoted: one MetricRow per (window, group, metric), with the
    aggregates of the additive metrics (an ARRAY of value, numerator, denominator per metric:
    DOUBLEs, which a stored view takes, unlike ROWs)."""

    def aggregate(metric: Metric, index: int) -> str:
        has = metric in ADDITIVE_METRICS and (index == 0 or metric.denominator is not None)
        return f"g.{ident(_aggregate_column(metric, index))}" if has else "CAST(NULL AS DOUBLE)"

    pairs = ",\n    ".join(
        f"{string(m.name)}, ARRAY[g.{ident(m.name)}, {aggregate(m, 0)}, {aggregate(m, 1)}]"
        for m in GROUP_METRICS
    )
    return f"""CREATE TEMPORARY VIEW qos_group_rows AS
SELECT {_epoch_ms("g.window_start")} AS window_start,
       {_epoch_ms("g.window_end")} AS window_end,
       m.metric, g.dimension, g.dimension_value, m.a[1] AS {ident("value")},
       {string("")} AS {ident("split")}, TRUE AS {ident("final")},
       m.a[2] AS {ident("numerator")}, m.a[3] AS {ident("denominator")},
       FALSE AS {ident("correction")}
FROM {GROUPS_VIEW} AS g
CROSS JOIN UNNEST(MAP[
    {pairs}
]) AS m (metric, a)"""


def _check_share(metric: Metric) -> str:
    if metric.kind != "share" or metric.split_by is None or metric.denominator is None:
        raise ValueError(f"{metric.name} is not a share")
    # The total of a group is the sum of its parts, which is the denominator only when both
    # aggregate the same thing over the same records (as the local engine also assumes).
    if metric.numerator != metric.denominator:
        raise ValueError(f"{metric.name}: a share's numerator and denominator must be the same")
    return metric.split_by


def share_views(metric: Metric, window_s: int) -> list[str]:
    """A share metric's three views: parts per (group, split), totals per group, rows."""
    split = ident(_check_share(metric))
    name = metric.name
    parts, groups = f"qos_share_parts_{name}", f"qos_share_groups_{name}"
    return [
        f"""CREATE TEMPORARY VIEW {parts} AS
SELECT window_time AS part_time,
        {_DIMENSION},
        COALESCE({split}, '') AS {ident("split")},
        {share_numerator_sql(metric, "flink")} AS part
FROM {_tumble(WINDOW_INPUT_VIEW, "rowtime", window_s)}
WHERE {filter_sql(metric.numerator.filter, "flink")}
GROUP BY window_start, window_end, window_time, {split}, {_GROUPING_SETS}""",
        f"""CREATE TEMPORARY VIEW {groups} AS
SELECT window_start, window_end, dimension, dimension_value,
       SUM(part) AS total,
       ARRAY_AGG(ROW({ident("split")}, part)) AS parts
FROM {_tumble(parts, "part_time", window_s)}
GROUP BY window_start, window_end, dimension, dimension_value""",
        f"""CREATE TEMPORARY VIEW qos_share_rows_{name} AS
SELECT {_epoch_ms("s.window_start")} AS window_start,
       {_epoch_ms("s.window_end")} AS window_end,
       {string(name)} AS metric, s.dimension, s.dimension_value,
       p.part / CASE WHEN s.total = 0 THEN NULL ELSE s.total END * {metric.scale!r}
           AS {ident("value")},
       p.{ident("split")}, TRUE AS {ident("final")},
       {_NO_AGGREGATES}
FROM {groups} AS s
CROSS JOIN UNNEST(s.parts) AS p ({ident("split")}, part)""",
    ]


def _distribution_sources() -> dict[str, Aggregate]:
    sources: dict[str, Aggregate] = {}
    for m in CATALOGUE:
        if m.kind != "percentile":
            continue
        if not isinstance(m.numerator.value, Field):
            raise ValueError(f"{m.name}: a distribution source is a field")
        known = sources.setdefault(m.numerator.value.name, m.numerator)
        if known != m.numerator:
            raise ValueError(f"{m.name}: percentiles of one field disagree on their records")
    return sources


# Source field -> the `values` aggregate whose records it is read from (the same as
# `qos_realtime.domain.distributions.distribution_sources()`, which the job can't import).
DISTRIBUTION_SOURCES: dict[str, Aggregate] = _distribution_sources()


def distribution_views(window_s: int) -> list[str]:
    """The views from the events to `qos_distribution_rows` (see the module docstring)."""
    branches = "\nUNION ALL\n".join(
        f"""SELECT rowtime, {_PLATFORM}, {_CHANNEL}, {string(name)} AS source,
       {ident(name)} AS {ident("value")}
FROM {WINDOW_INPUT_VIEW}
WHERE {filter_sql(aggregate.filter, "flink")} AND {ident(name)} IS NOT NULL"""
        for name, aggregate in DISTRIBUTION_SOURCES.items()
    )
    groups = ",\n    ".join(
        [
            f"{string('all')}, {string('')}",
            *(f"{string(d)}, COALESCE(v.{ident(d)}, '')" for d in GROUP_DIMENSIONS[1:]),
        ]
    )
    value = ident("value")
    key = (
        f"CAST(CONCAT(CAST({value} AS STRING), '.', "
        f"LPAD(CAST(COUNT(*) AS STRING), {_COUNT_DIGITS}, '0')) "
        f"AS DECIMAL({20 + _COUNT_DIGITS}, {_COUNT_DIGITS}))"
    )
    chunk = f"CAST(FLOOR(CAST({value} AS DOUBLE) / {DISTRIBUTION_CHUNK}) AS BIGINT)"
    # The counts: each key's digits after the point, e.g. '1200.000000000000000003' -> 3.
    counts = (
        "CAST(SPLIT(REGEXP_REPLACE(ARRAY_JOIN(CAST(c.pairs AS ARRAY<STRING>), ','), "
        "'[^,.]*[.]', ''), ',') AS ARRAY<BIGINT>)"
    )
    return [
        f"""CREATE TEMPORARY VIEW qos_distribution_values AS
SELECT v.rowtime, v.source, g.dimension, g.dimension_value, v.{value}
FROM (
{branches}
) AS v
CROSS JOIN UNNEST(MAP[
    {groups}
]) AS g (dimension, dimension_value)""",
        f"""CREATE TEMPORARY VIEW qos_distribution_counts AS
SELECT window_time AS value_time, source, dimension, dimension_value,
       {chunk} AS chunk,
       {key} AS pair
FROM {_tumble("qos_distribution_values", "rowtime", window_s)}
GROUP BY window_start, window_end, window_time, source, dimension, dimension_value, {value}""",
        f"""CREATE TEMPORARY VIEW qos_distribution_chunks AS
SELECT window_start, window_end, source, dimension, dimension_value,
       ARRAY_SORT(ARRAY_AGG(pair)) AS pairs
FROM {_tumble("qos_distribution_counts", "value_time", window_s)}
GROUP BY window_start, window_end, source, dimension, dimension_value, chunk""",
        f"""CREATE TEMPORARY VIEW {DISTRIBUTIONS_VIEW} AS
SELECT {_epoch_ms("c.window_start")} AS window_start,
       {_epoch_ms("c.window_end")} AS window_end,
       c.source, c.dimension, c.dimension_value,
       CAST(CAST(c.pairs AS ARRAY<BIGINT>) AS ARRAY<DOUBLE>) AS {ident("values")},
       {counts} AS {ident("counts")},
       TRUE AS {ident("final")}, FALSE AS {ident("correction")}
FROM qos_distribution_chunks AS c""",
    ]


def rows_view() -> str:
    """Every MetricRow of the job: the group rows and each share metric's rows."""
    columns = ", ".join(ident(c) for c, _ in ROW_COLUMNS)
    sources = ["qos_group_rows", *(f"qos_share_rows_{m.name}" for m in SHARE_METRICS)]
    union = "\nUNION ALL\n".join(f"SELECT {columns} FROM {s}" for s in sources)
    return f"CREATE TEMPORARY VIEW {ROWS_VIEW} AS\n{union}"


def statements(
    source: str,
    *,
    window_s: int = 60,
    view_rules: ViewRules = DEFAULT_RULES,
    revision_horizon_s: int = DEFAULT_REVISION_HORIZON_S,
) -> list[str]:
    """The views of the window job over `source`, in the order they must be created."""
    if not 1 <= window_s <= 86_400:
        raise ValueError("window_s must be between 1 s and one day")
    if revision_horizon_s < 0:
        raise ValueError("the revision horizon cannot be negative")
    ident(source)
    out = [records_view(source), unique_events_view(), events_view(window_s)]
    out += [*view_views(view_rules), window_input_view()]
    out += [group_metrics_view(window_s), group_rows_view()]
    for metric in SHARE_METRICS:
        out += share_views(metric, window_s)
    out += [rows_view(), *distribution_views(window_s), *late_views(window_s)]
    return [*out, *revision_views(window_s, revision_horizon_s)]


def _select_as_sink_row(view: str, columns: tuple[tuple[str, str], ...]) -> str:
    """The view's rows with every sink column: the view's own, and typed nulls for the rest."""
    own = {c for c, _ in columns}
    select = ", ".join(
        ident(c) if c in own else f"CAST(NULL AS {t}) AS {ident(c)}" for c, t in SINK_COLUMNS
    )
    return f"SELECT {select}\nFROM {view}"


def insert_sql(sink: str) -> str:
    """The job's one INSERT: every DistributionRow and MetricRow into `sink` (SINK_COLUMNS)."""
    columns = ", ".join(ident(c) for c, _ in SINK_COLUMNS)
    return (
        f"INSERT INTO {ident(sink)} ({columns})\n"
        f"{_select_as_sink_row(DISTRIBUTIONS_VIEW, DISTRIBUTION_COLUMNS)}\n"
        f"UNION ALL\n"
        f"{_select_as_sink_row(ROWS_VIEW, ROW_COLUMNS)}"
    )


def late_insert_sql(sink: str) -> str:
    """The job's second INSERT: the rows of the late records into `sink` (SINK_COLUMNS): the
    `late_events` MetricRows, and the correction MetricRows and DistributionRows."""
    columns = ", ".join(ident(c) for c, _ in SINK_COLUMNS)
    return (
        f"INSERT INTO {ident(sink)} ({columns})\n"
        f"{_select_as_sink_row(LATE_ROWS_VIEW, ROW_COLUMNS)}\n"
        f"UNION ALL\n"
        f"{_select_as_sink_row(CORRECTIONS_VIEW, ROW_COLUMNS)}\n"
        f"UNION ALL\n"
        f"{_select_as_sink_row(DISTRIBUTION_CORRECTIONS_VIEW, DISTRIBUTION_COLUMNS)}"
    )


def views_insert_sql(views_sink: str) -> str:
    """The job's third INSERT: every VIEW record into `views_sink` (`VIEW_FIELDS`)."""
    columns = ", ".join(ident(c) for c in VIEW_FIELDS)
    return f"INSERT INTO {ident(views_sink)} ({columns})\nSELECT {columns}\nFROM {VIEWS_VIEW}"


def inserts(sink: str, views_sink: str | None = None) -> list[str]:
    """The job's INSERTs, the rows into `sink` and the VIEW records into `views_sink` (if
    any): they run as one job (a statement set)."""
    rows = [insert_sql(sink), late_insert_sql(sink)]
    return rows if views_sink is None else [*rows, views_insert_sql(views_sink)]


def script(
    source: str,
    sink: str,
    views_sink: str | None = None,
    *,
    window_s: int = 60,
    view_rules: ViewRules = DEFAULT_RULES,
    revision_horizon_s: int = DEFAULT_REVISION_HORIZON_S,
) -> str:
    """The whole job as one SQL script (for reading, or for a SQL client)."""
    body = statements(
        source, window_s=window_s, view_rules=view_rules, revision_horizon_s=revision_horizon_s
    )
    return "".join(f"{s};\n\n" for s in [*body, *inserts(sink, views_sink)])
