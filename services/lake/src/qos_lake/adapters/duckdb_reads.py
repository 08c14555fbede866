"""DuckDB reads of the lake's files for people: sessions, one session's events, known dimensions.

The rows come from two places, so a request never scans the whole log: the lake's files of the
hours that overlap the range (for a timeline only the rows whose `session_id` matches: Parquet
statistics and the column reader keep that cheap), and the event log's unflushed tail, given as an
Arrow table of the lake schema. Each row says its `source` (`lake` / `log`). Every text here is
fixed; values are bound, never spliced.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from qos_lake.domain.errors import LakeChanged
from qos_shared.catalogue import METRIC_TYPES

T = TypeVar("T")

Rows = tuple[list[str], list[tuple[Any, ...]]]  # (column names, rows)

# Viewers' sessions: the records of client events (an IVS stream record's session_id is its
# stream's id; it is no viewer's session).
_VIEWER_RECORDS = "metric_type IN (" + ", ".join(f"'{t}'" for t in METRIC_TYPES) + ")"
_SESSIONS = (
    "WITH ev AS (SELECT * FROM {events} AS e"  # noqa: S608 - fixed text and the catalogue's types
    " WHERE event_time >= $start AND event_time < $end"
    f" AND {_VIEWER_RECORDS}"
    " AND ($platform IS NULL OR client_platform = $platform)"
    " AND ($channel IS NULL OR channel_watched = $channel))"
    " SELECT session_id,"
    " arg_min(user_id, event_time) AS user_id,"
    " arg_min(client_platform, event_time) AS client_platform,"
    " arg_min(channel_watched, event_time) AS channel_watched,"
    " min(event_time) AS first_event_ms,"
    " max(event_time) AS last_event_ms,"
    " count(*) AS events,"
    " count(*) FILTER (WHERE metric_type = 'PLAY') > 0 AS played,"
    " count(*) FILTER (WHERE metric_type = 'ERROR') AS errors,"
    " coalesce(bool_or(metric_type = 'ERROR' AND fatal), false) AS fatal_error,"
    " count(*) FILTER (WHERE metric_type = 'STOP') > 0 AS ended,"
    " count(*) OVER () AS total"
    " FROM ev WHERE session_id IS NOT NULL GROUP BY session_id"
    " ORDER BY last_event_ms DESC, session_id LIMIT $limit"
)
_TIMELINE_WHERE = (
    " WHERE session_id = $sid"
    " AND ($since IS NULL OR event_time >= $since) AND ($until IS NULL OR event_time <= $until)"
)
_TIMELINE = (
    "SELECT *, count(*) OVER () AS total FROM {events} AS e"  # noqa: S608 - fixed text
    + _TIMELINE_WHERE
    + " ORDER BY event_time, event_id LIMIT $limit OFFSET $offset"
)
_TIMELINE_COUNT = "SELECT count(*) AS total FROM {events} AS e" + _TIMELINE_WHERE  # noqa: S608
# The largest page of a timeline when the caller sets none (LIMIT needs a number).
_NO_LIMIT = 2**62


def retrying(run: Callable[[], T]) -> T:
    """One retry when a file vanished under the read (a compaction finished meanwhile)."""
    try:
        return run()
    except duckdb.IOException:
        time.sleep(0.05)
        try:
            return run()
        except duckdb.IOException as exc:
            raise LakeChanged(f"the lake changed during the read: {exc}") from exc


@contextmanager
def _events(files: list[Path], tail: pa.Table) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    """A connection with a relation of the files' rows and the tail's, each with its `source`:
    yields (connection, relation text)."""
    with duckdb.connect() as con:
        con.register("tail_events", tail)
        parts = ["SELECT *, 'log' AS source FROM tail_events"]
        if files:
            con.sql(
                "SELECT *, 'lake' AS source FROM read_parquet($files,"
                " hive_partitioning = false, union_by_name = true)",
                params={"files": [str(f) for f in files]},
            ).create_view("lake_events")
            parts.insert(0, "SELECT * FROM lake_events")
        yield con, "(" + " UNION ALL BY NAME ".join(parts) + ")"


def _fetch(files: list[Path], tail: pa.Table, text: str, values: dict[str, Any]) -> Rows:
    with _events(files, tail) as (con, events):
        # `events` is this module's fixed relation text; values are bound, not spliced.
        cursor = con.execute(text.format(events=events), values)
        return [d[0] for d in cursor.description or ()], cursor.fetchall()


def sessions(
    files: list[Path],
    tail: pa.Table,
    start_ms: int,
    end_ms: int,
    platform: str | None,
    channel: str | None,
    limit: int,
) -> Rows:
    """One row per session with an event in range, newest first, at most `limit`; each row's
    `total` is how many sessions there are in all."""
    values = {
        "start": start_ms,
        "end": end_ms,
        "platform": platform,
        "channel": channel,
        "limit": limit,
    }
    return _fetch(files, tail, _SESSIONS, values)


def timeline(
    files: list[Path],
    tail: pa.Table,
    session_id: str,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[Rows, int]:
    """One page of one session's rows, oldest first (every lake column, and `source`): at most
    `limit` from `offset`, of the rows with `since_ms <= event_time <= until_ms` (when given);
    and how many rows there are in all."""
    values: dict[str, Any] = {
        "sid": session_id,
        "since": since_ms,
        "until": until_ms,
        "limit": _NO_LIMIT if limit is None else limit,
        "offset": offset,
    }
    names, rows = _fetch(files, tail, _TIMELINE, values)
    if rows:
        at = names.index("total")
        total = int(rows[0][at])
        names = names[:at] + names[at + 1 :]
        return (names, [row[:at] + row[at + 1 :] for row in rows]), total
    if offset == 0:
        return (names[:-1] if names and names[-1] == "total" else names, []), 0
    # A page past the end: count the rows alone.
    del values["limit"], values["offset"]
    _, counted = _fetch(files, tail, _TIMELINE_COUNT, values)
    return (names[:-1] if names and names[-1] == "total" else names, []), int(counted[0][0])


def file_dimensions(path: Path) -> tuple[frozenset[str], frozenset[str]] | None:
    """(platforms, channels) in one file; None when it is gone (compacted away meanwhile)."""
    try:
        with duckdb.connect() as con:
            found = con.execute(
                "SELECT DISTINCT client_platform, channel_watched FROM read_parquet(?)",
                [str(path)],
            ).fetchall()
    except duckdb.IOException:
        return None
    return frozenset(str(p) for p, _ in found if p), frozenset(str(c) for _, c in found if c)
