"""What the dashboard reads: the metric store, and the lake service's reader.

Every source may be missing (the stack just started): each reader then answers "nothing yet"
rather than failing, and opens the file on a later request once it is there. Nothing here writes
to the data: the store and the log are only queried, the lake is only read.

The lake's named queries, its known dimensions, and sessions (the list and one viewer's timeline,
from the lake's files and the event log's unflushed tail) are the lake service's public reader
(`qos_lake.api.LakeReader`); `LakeSource` and `SessionSource` give them the dashboard's shape.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qos_lake.api import LakeAnswer, LakeReader, NamedQuery, QueryParams
from qos_realtime.api import MetricReader, MetricRow

_KNOWN_TTL_S = 2.0


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
    """The metric store, through the realtime service's `MetricReader`, plus a short-lived
    cache of each dimension's values (the filters ask for them on every request)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reader = MetricReader(path)
        self._known: dict[str, tuple[float, list[str]]] = {}

    @property
    def present(self) -> bool:
        return self.reader.present

    def latest_window(self) -> tuple[int, int] | None:
        return self.reader.latest_window()

    def tile_window(self) -> tuple[tuple[int, int], bool] | None:
        return self.reader.tile_window()

    def groups(
        self, dimension: str, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[str]:
        return self.reader.groups(dimension, start_ms, end_ms)

    def known(self, dimension: str) -> list[str]:
        """Every value of `dimension` in the store (cached for a moment: the filters ask often)."""
        cached = self._known.get(dimension)
        now = time.monotonic()
        if cached is not None and now - cached[0] < _KNOWN_TTL_S:
            return cached[1]
        values = self.reader.groups(dimension)
        self._known[dimension] = (now, values)
        return values

    def series(
        self, metric: str, dimension: str, value: str, start_ms: int, end_ms: int
    ) -> list[MetricRow]:
        return self.reader.series(
            metric, dimension=dimension, dimension_value=value, start_ms=start_ms, end_ms=end_ms
        )

    def revisions(self, start_ms: int, end_ms: int) -> dict[int, int]:
        """The windows in [start_ms, end_ms) revised after they closed: start -> revision."""
        return {w: r["revision"] for w, r in self.reader.revisions(start_ms, end_ms).items()}

    def window(self, window_start: int) -> list[MetricRow]:
        return self.reader.window(window_start)

    def views(
        self,
        start_ms: int,
        end_ms: int,
        *,
        platform: str | None,
        channel: str | None,
        outcome: str | None,
        worst_first: bool,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """Closed views by close time (see `MetricReader.views`)."""
        return self.reader.views(
            start_ms,
            end_ms,
            client_platform=platform,
            channel_watched=channel,
            outcome=outcome,
            worst_first=worst_first,
            limit=limit,
        )

    def view(self, view_id: str) -> dict[str, Any] | None:
        return self.reader.view(view_id)

    def close(self) -> None:
        self.reader.close()


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
        self,
        session_id: str,
        start_ms: int,
        end_ms: int,
        *,
        limit: int,
        offset: int = 0,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """A page of one session's stored events in the hours of the range, oldest first, with
        their `source` (lake / log), null fields left out: (at most `limit` events from `offset`,
        how many in all, whether the log's tail was truncated)."""
        found = self.reader.timeline(
            session_id,
            start_ms,
            end_ms,
            limit=limit,
            offset=offset,
            since_ms=since_ms,
            until_ms=until_ms,
        )
        return found.events, found.total, found.tail_truncated

    def close(self) -> None:
        self.reader.close()
