"""DuckDB SQL of the local window engine, rendered from the metric catalogue.

One query computes every per-group metric of a set of windows with GROUPING SETS (all, platform,
channel group); a second computes the share metrics, split by their field. Channels beyond the
top N of a window (ranked by distinct sessions, then by name) are grouped as "other" first.
"""

from __future__ import annotations

from qos_realtime.domain.rows import OTHER
from qos_shared.catalogue import CATALOGUE, Metric, fields_read
from qos_shared.catalogue_sql import filter_sql, metric_sql, quote, share_numerator_sql
from qos_shared.record_schema import column_types

_DUCKDB_TYPES = {"string": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}

GROUP_METRICS: tuple[Metric, ...] = tuple(m for m in CATALOGUE if m.kind != "share")
SHARE_METRICS: tuple[Metric, ...] = tuple(m for m in CATALOGUE if m.kind == "share")


def record_columns() -> dict[str, str]:
    """The columns the engine keeps of each record (what the catalogue reads), as DuckDB types."""
    types = column_types()
    return {name: _DUCKDB_TYPES[types[name]] for name in sorted(fields_read())}


def _grouped(window_set: str, top_n: int) -> str:
    """The CTEs every metric query starts with: the windows' rows, with their channel group."""
    return f"""
WITH w AS (
    SELECT * FROM pending WHERE window_start IN ({window_set})
),
ranked AS (
    SELECT window_start, channel_watched,
           row_number() OVER (
               PARTITION BY window_start
               ORDER BY count(DISTINCT session_id) DESC, channel_watched
           ) AS channel_rank
    FROM w GROUP BY window_start, channel_watched
),
g AS (
    SELECT w.*,
           CASE WHEN ranked.channel_rank <= {int(top_n)} THEN w.channel_watched
                ELSE '{OTHER}' END AS channel_group
    FROM w JOIN ranked USING (window_start, channel_watched)
)"""


_DIMENSION = """
    CASE WHEN grouping(client_platform) = 0 THEN 'client_platform'
         WHEN grouping(channel_group) = 0 THEN 'channel_watched'
         ELSE 'all' END AS dimension,
    coalesce(client_platform, channel_group, '') AS dimension_value"""


def group_metrics_query(window_set: str, top_n: int) -> str:
    """One row per (window, group) with a column per metric, named after the metric."""
    columns = ",\n    ".join(f"{metric_sql(m, 'duckdb')} AS {quote(m.name)}" for m in GROUP_METRICS)
    return f"""{_grouped(window_set, top_n)}
SELECT window_start,{_DIMENSION},
    {columns}
FROM g
GROUP BY GROUPING SETS (
    (window_start), (window_start, client_platform), (window_start, channel_group)
)"""


def share_query(metric: Metric, window_set: str, top_n: int) -> str:
    """One row per (window, group, split value): the split's share of the group's total."""
    assert metric.split_by is not None
    split = quote(metric.split_by)
    numerator = share_numerator_sql(metric, "duckdb")
    where = filter_sql(metric.numerator.filter, "duckdb")
    return f"""{_grouped(window_set, top_n)},
parts AS (
    SELECT window_start,{_DIMENSION},
        {split} AS split,
        {numerator} AS part
    FROM g
    WHERE {where}
    GROUP BY GROUPING SETS (
        (window_start, {split}),
        (window_start, client_platform, {split}),
        (window_start, channel_group, {split})
    )
)
SELECT window_start, dimension, dimension_value, split,
       part / CASE WHEN sum(part) OVER whole = 0 THEN NULL ELSE sum(part) OVER whole END
           * {metric.scale!r} AS value
FROM parts
WINDOW whole AS (PARTITION BY window_start, dimension, dimension_value)"""
