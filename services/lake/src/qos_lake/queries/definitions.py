"""The named queries' Trino text, built once at import from fixed text and the metric catalogue.

Nothing from a caller reaches this text: the only inputs are the catalogue (data in `shared/`)
and the constants below. Values are bound to the `?` of SCOPE at run time.
"""

from __future__ import annotations

from collections.abc import Iterator

from qos_lake.queries.model import NamedQuery
from qos_shared.catalogue import CATALOGUE, Metric, metric
from qos_shared.catalogue_sql import aggregate_sql, metric_sql, quote, share_numerator_sql

# The rows every query reads. `dt` prunes partitions; `event_time` (ms since the epoch, UTC) is
# the exact bound. Athena's session time zone is UTC, DuckDB's EPOCH of a DATE is UTC midnight.
SCOPE = """\
scoped AS (
    SELECT *
    FROM events
    WHERE dt BETWEEN ? AND ?
      AND event_time >= to_unixtime(CAST(? AS DATE)) * 1000
      AND event_time < to_unixtime(date_add('day', 1, CAST(? AS DATE))) * 1000
      AND (CAST(? AS VARCHAR) IS NULL OR client_platform = CAST(? AS VARCHAR))
      AND (CAST(? AS VARCHAR) IS NULL OR channel_watched = CAST(? AS VARCHAR))
      AND (CAST(? AS VARCHAR) IS NULL OR viewer_country = CAST(? AS VARCHAR))
)"""

# Output column -> the expression it groups by. `day` is the partition: the UTC day of event_time.
_GROUP_EXPR = {
    "day": "dt",
    "client_platform": "client_platform",
    "channel_watched": "channel_watched",
    "viewer_country": "viewer_country",
}

# The KPI groupings: (query name suffix, description words, group columns).
_GROUPINGS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("", "by day", ("day",)),
    ("-by-platform", "by day and client_platform", ("day", "client_platform")),
    ("-by-channel", "by day and channel_watched", ("day", "channel_watched")),
    ("-by-country", "by day and viewer_country", ("day", "viewer_country")),
)


def _select_list(columns: list[tuple[str, str]]) -> str:
    return ",\n    ".join(f"{expr} AS {quote(alias)}" for alias, expr in columns)


def _order(columns: tuple[str, ...], descending: tuple[str, ...] = ()) -> str:
    keys = [f"{quote(c)} DESC NULLS LAST" for c in descending]
    keys += [f"{quote(c)} ASC NULLS LAST" for c in columns]
    return ", ".join(keys)


def metrics_query(
    name: str,
    description: str,
    group: tuple[str, ...],
    metrics: tuple[tuple[str, Metric], ...],
    *,
    rank_by: tuple[str, ...] = (),
) -> NamedQuery:
    """Catalogue metrics (none a share) as columns, one row per group, from SCOPE."""
    columns = [(g, _GROUP_EXPR[g]) for g in group]
    columns += [(alias, metric_sql(m, "trino")) for alias, m in metrics]
    group_by = ", ".join(_GROUP_EXPR[g] for g in group)
    sql = (
        f"WITH {SCOPE}\n"
        f"SELECT\n    {_select_list(columns)}\n"
        "FROM scoped\n"
        f"GROUP BY {group_by}\n"
        f"ORDER BY {_order(group, rank_by)}"
    )
    return NamedQuery(
        name=name,
        description=description,
        sql=sql,
        group_columns=group,
        metric_columns=tuple((alias, m.name) for alias, m in metrics),
        rank_by=rank_by,
    )


def share_query(name: str, description: str, group: tuple[str, ...], share: Metric) -> NamedQuery:
    """A share metric: its numerator per (group, split value) over the group's denominator."""
    assert share.split_by is not None and share.denominator is not None
    split = share.split_by
    keys = [_GROUP_EXPR[g] for g in group]
    part_cols = [(g, _GROUP_EXPR[g]) for g in group]
    part_cols += [(split, quote(split)), ("part", share_numerator_sql(share, "trino"))]
    total_cols = [(g, _GROUP_EXPR[g]) for g in group]
    total_cols += [("total", f"CAST({aggregate_sql(share.denominator, 'trino')} AS DOUBLE)")]
    join = " AND ".join(f"p.{quote(g)} IS NOT DISTINCT FROM t.{quote(g)}" for g in group)
    outputs = ", ".join(f"p.{quote(g)}" for g in group)
    value = "p.part / CASE WHEN t.total = 0 THEN NULL ELSE t.total END"
    if share.scale != 1.0:
        value = f"({value}) * {share.scale!r}"
    sql = (
        f"WITH {SCOPE},\n"
        "parts AS (\n"
        f"    SELECT\n    {_select_list(part_cols)}\n"
        "    FROM scoped\n"
        f"    GROUP BY {', '.join([*keys, quote(split)])}\n"
        "),\n"
        "totals AS (\n"
        f"    SELECT\n    {_select_list(total_cols)}\n"
        "    FROM scoped\n"
        f"    GROUP BY {', '.join(keys)}\n"
        ")\n"
        f"SELECT {outputs}, p.{quote(split)}, {value} AS {quote(share.name)}\n"
        f"FROM parts AS p JOIN totals AS t ON {join}\n"
        "WHERE p.part IS NOT NULL\n"
        f"ORDER BY {_order((*group, split))}"
    )
    return NamedQuery(
        name=name,
        description=description,
        sql=sql,
        group_columns=(*group, split),
        metric_columns=((share.name, share.name),),
    )


def _dashboard() -> Iterator[NamedQuery]:
    popularity = (("sessions", metric("concurrency")), ("viewer_minutes", metric("watch_time")))
    yield metrics_query(
        "popular-channels",
        "Channels by viewer-minutes (watch_time) and distinct sessions that played a summary, "
        "most watched first.",
        ("channel_watched",),
        popularity,
        rank_by=("viewer_minutes", "sessions"),
    )
    yield metrics_query(
        "popular-platforms",
        "Client platforms by viewer-minutes (watch_time) and distinct sessions, most watched "
        "first.",
        ("client_platform",),
        popularity,
        rank_by=("viewer_minutes", "sessions"),
    )
    yield metrics_query(
        "average-buffer-time",
        "Rebuffering ratio by day: stall time over watch time, in percent.",
        ("day",),
        (("rebuffering_ratio", metric("rebuffering_ratio")),),
    )
    yield metrics_query(
        "startup-latency",
        "Video startup time by day, in seconds: p50, p95 and mean over PLAY events.",
        ("day",),
        tuple((n, metric(n)) for n in ("startup_time_p50", "startup_time_p95", "startup_time")),
    )
    yield metrics_query(
        "live-latency",
        "Live latency by day, in seconds: p50 and p95 over live PLAYBACK_SUMMARY events.",
        ("day",),
        tuple((name, metric(name)) for name in ("live_latency_p50", "live_latency_p95")),
    )


def _kpis() -> Iterator[NamedQuery]:
    plain = tuple((m.name, m) for m in CATALOGUE if m.kind != "share")
    shares = [m for m in CATALOGUE if m.kind == "share"]
    for suffix, words, group in _GROUPINGS:
        yield metrics_query(
            f"kpis{suffix}",
            f"Every catalogue KPI {words} (one column per metric; shares in their own queries).",
            group,
            plain,
        )
        for share in shares:
            yield share_query(
                f"{share.name.replace('_', '-')}{suffix}",
                f"{share.title} {words}: {share.description}",
                group,
                share,
            )


def build_queries() -> list[NamedQuery]:
    return [*_dashboard(), *_kpis()]
