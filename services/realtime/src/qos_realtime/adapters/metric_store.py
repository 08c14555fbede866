"""The local metric store: window rows in SQLite (WAL); `MetricStore` writes, `MetricReader` reads.

One row per (window, metric, group, split): provisional while the window is open, replaced by the
final rows when it closes, and by its revised rows when records come for it after it closed but
within the engine's revision horizon (`window_revisions` counts them). `late_events` rows count
records that came after their window was sealed.
The engine's restart state (what it has accounted for) is kept in the same file and written in
the same transactions as the rows it describes.

The table is this module's own: readers elsewhere (the local dashboard, tests, benchmarks) use
`MetricReader`, which answers "nothing yet" while the file or its table does not exist (the
engine has not started) and opens the file once it is there. Its listing queries run over the
table's primary key and its (metric, dimension, window_start) index, so none scans the store.
"""

# ruff: noqa: S608 - SQL text of fixed column lists and clauses; values are bound parameters.
from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from qos_realtime.domain.rows import MetricRow
from qos_shared.catalogue import BY_NAME, CATALOGUE, LATE_EVENTS

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS metric_rows (
        window_start    INTEGER NOT NULL,
        window_end      INTEGER NOT NULL,
        metric          TEXT    NOT NULL,
        dimension       TEXT    NOT NULL,
        dimension_value TEXT    NOT NULL,
        split           TEXT    NOT NULL,
        value           REAL,
        final           INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        PRIMARY KEY (window_start, metric, dimension, dimension_value, split)
    )""",
    "CREATE INDEX IF NOT EXISTS metric_rows_by_metric"
    " ON metric_rows (metric, dimension, window_start)",
    "CREATE TABLE IF NOT EXISTS engine_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    # Closed views (`qos_shared.views`): one record each, by close time.
    """CREATE TABLE IF NOT EXISTS views (
        view_id         TEXT    PRIMARY KEY,
        session_id      TEXT    NOT NULL,
        event_time      INTEGER NOT NULL,
        view_start      INTEGER NOT NULL,
        outcome         TEXT    NOT NULL,
        score           REAL,
        client_platform TEXT,
        channel_watched TEXT,
        record          TEXT    NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS views_by_time ON views (event_time)",
    "CREATE INDEX IF NOT EXISTS views_by_session ON views (session_id, view_start)",
    # The engine's open views at `accounted_through` (its restart state): one row each; and
    # the closed views it keeps for revisions.
    "CREATE TABLE IF NOT EXISTS open_views (position INTEGER PRIMARY KEY, state TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS kept_views (position INTEGER PRIMARY KEY, state TEXT NOT NULL)",
    # Windows revised after they closed: how often, when last, by how many records.
    """CREATE TABLE IF NOT EXISTS window_revisions (
        window_start INTEGER PRIMARY KEY,
        revision     INTEGER NOT NULL,
        revised_at   INTEGER NOT NULL,
        records      INTEGER NOT NULL
    )""",
)
_COLUMNS = "window_start, window_end, metric, dimension, dimension_value, value, split, final"


# Every group of a window has a row of each non-share metric: one of them lists the groups.
_GROUP_METRIC = next(m.name for m in CATALOGUE if m.kind != "share")
_OPEN_WINDOWS_MAX = 16  # windows looked back for a final one (open ones are the newest few)


class UnknownMetric(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class MetricReader:
    """The store's queries, on a connection of its own; never writes (not even the schema)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    @property
    def present(self) -> bool:
        """Whether the store's file exists (the engine creates it when it starts)."""
        return self.path.is_file()

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._db is None:
                if not self.path.is_file():
                    return []
                self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                self._db.execute("PRAGMA busy_timeout=30000")
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):  # created, not yet initialised by the engine
                    return []
                raise

    def series(
        self,
        metric: str,
        *,
        dimension: str = "all",
        dimension_value: str = "",
        split: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        final_only: bool = False,
    ) -> list[MetricRow]:
        """Rows of one metric for one group, oldest window first; `split=None`: every split."""
        if metric not in BY_NAME and metric != LATE_EVENTS:
            raise UnknownMetric(f"unknown metric {metric!r}; known: {', '.join(sorted(BY_NAME))}")
        if start_ms is not None and end_ms is not None and start_ms > end_ms:
            raise ValueError(f"start {start_ms} is after end {end_ms}")
        sql = [
            f"SELECT {_COLUMNS} FROM metric_rows WHERE metric = ? AND dimension = ?"
            " AND dimension_value = ?"
        ]
        args: list[object] = [metric, dimension, dimension_value]
        if split is not None:
            sql.append("AND split = ?")
            args.append(split)
        sql_range, range_args = _window_range(start_ms, end_ms)
        sql += sql_range
        args += range_args
        if final_only:
            sql.append("AND final = 1")
        sql.append("ORDER BY window_start, split")
        return self._rows(" ".join(sql), args)

    def window(self, window_start: int) -> list[MetricRow]:
        """Every row of one window."""
        return self._rows(
            f"SELECT {_COLUMNS} FROM metric_rows WHERE window_start = ?"
            " ORDER BY metric, dimension, dimension_value, split",
            [window_start],
        )

    def windows(self, *, final_only: bool = False) -> list[int]:
        """The start of every window in the store, oldest first."""
        where = " WHERE final = 1" if final_only else ""
        rows = self._query(f"SELECT DISTINCT window_start FROM metric_rows{where} ORDER BY 1")
        return [int(r[0]) for r in rows]

    def latest_window(self) -> tuple[int, int] | None:
        """(start, end) of the newest window in the store, provisional or final."""
        rows = self._query(
            "SELECT window_start, window_end FROM metric_rows"
            " WHERE window_start = (SELECT max(window_start) FROM metric_rows) LIMIT 1"
        )
        return (int(rows[0][0]), int(rows[0][1])) if rows else None

    def previous_window(self, window_start: int) -> tuple[int, int] | None:
        """(start, end) of the newest window before `window_start`."""
        rows = self._query(
            "SELECT window_start, window_end FROM metric_rows WHERE window_start ="
            " (SELECT max(window_start) FROM metric_rows WHERE window_start < ?) LIMIT 1",
            (window_start,),
        )
        return (int(rows[0][0]), int(rows[0][1])) if rows else None

    def is_final(self, window_start: int) -> bool:
        """Whether the window has closed (its rows are final)."""
        rows = self._query(
            "SELECT final FROM metric_rows WHERE window_start = ? AND metric = ?"
            " AND dimension = 'all' LIMIT 1",
            (window_start, _GROUP_METRIC),
        )
        return bool(rows and rows[0][0])

    def tile_window(self) -> tuple[tuple[int, int], bool] | None:
        """The window to show as "now", and whether it is final: the newest final window (only
        the newest few windows can still be open), else the newest window, provisional."""
        newest = self.latest_window()
        window = newest
        for _ in range(_OPEN_WINDOWS_MAX):
            if window is None:
                break
            if self.is_final(window[0]):
                return window, True
            window = self.previous_window(window[0])
        return None if newest is None else (newest, False)

    def groups(
        self, dimension: str, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[str]:
        """The values of `dimension` (client_platform / channel_watched) with a window starting
        in [start_ms, end_ms), sorted."""
        sql = [
            "SELECT DISTINCT dimension_value FROM metric_rows WHERE metric = ? AND dimension = ?"
        ]
        args: list[object] = [_GROUP_METRIC, dimension]
        sql_range, range_args = _window_range(start_ms, end_ms)
        sql += [*sql_range, "ORDER BY 1"]
        return [str(r[0]) for r in self._query(" ".join(sql), [*args, *range_args]) if r[0]]

    def _rows(self, sql: str, args: Sequence[object]) -> list[MetricRow]:
        return [
            MetricRow(
                window_start=r[0],
                window_end=r[1],
                metric=r[2],
                dimension=r[3],
                dimension_value=r[4],
                value=r[5],
                split=r[6],
                final=bool(r[7]),
            )
            for r in self._query(sql, args)
        ]

    def views(
        self,
        start_ms: int,
        end_ms: int,
        *,
        client_platform: str | None = None,
        channel_watched: str | None = None,
        outcome: str | None = None,
        worst_first: bool = False,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """Closed views whose close time is in [start_ms, end_ms), newest first (or lowest
        score first, views without a score last), at most `limit`; and how many there are."""
        where, args = _views_where(
            start_ms,
            end_ms,
            {
                "client_platform": client_platform,
                "channel_watched": channel_watched,
                "outcome": outcome,
            },
        )
        order = "score IS NULL, score, event_time DESC" if worst_first else "event_time DESC"
        rows = self._query(
            f"SELECT record FROM views WHERE {where} ORDER BY {order}, view_id LIMIT ?",
            [*args, limit],
        )
        total = self._query(f"SELECT count(*) FROM views WHERE {where}", args)
        return [orjson.loads(r[0]) for r in rows], int(total[0][0]) if total else 0

    def revisions(
        self, start_ms: int | None = None, end_ms: int | None = None
    ) -> dict[int, dict[str, int]]:
        """Windows starting in [start_ms, end_ms) revised after they closed: window_start ->
        `revision` (1 for the first), `revised_at` (epoch ms) and `records` (added since the
        first final rows)."""
        sql = ["SELECT window_start, revision, revised_at, records FROM window_revisions WHERE 1=1"]
        sql_range, args = _window_range(start_ms, end_ms)
        rows = self._query(" ".join([*sql, *sql_range]), args)
        return {
            int(r[0]): {"revision": int(r[1]), "revised_at": int(r[2]), "records": int(r[3])}
            for r in rows
        }

    def state(self, key: str, default: int = 0) -> int:
        """One value of the engine's restart state (`service.consumer` names them)."""
        rows = self._query("SELECT value FROM engine_state WHERE key = ?", (key,))
        return int(rows[0][0]) if rows else default

    def view(self, view_id: str) -> dict[str, Any] | None:
        """One closed view's record."""
        rows = self._query("SELECT record FROM views WHERE view_id = ?", [view_id])
        return orjson.loads(rows[0][0]) if rows else None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
            self._db = None


def _views_where(
    start_ms: int, end_ms: int, filters: dict[str, str | None]
) -> tuple[str, list[object]]:
    sql = ["event_time >= ? AND event_time < ?"]
    args: list[object] = [start_ms, end_ms]
    for column, value in filters.items():
        if value is not None:
            sql.append(f"{column} = ?")
            args.append(value)
    return " AND ".join(sql), args


def _window_range(start_ms: int | None, end_ms: int | None) -> tuple[list[str], list[object]]:
    """SQL conditions (and their arguments) for windows starting in [start_ms, end_ms)."""
    sql: list[str] = []
    args: list[object] = []
    if start_ms is not None:
        sql.append("AND window_start >= ?")
        args.append(start_ms)
    if end_ms is not None:
        sql.append("AND window_start < ?")
        args.append(end_ms)
    return sql, args


class MetricStore(MetricReader):
    """The engine's writer of the store (and a reader of it, on the same connection)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._store = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._store.execute("PRAGMA journal_mode=WAL")
        self._store.execute("PRAGMA busy_timeout=30000")
        for statement in _SCHEMA:
            self._store.execute(statement)
        self._db = self._store

    # -- writes (the engine) ---------------------------------------------------------------------

    def write(
        self,
        rows: Sequence[MetricRow],
        *,
        finalised: Iterable[int] = (),
        late: dict[int, int] | None = None,
        window_ms: int | None = None,
        state: dict[str, int] | None = None,
        views: Sequence[dict[str, Any]] = (),
        retracted_views: Sequence[str] = (),
        open_views: Sequence[Sequence[Any]] | None = None,
        closed_views: Sequence[Sequence[Any]] | None = None,
        revised: dict[int, int] | None = None,
    ) -> None:
        """In one transaction: drop the rows of `finalised` windows (but `late_events`),
        upsert `rows`, count a revision of the `revised` windows (window_start -> records
        added), add `late` counts (window_start -> records), remove the `retracted_views` (view
        ids), add closed `views` (view records), replace the `open_views` and the kept
        `closed_views` (the engine's state rows; None: unchanged) and record the engine's
        `state`."""
        now = int(time.time() * 1000)
        finalised = list(finalised)
        with self._lock:
            self._store.execute("BEGIN IMMEDIATE")
            try:
                for window_start in finalised:
                    self._store.execute(
                        "DELETE FROM metric_rows WHERE window_start = ? AND metric != ?",
                        (window_start, LATE_EVENTS),
                    )
                self._store.executemany(
                    f"INSERT OR REPLACE INTO metric_rows ({_COLUMNS}, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            r.window_start,
                            r.window_end,
                            r.metric,
                            r.dimension,
                            r.dimension_value,
                            r.value,
                            r.split,
                            int(r.final),
                            now,
                        )
                        for r in rows
                    ],
                )
                self._store.executemany(
                    "INSERT INTO window_revisions (window_start, revision, revised_at, records)"
                    " VALUES (?, 1, ?, ?) ON CONFLICT (window_start) DO UPDATE SET"
                    " revision = revision + 1, revised_at = excluded.revised_at,"
                    " records = records + excluded.records",
                    [(w, now, n) for w, n in (revised or {}).items()],
                )
                for window_start, count in (late or {}).items():
                    assert window_ms is not None, "late counts need the window length"
                    self._store.execute(
                        f"INSERT INTO metric_rows ({_COLUMNS}, updated_at)"
                        " VALUES (?, ?, ?, 'all', '', ?, '', 1, ?)"
                        " ON CONFLICT (window_start, metric, dimension, dimension_value, split)"
                        " DO UPDATE SET value = value + excluded.value,"
                        " updated_at = excluded.updated_at",
                        (window_start, window_start + window_ms, LATE_EVENTS, count, now),
                    )
                self._store.executemany(
                    "DELETE FROM views WHERE view_id = ?", [(v,) for v in retracted_views]
                )
                self._store.executemany(
                    "INSERT OR REPLACE INTO views (view_id, session_id, event_time, view_start,"
                    " outcome, score, client_platform, channel_watched, record)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            v["view_id"],
                            v["session_id"],
                            v["event_time"],
                            v["view_start"],
                            v["outcome"],
                            v["score"],
                            v["client_platform"],
                            v["channel_watched"],
                            orjson.dumps(v).decode(),
                        )
                        for v in views
                    ],
                )
                for table, state_rows in (("open_views", open_views), ("kept_views", closed_views)):
                    if state_rows is not None:
                        self._store.execute(f"DELETE FROM {table}")
                        self._store.executemany(
                            f"INSERT INTO {table} (position, state) VALUES (?, ?)",
                            [
                                (i, orjson.dumps(list(row)).decode())
                                for i, row in enumerate(state_rows)
                            ],
                        )
                for key, value in (state or {}).items():
                    self._store.execute(
                        "INSERT OR REPLACE INTO engine_state (key, value) VALUES (?, ?)",
                        (key, value),
                    )
                self._store.execute("COMMIT")
            except BaseException:
                self._store.execute("ROLLBACK")
                raise

    def open_views(self, *, closed: bool = False) -> list[tuple[Any, ...]]:
        """The engine's open views (`closed`: the closed ones it keeps) as last written (its
        restart state)."""
        table = "kept_views" if closed else "open_views"
        with self._lock:
            rows = self._store.execute(f"SELECT state FROM {table} ORDER BY position").fetchall()
        return [tuple(orjson.loads(r[0])) for r in rows]

    def views_closing_from(
        self, event_time: int, *, until: int | None = None
    ) -> list[dict[str, Any]]:
        """The view records whose close time is at or after `event_time` (and before
        `until`)."""
        bound = "" if until is None else " AND event_time < ?"
        args = (event_time,) if until is None else (event_time, until)
        with self._lock:
            rows = self._store.execute(
                f"SELECT record FROM views WHERE event_time >= ?{bound}"
                " ORDER BY event_time, view_id",
                args,
            ).fetchall()
        return [orjson.loads(r[0]) for r in rows]
