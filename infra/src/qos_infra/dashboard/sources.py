"""What the dashboard reads: the metric store, and the lake service's reader.

Every source may be missing (the stack just started): each reader then answers "nothing yet"
rather than failing, and opens the file on a later request once it is there. Nothing here writes
to the data: the store and the log are only queried, the lake is only read.

The lake's named queries, its known dimensions, and sessions (the list and one viewer's timeline,
from the lake's files and the event log's unflushed tail) are the lake service's public reader
(`qos_lake.api.LakeReader`); `LakeSource` and `SessionSource` give them the dashboard's shape.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qos_lake.api import LakeAnswer, LakeReader, NamedQuery, QueryParams
from qos_realtime.domain.rows import MetricRow
from qos_realtime.store import MetricStore
from qos_shared.catalogue import CATALOGUE

# Every group of a window has a row of each non-share metric: one of them lists the groups.
_GROUP_METRIC = next(m.name for m in CATALOGUE if m.kind != "share")
_KNOWN_TTL_S = 2.0
_OPEN_WINDOWS_MAX = 16  # windows looked back for a final one (open ones are the newest few)


@dataclass(frozen=True, slots=True)
class DataPaths:
    """The files of a `qos up` data directory."""

    data_dir: Path

    @property
    def log_path(self) -> Path:
        return self.data_dir / "events.sqlite"

    @property
    def store_path(self) -> Path:
        return self.data_dir / "metrics.sqlite"

    @property
    def lake_root(self) -> Path:
        return self.data_dir / "lake"


# -- the metric store --------------------------------------------------------------------------


class RealtimeSource:
    """The metric store, through `MetricStore` for rows, plus two listing queries of its own.

    `MetricStore` has no call for "the newest window" or "the groups of a dimension"; those two
    are read-only SELECTs on its table, over its primary key and its (metric, dimension,
    window_start) index, so neither scans the store.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._store: MetricStore | None = None
        self._db: sqlite3.Connection | None = None
        self._known: dict[str, tuple[float, list[str]]] = {}

    def _open(self) -> tuple[MetricStore, sqlite3.Connection] | None:
        with self._lock:
            if self._store is None or self._db is None:
                if not self.path.is_file():
                    return None
                self._store = MetricStore(self.path)
                self._db = sqlite3.connect(self.path, check_same_thread=False)
                self._db.execute("PRAGMA busy_timeout=30000")
            return self._store, self._db

    @property
    def present(self) -> bool:
        return self.path.is_file()

    def store(self) -> MetricStore | None:
        opened = self._open()
        return None if opened is None else opened[0]

    def _query(self, sql: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
        opened = self._open()
        if opened is None:
            return []
        try:
            with self._lock:
                return opened[1].execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # created, not yet initialised by the engine
                return []
            raise

    def latest_window(self) -> tuple[int, int] | None:
        """(start, end) of the newest window in the store, provisional or final."""
        rows = self._query(
            "SELECT window_start, window_end FROM metric_rows"
            " WHERE window_start = (SELECT max(window_start) FROM metric_rows) LIMIT 1",
            (),
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
        rows = self._query(
            "SELECT final FROM metric_rows WHERE window_start = ? AND metric = ?"
            " AND dimension = 'all' LIMIT 1",
            (window_start, _GROUP_METRIC),
        )
        return bool(rows and rows[0][0])

    def tile_window(self) -> tuple[tuple[int, int], bool] | None:
        """The window KPI tiles show, and whether it is final: the newest final window (only
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
        """The values of `dimension` (client_platform / channel_watched) with a window in range."""
        sql = "SELECT DISTINCT dimension_value FROM metric_rows WHERE metric = ? AND dimension = ?"
        args: list[object] = [_GROUP_METRIC, dimension]
        if start_ms is not None:
            sql += " AND window_start >= ?"
            args.append(start_ms)
        if end_ms is not None:
            sql += " AND window_start < ?"
            args.append(end_ms)
        return sorted(str(r[0]) for r in self._query(sql + " ORDER BY 1", args) if r[0])

    def known(self, dimension: str) -> list[str]:
        """Every value of `dimension` in the store (cached for a moment: the filters ask often)."""
        cached = self._known.get(dimension)
        now = time.monotonic()
        if cached is not None and now - cached[0] < _KNOWN_TTL_S:
            return cached[1]
        values = self.groups(dimension)
        self._known[dimension] = (now, values)
        return values

    def series(
        self, metric: str, dimension: str, value: str, start_ms: int, end_ms: int
    ) -> list[MetricRow]:
        store = self.store()
        if store is None:
            return []
        try:
            return store.series(
                metric,
                dimension=dimension,
                dimension_value=value,
                start_ms=start_ms,
                end_ms=end_ms,
            )
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise

    def window(self, window_start: int) -> list[MetricRow]:
        store = self.store()
        return [] if store is None else store.window(window_start)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            if self._db is not None:
                self._db.close()
            self._store = self._db = None


# -- the lake ----------------------------------------------------------------------------------


class LakeSource:
    """Named queries over the lake (cached until the lake commits again) and its dimensions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.reader = LakeReader(root)

    @property
    def present(self) -> bool:
        return self.reader.present

    def committed(self) -> int:
        return self.reader.committed()

    def query(self, query: NamedQuery, params: QueryParams) -> LakeAnswer:
        return self.reader.query(query, params)

    def known(self) -> tuple[list[str], list[str]]:
        """(platforms, channels) in the lake's live files."""
        return self.reader.known_dimensions()


class SessionSource:
    """Sessions from the lake (hour-pruned) and the event log's unflushed tail."""

    def __init__(self, log_path: Path, lake: LakeSource) -> None:
        self.log_path = log_path
        self.lake = lake
        self.reader = LakeReader(lake.root, log_path)

    @property
    def present(self) -> bool:
        return self.reader.log_present

    def last_position(self) -> int:
        return self.reader.last_position()

    def sessions(
        self,
        start_ms: int,
        end_ms: int,
        platform: str | None,
        channel: str | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """(the newest sessions with an event in range, newest first; how many in all; whether
        the log's tail was truncated)."""
        found = self.reader.sessions(start_ms, end_ms, platform, channel, limit)
        return found.rows, found.total, found.tail_truncated

    def timeline(
        self, session_id: str, start_ms: int, end_ms: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Every stored event of one session in the hours of the range, oldest first, with its
        `source` (lake / log); null fields left out."""
        found = self.reader.timeline(session_id, start_ms, end_ms)
        return found.events, found.tail_truncated

    def close(self) -> None:
        self.reader.close()
