"""Renders the Flink SQL of the window job from the metric catalogue: views from a source to rows.

The job is a chain of temporary views over a source table (any table with the catalogue's
columns and a `rowtime` attribute with a watermark; see `tables`), ending in `qos_metric_rows`,
whose columns are those of `MetricRow` (window bounds in epoch ms). `insert_sql` writes it to a
sink. Semantics, shared with the local engine (`qos_realtime.engine`):

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

Every statement is plain text; `statements()` lists them in order.
"""

# ruff: noqa: S608 - SQL text rendered from the catalogue, integers and fixed names; no input.
from __future__ import annotations

from qos_shared.catalogue import CATALOGUE, Metric
from qos_shared.catalogue_sql import filter_sql, metric_sql, share_numerator_sql

GROUP_METRICS: tuple[Metric, ...] = tuple(m for m in CATALOGUE if m.kind != "share")
SHARE_METRICS: tuple[Metric, ...] = tuple(m for m in CATALOGUE if m.kind == "share")

# The view every sink reads, and its columns (MetricRow's fields, in order).
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
)
# MetricRow's group dimensions; the grouped columns of the window aggregation are the last two.
GROUP_DIMENSIONS: tuple[str, ...] = ("all", "client_platform", "channel_watched")

EVENTS_VIEW = "qos_events"
GROUPS_VIEW = "qos_group_metrics"


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


def events_view(source: str) -> str:
    """The source's records that have an event time (a null rowtime cannot be windowed)."""
    return f"""CREATE TEMPORARY VIEW {EVENTS_VIEW} AS
SELECT * FROM {source}
WHERE {ident("event_time")} IS NOT NULL"""


def group_metrics_view(window_s: int) -> str:
    """One row per (window, group), one DOUBLE column per non-share metric, named after it."""
    columns = ",\n        ".join(
        f"{metric_sql(m, 'flink')} AS {ident(m.name)}" for m in GROUP_METRICS
    )
    return f"""CREATE TEMPORARY VIEW {GROUPS_VIEW} AS
SELECT window_start, window_end,
        {_DIMENSION},
        {columns}
FROM {_tumble(EVENTS_VIEW, "rowtime", window_s)}
GROUP BY window_start, window_end, {_GROUPING_SETS}"""


def group_rows_view() -> str:
    """The group metrics unpivoted: one MetricRow per (window, group, metric)."""
    pairs = ",\n    ".join(f"{string(m.name)}, g.{ident(m.name)}" for m in GROUP_METRICS)
    return f"""CREATE TEMPORARY VIEW qos_group_rows AS
SELECT {_epoch_ms("g.window_start")} AS window_start,
       {_epoch_ms("g.window_end")} AS window_end,
       m.metric, g.dimension, g.dimension_value, m.{ident("value")},
       {string("")} AS {ident("split")}, TRUE AS {ident("final")}
FROM {GROUPS_VIEW} AS g
CROSS JOIN UNNEST(MAP[
    {pairs}
]) AS m (metric, {ident("value")})"""


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
FROM {_tumble(EVENTS_VIEW, "rowtime", window_s)}
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
       p.{ident("split")}, TRUE AS {ident("final")}
FROM {groups} AS s
CROSS JOIN UNNEST(s.parts) AS p ({ident("split")}, part)""",
    ]


def rows_view() -> str:
    """Every MetricRow of the job: the group rows and each share metric's rows."""
    columns = ", ".join(ident(c) for c, _ in ROW_COLUMNS)
    sources = ["qos_group_rows", *(f"qos_share_rows_{m.name}" for m in SHARE_METRICS)]
    union = "\nUNION ALL\n".join(f"SELECT {columns} FROM {s}" for s in sources)
    return f"CREATE TEMPORARY VIEW {ROWS_VIEW} AS\n{union}"


def statements(source: str, *, window_s: int = 60) -> list[str]:
    """The views of the window job over `source`, in the order they must be created."""
    if not 1 <= window_s <= 86_400:
        raise ValueError("window_s must be between 1 s and one day")
    ident(source)
    views = [events_view(source), group_metrics_view(window_s), group_rows_view()]
    for metric in SHARE_METRICS:
        views += share_views(metric, window_s)
    return [*views, rows_view()]


def insert_sql(sink: str) -> str:
    """The job's one INSERT: every MetricRow into `sink` (a table with ROW_COLUMNS)."""
    columns = ", ".join(ident(c) for c, _ in ROW_COLUMNS)
    return f"INSERT INTO {ident(sink)} ({columns})\nSELECT {columns} FROM {ROWS_VIEW}"


def script(source: str, sink: str, *, window_s: int = 60) -> str:
    """The whole job as one SQL script (for reading, or for a SQL client)."""
    return "".join(f"{s};\n\n" for s in [*statements(source, window_s=window_s), insert_sql(sink)])
