"""The named queries' Trino text, built once at import from fixed text and the metric catalogue.

Nothing from a caller reaches this text: the only inputs are the catalogue (data in `shared/`)
and the constants below. Values are bound to the `?` of SCOPE at run time.

How a query of catalogue metrics reads the scope (`metrics_query`), for speed without giving up
exactness (the same numbers as one GROUP BY with every aggregate inline):
- each aggregate the metrics need is computed once, as a column, and the metrics' formulas
  (`catalogue_sql.metric_formula`) read those columns, as the realtime engine does; a values
  aggregate read at several quantiles is one percentile call over an array of them;
- aggregates over view records (`qos_shared.catalogue.VIEW`: the view KPIs) are computed in a pass
  over the `views` table's scope (`VIEWS_SCOPE`), with each filter reduced to its conditions;
  the others over the `events` table's (`SCOPE`); a query reads only the tables it needs;
- PLAYBACK_SUMMARY records, one per viewer-minute and most of the rows, are aggregated in a pass
  of their own (`WHERE metric_type = 'PLAYBACK_SUMMARY'`, which the engines push into the scan),
  with each filter reduced to its conditions; the other records, a small minority, in a second
  pass with the full filters. The two passes see every scoped row once, so every group is there;
- distinct counts (sessions) are counted as the groups of a per-(group, session) pass, with a
  flag per filter, rather than one hashed DISTINCT per metric;
- the passes' rows (one per group each) are put together by UNION ALL and summed per group, and
  the formulas applied to the sums. A count or distinct count is 0 where no row of its pass is in
  the group, a sum or percentile null, as over the group's rows in one pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from qos_lake.domain.named_query import NamedQuery
from qos_shared.catalogue import CATALOGUE, VIEW, Aggregate, Field, Filter, Metric, metric
from qos_shared.catalogue_sql import (
    aggregate_sql,
    condition_sql,
    filter_sql,
    metric_formula,
    percentiles_sql,
    quote,
    share_numerator_sql,
)

# The name of SCOPE's CTE (`adapters.duckdb_query.duckdb_sql` inlines it wherever it is used).
SCOPE_NAME = "scoped"

# The rows every query reads, each `event_id` once. `dt` prunes partitions; `event_time` (ms
# since the epoch, UTC) is the exact bound. Athena's session time zone is UTC, DuckDB's EPOCH of a
# DATE is UTC midnight. The bounds are BIGINT like the column, so that the comparison stays a
# plain range on it (which Parquet statistics and DuckDB's scan filters handle) rather than a cast
# of every value. The lake on AWS can hold a record more than once (Kinesis delivers at least
# once, Firehose retries, a client re-sends a batch whose reply it lost): of the rows of one
# `event_id` the first received counts (`COPY_COLUMN` numbers them), so a duplicate changes no
# answer. The copies of an event share its day (partitions are event time), so the numbering
# never spans days.
COPY_COLUMN = "event_copy"
SCOPE = """\
scoped AS (
    SELECT *
    FROM (
        SELECT
            *,
            row_number() OVER (PARTITION BY event_id ORDER BY received_at) AS event_copy
        FROM events
        WHERE dt BETWEEN ? AND ?
          AND event_time >= CAST(to_unixtime(CAST(? AS DATE)) * 1000 AS BIGINT)
          AND event_time < CAST(to_unixtime(date_add('day', 1, CAST(? AS DATE))) * 1000 AS BIGINT)
          AND (CAST(? AS VARCHAR) IS NULL OR client_platform = CAST(? AS VARCHAR))
          AND (CAST(? AS VARCHAR) IS NULL OR channel_watched = CAST(? AS VARCHAR))
          AND (CAST(? AS VARCHAR) IS NULL OR viewer_country = CAST(? AS VARCHAR))
    )
    WHERE event_copy = 1
)"""
assert f"AS {COPY_COLUMN}" in SCOPE

# The view records every query of views reads, each `event_id` once, by the same bounds and
# filters as SCOPE (the same placeholders, in the same order): `dt` is the partition of the
# view's `event_time`, its close time, which the bounds compare. A view held twice (the views
# stream's and Firehose's retries) counts once: the copy with the most records, then the latest
# last event (a streaming engine that emits a view again after a late record of it emits it
# whole), so every copy the same gives the same row.
VIEWS_SCOPE_NAME = "scoped_views"
VIEWS_SCOPE = (
    SCOPE.replace("scoped AS (", f"{VIEWS_SCOPE_NAME} AS (", 1)
    .replace("ORDER BY received_at", "ORDER BY records DESC, view_end DESC")
    .replace("FROM events", "FROM views")
)
assert VIEWS_SCOPE.count("?") == SCOPE.count("?") and "FROM views" in VIEWS_SCOPE
#: Each table's scope CTE: (its name, its text).
SCOPES: dict[str, tuple[str, str]] = {
    "events": (SCOPE_NAME, SCOPE),
    "views": (VIEWS_SCOPE_NAME, VIEWS_SCOPE),
}

# Output column -> the expression it groups by. `day` is the partition: the UTC day of event_time.
_GROUP_EXPR = {
    "day": "dt",
    "client_platform": "client_platform",
    "channel_watched": "channel_watched",
    "viewer_country": "viewer_country",
    "outcome": "outcome",  # views only
}

# The KPI groupings: (query name suffix, description words, group columns).
_GROUPINGS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("", "by day", ("day",)),
    ("-by-platform", "by day and client_platform", ("day", "client_platform")),
    ("-by-channel", "by day and channel_watched", ("day", "channel_watched")),
    ("-by-country", "by day and viewer_country", ("day", "viewer_country")),
)

# The metric type read in a pass of its own (one record per viewer-minute: most of the rows).
BULK_TYPE = "PLAYBACK_SUMMARY"
_METRIC_TYPE = quote("metric_type")


def _select_list(columns: list[tuple[str, str]]) -> str:
    return ",\n    ".join(f"{expr} AS {quote(alias)}" for alias, expr in columns)


def _order(columns: tuple[str, ...], descending: tuple[str, ...] = ()) -> str:
    keys = [f"{quote(c)} DESC NULLS LAST" for c in descending]
    keys += [f"{quote(c)} ASC NULLS LAST" for c in columns]
    return ", ".join(keys)


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _only_of(filter_: Filter, metric_type: str) -> bool:
    """Whether every clause of the filter selects records of just `metric_type`."""
    return all(clause.metric_types == (metric_type,) for clause in filter_.clauses)


def _residual(filter_: Filter, metric_type: str) -> str:
    """The filter over records already known to be of `metric_type` (see `_only_of`)."""
    parts = [
        " AND ".join(condition_sql(c, "trino") for c in clause.conditions) or "TRUE"
        for clause in filter_.clauses
    ]
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(f"({p})" for p in parts) + ")"


@dataclass
class _Pass:
    """A GROUP BY over the scoped rows that `where` selects (all of them when None)."""

    where: str | None
    columns: dict[str, str] = field(default_factory=dict)  # aggregate column -> its SQL
    source: str = SCOPE_NAME  # the scope it reads


@dataclass
class _SessionPass:
    """Distinct counts of one column over records of some metric types: the groups of a
    per-(group, value) GROUP BY, with one flag per count's filter."""

    column: str
    metric_types: tuple[str, ...]
    flags: dict[str, str] = field(default_factory=dict)  # aggregate column -> its condition


def sessions_needed(columns: dict[Aggregate, str]) -> bool:
    """Whether some aggregate is a distinct count (of events: those of views are refused)."""
    return any(a.kind == "distinct" for a in columns)


def _over_views(aggregate: Aggregate) -> bool:
    """Whether the aggregate reads view records (then only those: the `views` table's)."""
    types = aggregate.filter.metric_types
    if VIEW in types and types != {VIEW}:
        raise ValueError("an aggregate reads view records or events, not both")
    return VIEW in types


def _within(filter_: Filter, metric_types: tuple[str, ...]) -> str:
    """The filter over records of `metric_types`: just its conditions when it selects one type."""
    if len(metric_types) == 1 and _only_of(filter_, metric_types[0]):
        return _residual(filter_, metric_types[0])
    return filter_sql(filter_, "trino")


def metrics_query(
    name: str,
    description: str,
    group: tuple[str, ...],
    metrics: tuple[tuple[str, Metric], ...],
    *,
    rank_by: tuple[str, ...] = (),
) -> NamedQuery:
    """Catalogue metrics (none a share) as columns, one row per group, from SCOPE (see the
    module doc for the passes)."""
    if any(m.kind == "share" for _, m in metrics):
        raise ValueError("shares have their own queries (share_query)")
    # Every aggregate once, in first use order; a values aggregate with all its quantiles.
    columns: dict[Aggregate, str] = {}
    quantiles: dict[Aggregate, list[float]] = {}
    for _, m in metrics:
        for aggregate in (m.numerator, m.denominator):
            if aggregate is not None:
                columns.setdefault(aggregate, f"a{len(columns)}")
        if m.quantile is not None and m.quantile not in quantiles.setdefault(m.numerator, []):
            quantiles[m.numerator].append(m.quantile)

    # The passes over the events' scope: PLAYBACK_SUMMARY apart when some aggregates read only
    # those records and some read others (together, the passes' WHERE clauses cover every row);
    # the view records' aggregates in a pass over the views' scope.
    def bulk(aggregate: Aggregate) -> bool:
        return _only_of(aggregate.filter, BULK_TYPE)

    of_views = {a for a in columns if _over_views(a)}
    if any(a.kind == "distinct" for a in of_views):
        raise ValueError("distinct counts over views are not supported")
    per_row = [a for a in columns if a.kind != "distinct" and a not in of_views]
    split = any(map(bulk, per_row)) and not all(map(bulk, per_row))
    passes: list[_Pass] = []
    if split:
        bulk_pass = _Pass(f"{_METRIC_TYPE} = {_string(BULK_TYPE)}")
        rest_pass = _Pass(f"{_METRIC_TYPE} IS DISTINCT FROM {_string(BULK_TYPE)}")
        passes += [bulk_pass, rest_pass]
    elif per_row or sessions_needed(columns):
        bulk_pass = rest_pass = _Pass(None)
        passes.append(rest_pass)
    else:
        bulk_pass = rest_pass = _Pass(None)  # unused: no aggregate over events rows
    views_pass = _Pass(None, source=VIEWS_SCOPE_NAME)
    if of_views:
        passes.append(views_pass)
    sessions: dict[tuple[str, tuple[str, ...]], _SessionPass] = {}
    for aggregate, column in columns.items():
        if aggregate.kind == "distinct":
            assert isinstance(aggregate.value, Field)
            types = tuple(sorted(aggregate.filter.metric_types))
            key = (aggregate.value.name, types)
            session_pass = sessions.setdefault(key, _SessionPass(*key))
            session_pass.flags[column] = _within(aggregate.filter, types)
            continue
        where: str | None
        if aggregate in of_views:
            target, where = views_pass, _residual(aggregate.filter, VIEW)
        else:
            in_bulk = split and bulk(aggregate)
            target = bulk_pass if in_bulk else rest_pass
            where = _residual(aggregate.filter, BULK_TYPE) if in_bulk else None
        if aggregate.kind == "values":
            sql = percentiles_sql(aggregate, tuple(quantiles[aggregate]), where=where)
        else:
            sql = aggregate_sql(aggregate, "trino", where=where)
        target.columns[column] = sql
    reads_events = bool(per_row or sessions)
    tables = tuple(t for t, read in (("events", reads_events), ("views", bool(of_views))) if read)
    if "outcome" in group and tables != ("views",):
        raise ValueError("only views have an outcome")

    group_exprs = ", ".join(_GROUP_EXPR[g] for g in group)
    group_aliases = ", ".join(quote(g) for g in group)
    ctes = [SCOPES[t][1] for t in tables]
    scope_names = {SCOPES[t][0] for t in tables}
    parts: list[str] = []

    def part(own: dict[str, str], source: str, where: str | None = None) -> str:
        """One pass's row per group: its own aggregate columns, null in the others."""
        if source in scope_names:
            select, by = [(g, _GROUP_EXPR[g]) for g in group], group_exprs
        else:
            select, by = [(g, quote(g)) for g in group], group_aliases
        select += [(c, own.get(c, "NULL")) for c in columns.values()]
        condition = f"\n    WHERE {where}" if where else ""
        return (
            f"    SELECT\n    {_select_list(select)}\n"
            f"    FROM {source}{condition}\n    GROUP BY {by}"
        )

    for p in passes:
        parts.append(part(p.columns, p.source, p.where))
    for i, s in enumerate(sessions.values()):
        cte = f"sessions_{i}"
        flags = [(g, _GROUP_EXPR[g]) for g in group]
        flags += [(f"f_{c}", f"bool_or({condition})") for c, condition in s.flags.items()]
        type_list = ", ".join(_string(t) for t in s.metric_types)
        ctes.append(
            f"{cte} AS (\n    SELECT\n    {_select_list(flags)}\n    FROM {SCOPE_NAME}\n"
            f"    WHERE {_METRIC_TYPE} IN ({type_list}) AND {quote(s.column)} IS NOT NULL\n"
            f"    GROUP BY {group_exprs}, {quote(s.column)}\n)"
        )
        parts.append(part({c: f"count_if({quote('f_' + c)})" for c in s.flags}, cte))
    ctes.append("parts AS (\n" + "\n    UNION ALL\n".join(parts) + "\n)")

    def total(aggregate: Aggregate, column: str) -> str:
        if aggregate.kind == "values":
            return f"arbitrary({quote(column)})"  # from one pass: the only non-null value
        if aggregate.kind in ("count", "distinct"):
            return f"COALESCE(SUM({quote(column)}), 0)"
        return f"SUM({quote(column)})"

    totals = [(g, quote(g)) for g in group] + [(c, total(a, c)) for a, c in columns.items()]
    ctes.append(
        f"totals AS (\n    SELECT\n    {_select_list(totals)}\n    FROM parts\n"
        f"    GROUP BY {group_aliases}\n)"
    )

    def ref(aggregate: Aggregate, quantile: float | None) -> str:
        column = quote(columns[aggregate])
        if aggregate.kind == "values":
            assert quantile is not None
            # element_at, not a subscript: the same in Trino (1-based), and sqlglot carries it
            # to DuckDB's 1-based subscript as is (a subscript it shifts -1 then +1, logging
            # each shift: a line per query at INFO on every dashboard start).
            return f"element_at({column}, {quantiles[aggregate].index(quantile) + 1})"
        return column

    outputs = [(g, quote(g)) for g in group]
    outputs += [(alias, metric_formula(m, ref)) for alias, m in metrics]
    sql = (
        "WITH " + ",\n".join(ctes) + "\n"
        f"SELECT\n    {_select_list(outputs)}\n"
        "FROM totals\n"
        f"ORDER BY {_order(group, rank_by)}"
    )
    return NamedQuery(
        name=name,
        description=description,
        sql=sql,
        group_columns=group,
        metric_columns=tuple((alias, m.name) for alias, m in metrics),
        rank_by=rank_by,
        tables=tables,
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
    # Every catalogue metric: those over events from `events`, those over views from `views`.
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


# The view KPIs' groupings (query name suffix, description words, group columns).
_VIEW_GROUPINGS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("", "by day", ("day",)),
    ("-by-channel", "by day and channel_watched", ("day", "channel_watched")),
    ("-by-platform", "by day and client_platform", ("day", "client_platform")),
)
# A view's fields the per-view queries show, after its day (and rank).
VIEW_COLUMNS: tuple[str, ...] = (
    "view_id",
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
)
WORST_VIEWS = 20  # views per day in `worst-views`


def _views() -> Iterator[NamedQuery]:
    of_views = tuple((m.name, m) for m in CATALOGUE if m.over_views)
    titles = ", ".join(m.title for _, m in of_views)
    for suffix, words, group in _VIEW_GROUPINGS:
        yield metrics_query(
            f"view-kpis{suffix}",
            f"The view KPIs {words}, over the views that closed in range: {titles}.",
            group,
            of_views,
        )
    yield metrics_query(
        "views-by-outcome",
        "Views by day and outcome (played, abandoned, exit_before_start, start_failure, "
        "playback_failure), by their close time.",
        ("day", "outcome"),
        (("views", metric("views")),),
    )
    fields = [(c, quote(c)) for c in VIEW_COLUMNS]
    worst_first = f"row_number() OVER (PARTITION BY dt ORDER BY {_order(('score', 'view_id'))})"
    ranked = [("day", "dt"), ("rank", worst_first)]
    shown = ", ".join(quote(c) for c in ("day", "rank", *VIEW_COLUMNS))
    yield NamedQuery(
        name="worst-views",
        description=f"Each day's {WORST_VIEWS} views with the lowest experience score (1 = the "
        "lowest; ties by view_id), with their outcome and score parts.",
        sql=(
            f"WITH {VIEWS_SCOPE},\n"
            "ranked AS (\n"
            f"    SELECT\n    {_select_list([*ranked, *fields])}\n"
            f"    FROM {VIEWS_SCOPE_NAME}\n"
            f"    WHERE {quote('score')} IS NOT NULL\n"
            ")\n"
            f"SELECT {shown}\n"
            "FROM ranked\n"
            f"WHERE {quote('rank')} <= {WORST_VIEWS}\n"
            f"ORDER BY {_order(('day', 'rank'))}"
        ),
        group_columns=("day", "rank"),
        metric_columns=(),
        tables=("views",),
        value_columns=VIEW_COLUMNS,
    )
    yield NamedQuery(
        name="view-scores",
        description="Every view that closed in range with its experience score and the score's "
        "parts (failure, startup, smoothness, quality), by day and view_id.",
        sql=(
            f"WITH {VIEWS_SCOPE}\n"
            f"SELECT\n    {_select_list([('day', 'dt'), *fields])}\n"
            f"FROM {VIEWS_SCOPE_NAME}\n"
            f"ORDER BY {_order(('day', 'view_id'))}"
        ),
        group_columns=("day", "view_id"),
        metric_columns=(),
        tables=("views",),
        value_columns=VIEW_COLUMNS[1:],
    )


# The columns of `stream-durations` after its group.
STREAM_DURATION_COLUMNS: tuple[str, ...] = (
    "streams",
    "median_minutes",
    "mean_minutes",
    "longest_minutes",
)


def _streams() -> Iterator[NamedQuery]:
    """The original dashboard's Median Channel Duration: a duration pairs a stream's Stream
    Start with its Stream End (records of one `stream_id`), which no per-record aggregation can
    do, so it is a query of its own."""
    m, name, sid = quote("metric_type"), quote("event_name"), quote("stream_id")
    time, channel = quote("event_time"), quote("channel_watched")
    day, started, ended = quote("day"), quote("started"), quote("ended")
    minutes = f"CAST({ended} - {started} AS DOUBLE) / 60000"  # DOUBLE: a decimal in Trino else
    lines = [
        f"WITH {SCOPE},",
        "streams AS (",
        "    SELECT",
        f"        {channel},",
        f"        min(CASE WHEN {name} = 'Stream Start' THEN dt END) AS {day},",
        f"        min(CASE WHEN {name} = 'Stream Start' THEN {time} END) AS {started},",
        f"        max(CASE WHEN {name} = 'Stream End' THEN {time} END) AS {ended}",
        f"    FROM {SCOPE_NAME}",
        f"    WHERE {m} = 'STREAM_STATE'",
        f"    GROUP BY {channel}, {sid}",
        ")",
        "SELECT",
        f"    {day},",
        f"    {channel},",
        f"    count(*) AS {quote('streams')},",
        f"    approx_percentile({minutes}, 0.5) AS {quote('median_minutes')},",
        f"    avg({minutes}) AS {quote('mean_minutes')},",
        f"    max({minutes}) AS {quote('longest_minutes')}",
        "FROM streams",
        f"WHERE {started} IS NOT NULL AND {ended} >= {started}",
        f"GROUP BY {day}, {channel}",
        f"ORDER BY {_order(('day', 'channel_watched'))}",
    ]
    yield NamedQuery(
        name="stream-durations",
        description="Amazon IVS streams by the day they started and channel: how many, and their "
        "median, mean and longest duration in minutes, from each stream's Stream Start to its "
        "Stream End (both in range; a stream without either is left out). The original "
        "dashboard's Median Channel Duration.",
        sql="\n".join(lines),
        group_columns=("day", "channel_watched"),
        metric_columns=(),
        value_columns=STREAM_DURATION_COLUMNS,
    )


def build_queries() -> list[NamedQuery]:
    return [*_dashboard(), *_kpis(), *_views(), *_streams()]
