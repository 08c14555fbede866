"""The local metric store: window rows in SQLite (WAL), and the query API the dashboard reads.

One row per (window, metric, group, split): provisional while the window is open, replaced by the
final rows when it closes. `late_events` rows count records that came after their window closed.
The engine's restart state (what it has accounted for) is kept in the same file and written in
the same transactions as the rows it describes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from qos_realtime.domain.rows import MetricRow
from qos_shared.catalogue import BY_NAME, LATE_EVENTS

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
)
_COLUMNS = "window_start, window_end, metric, dimension, dimension_value, value, split, final"


class UnknownMetric(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class MetricStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        for statement in _SCHEMA:
            self._db.execute(statement)

    # -- writes (the engine) ---------------------------------------------------------------------

    def write(
        self,
        rows: Sequence[MetricRow],
        *,
        finalised: Iterable[int] = (),
        late: dict[int, int] | None = None,
        window_ms: int | None = None,
        state: dict[str, int] | None = None,
    ) -> None:
        """In one transaction: drop the provisional rows of `finalised` windows, upsert `rows`,
        add `late` counts (window_start -> records), and record the engine's `state`."""
        now = int(time.time() * 1000)
        finalised = list(finalised)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for window_start in finalised:
                    self._db.execute(
                        "DELETE FROM metric_rows WHERE window_start = ? AND metric != ?",
                        (window_start, LATE_EVENTS),
                    )
                self._db.executemany(
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
                for window_start, count in (late or {}).items():
                    assert window_ms is not None, "late counts need the window length"
                    self._db.execute(
                        f"INSERT INTO metric_rows ({_COLUMNS}, updated_at)"
                        " VALUES (?, ?, ?, 'all', '', ?, '', 1, ?)"
                        " ON CONFLICT (window_start, metric, dimension, dimension_value, split)"
                        " DO UPDATE SET value = value + excluded.value,"
                        " updated_at = excluded.updated_at",
                        (window_start, window_start + window_ms, LATE_EVENTS, count, now),
                    )
                for key, value in (state or {}).items():
                    self._db.execute(
                        "INSERT OR REPLACE INTO engine_state (key, value) VALUES (?, ?)",
                        (key, value),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def state(self, key: str, default: int = 0) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM engine_state WHERE key = ?", (key,)
            ).fetchone()
        return int(row[0]) if row else default

    # -- reads (the dashboard, tests) ------------------------------------------------------------

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
        if start_ms is not None:
            sql.append("AND window_start >= ?")
            args.append(start_ms)
        if end_ms is not None:
            sql.append("AND window_start < ?")
            args.append(end_ms)
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
        where = " WHERE final = 1" if final_only else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT DISTINCT window_start FROM metric_rows{where} ORDER BY 1"
            ).fetchall()
        return [int(r[0]) for r in rows]

    def _rows(self, sql: str, args: Sequence[object]) -> list[MetricRow]:
        with self._lock:
            found = self._db.execute(sql, args).fetchall()
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
            for r in found
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()
