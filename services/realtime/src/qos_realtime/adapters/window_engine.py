"""The local window engine: event-time tumbling windows over stored records, in DuckDB.

A batch of records reaches DuckDB as one newline-delimited JSON text (the event log's records
joined, `add_joined`; `add` joins a list), read by DuckDB's JSON reader with no Python object per
record. Records of open windows are kept as rows in in-memory DuckDB tables, one per load (only
the fields the aggregates read, and each catalogue filter evaluated once into a boolean column);
a window's metrics are computed by SQL rendered from the catalogue when it closes (final rows)
or on demand while it is open (provisional rows). Exact by construction: distinct counts and
percentiles see every value of the window.

Time: the watermark is the event time the bulk of traffic has reached minus the allowed lateness
(Flink's `WATERMARK FOR rowtime AS rowtime - INTERVAL …`, over a robust "newest": the k-th latest
of the active sessions' last event times, so that a client whose clock runs ahead cannot make
everyone else's records late; `bulk_event_time`). A window [start, end) closes once the watermark
reaches `end`. A closed window keeps its records for a revision horizon: until the watermark
reaches `end + horizon` (then it is sealed, `seal`), a record for it joins them and *revises* it
(`take_revising`: the consumer computes its rows again, over every record); a record for a sealed
window is late: counted per window, never aggregated. Within a batch records are not judged
against each other, only against windows closed before it.

Views (`qos_shared.views`, `ViewBuilder`): every batch that is not a replay also goes into the
open views; `close_views` closes those the watermark has reached and loads their records (metric
type VIEW, at their close time) into their windows, where the view KPIs count them. The consumer
calls it before closing windows at the same watermark. A record within the revision horizon whose
view has closed reopens it (`ViewBuilder`): the view's record is retracted from its window (which
is revised) and comes again, revised, when the view closes again.

`compute_rows` is the engine in one call, for a bounded set of records (every view closes at its
end).
"""

# ruff: noqa: S608 - SQL text rendered from the catalogue, integers and table names made here.
from __future__ import annotations

import bisect
import contextlib
import math
import mmap
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import orjson

from qos_realtime.adapters.view_builder import CLOSED, ViewBuilder
from qos_realtime.adapters.window_sql import (
    DUCKDB_TYPES,
    GROUP_METRICS,
    SHARE_METRICS,
    channel_groups_query,
    flag_columns,
    group_metrics_query,
    parts_query,
    record_columns,
    share_query,
    stored_columns,
    window_start_sql,
)
from qos_realtime.domain.rows import GroupDimension, MetricRow
from qos_realtime.domain.windows import BatchResult, WindowConfig
from qos_shared.views import view_column_types


class WindowEngine:
    """Single-threaded: one consumer drives it."""

    def __init__(self, config: WindowConfig, *, spill_dir: Path | None = None) -> None:
        self.config = config
        self._db = duckdb.connect(":memory:")
        self._db.execute("SET threads = 1")
        with contextlib.suppress(duckdb.Error):  # the setting is newer than some DuckDB 1.x
            # The batch file is rewritten in place: never serve a cached copy of the last one.
            self._db.execute("SET enable_external_file_cache = false")
        columns = record_columns()
        flags = flag_columns()
        json_columns = (
            "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"
        )
        # One pass: parse, assign windows, evaluate each catalogue filter into its boolean
        # column, store. Only the fields the aggregates read are kept, not those only filters
        # read. The JSON reader reads every field the catalogue reads, with its type: what it
        # refuses (malformed JSON, a value it cannot convert) fails the whole batch.
        stored = [c for c in stored_columns() if c != "event_time"]
        select = ", ".join(
            [f'"{c}"' for c in stored]
            + ["event_time", f"{window_start_sql(config.window_ms)} AS window_start"]
            + [f"coalesce({sql}, FALSE) AS {name}" for name, sql in flags.items()]
        )
        self._load_sql = (
            f"SELECT {select}"
            f" FROM read_json($file, format = 'newline_delimited', columns = {json_columns},"
            " maximum_object_size = 16777216)"
            " WHERE event_time IS NOT NULL"
        )
        # The same from the table of the views just closed (`view_builder.CLOSED`, the view
        # records' fields with their types), as if they were read from their JSON text: a
        # field views do not have is null, a double that is not finite null (JSON has none), in
        # the order of `ViewBuilder.close`'s records (sums of doubles depend on the order).
        fields = view_column_types()
        as_read = ", ".join(
            f'CAST(NULL AS {kind}) AS "{name}"'
            if name not in fields
            else f'CASE WHEN isfinite("{name}") THEN "{name}" END AS "{name}"'
            if kind == "DOUBLE"
            else f'"{name}"'
            for name, kind in columns.items()
        )
        self._closed_load_sql = (
            f"SELECT {select} FROM (SELECT {as_read} FROM {CLOSED} ORDER BY event_time, view_id)"
            " WHERE event_time IS NOT NULL"
        )
        # Only where every field has the type the JSON reader would give it.
        self._closed_direct = all(
            DUCKDB_TYPES[fields[name]] == kind for name, kind in columns.items() if name in fields
        )
        self._file = _BatchFile(spill_dir)
        # Records of open windows: one table per load (CREATE TABLE AS is cheaper than INSERT),
        # small ones merged, all read through the view `pending` (`_empty` when there is none).
        try:
            self._create_empty()
        except duckdb.IOException:  # DuckDB cannot open the memfd here: temporary files, then
            self._file.close()
            self._create_empty()
        self._tables: dict[str, set[int]] = {}  # table -> the windows it has records of
        self._table_rows: dict[str, int] = {}
        self._loads: list[tuple[int, set[int]]] = []  # (first log position, its open windows)
        self._batch = 0  # load counter, names the tables
        self._update_view()
        self.max_event_time: int | None = None
        # Every window that ends at or before this is closed (restored from the store on restart).
        self.closed_until: int = 0
        # ... and sealed (its records forgotten; later ones are late) at or before this.
        self.sealed_until: int = 0
        # Closed windows with records (or view records retracted) since `take_revising`.
        self._revising: dict[int, int] = {}
        # Views: built from each batch that is not a replay, closed by the watermark into view
        # records, which then count in their windows like events.
        self.views = ViewBuilder(self._db, config.views)
        self.views.keep_closed = config.horizon_ms > 0
        self.retracted_views: list[str] = []  # view ids, since `take_closed_views`
        self.closed_views: list[dict[str, Any]] = []  # closed since `take_closed_views`
        self._bulk_time: int | None = None  # see `bulk_event_time`

    def _create_empty(self) -> None:
        with self._file.holding(b"") as path:
            self._db.execute(f"CREATE TABLE _empty AS {self._load_sql}", {"file": path})

    # -- input -----------------------------------------------------------------------------------

    def add(
        self,
        records: Sequence[bytes],
        positions: Sequence[int] | None = None,
        *,
        accounted_through: int = 0,
    ) -> BatchResult:
        """Load JSON records (stored-record bytes); `positions` are their log positions, ascending.

        A record for a closed window is late, unless its position is <= `accounted_through`:
        then it was already counted (in a final window, or as late) before a restart, and is
        skipped.
        """
        if not records:
            return BatchResult()
        positions = positions if positions is not None else range(1, len(records) + 1)
        # Replayed records (only after a restart) go in their own batch, judged differently.
        replayed = bisect.bisect_right(positions, accounted_through)
        result = BatchResult()
        if replayed:
            self._load(b"\n".join(records[:replayed]), positions[0], replay=True, result=result)
        if replayed < len(records):
            self._load(
                b"\n".join(records[replayed:]), positions[replayed], replay=False, result=result
            )
        return result

    def add_joined(self, data: bytes, first_position: int) -> BatchResult:
        """Load records given as one newline-delimited text (their stored JSON joined by "\\n",
        as `EventLog.read_joined` returns them), the first at log position `first_position`,
        none replayed: the same as `add` of the records, without a Python object each."""
        result = BatchResult()
        if data:
            self._load(data, first_position, replay=False, result=result)
        return result

    def _load(
        self,
        data: bytes | None,
        first_position: int | None,
        *,
        replay: bool,
        result: BatchResult,
        views: bool = True,
    ) -> None:
        """Load a batch (`data` None: the views just closed, from their table); `views`: its
        records also go into the views (not for view records, nor for a replay: those records
        are in the restored views already); `first_position` None: records that need no log
        position (view records, restored from the store)."""
        window_ms = self.config.window_ms
        self._batch += 1
        table = f"b{self._batch}"
        if data is None:
            self._db.execute(f"CREATE TABLE {table} AS {self._closed_load_sql}")
        else:
            with self._file.holding(data) as path:
                self._db.execute(f"CREATE TABLE {table} AS {self._load_sql}", {"file": path})
        sealed = self.sealed_until
        stats = self._db.execute(
            f"SELECT window_start, count(*), max(event_time) FROM {table} GROUP BY window_start"
        ).fetchall()
        kept: set[int] = set()
        rows = 0
        for window_start, count, newest in stats:
            start, n = int(window_start), int(count)
            if start + window_ms <= sealed:  # late
                if replay:
                    result.skipped += n
                else:
                    result.late[start] = result.late.get(start, 0) + n
            else:
                kept.add(start)
                rows += n
                if start + window_ms <= self.closed_until and not replay:
                    result.revising[start] = result.revising.get(start, 0) + n
                    self._revising[start] = self._revising.get(start, 0) + n
            self.max_event_time = max(self.max_event_time or newest, newest)
        result.added += rows
        if not kept:
            self._db.execute(f"DROP TABLE {table}")
            return
        if rows < sum(int(count) for _, count, _ in stats):
            self._db.execute(f"DELETE FROM {table} WHERE window_start + {window_ms} <= {sealed}")
        if views and not replay:
            self.views.add(table)
            self._retract(self.views.take_reopened())
        # Every record keeps the first log position of its load, a lower bound of its own,
        # which is all the checkpoint needs (it may only ever be too early, never too late).
        if first_position is not None:
            self._loads.append((int(first_position), set(kept)))
        self._tables[table] = kept
        self._table_rows[table] = rows
        self._merge_small_tables()
        self._update_view()

    def _retract(self, views: list[dict[str, Any]]) -> None:
        """Take reopened views' records out of their windows (revising those that closed) and
        out of the closed views not yet taken."""
        if not views:
            return
        window_ms = self.config.window_ms
        ids = {v["view_id"] for v in views}
        self.closed_views = [v for v in self.closed_views if v["view_id"] not in ids]
        self.retracted_views += sorted(ids)
        by_window: dict[int, list[dict[str, Any]]] = {}
        for v in views:
            by_window.setdefault(int(v["event_time"]) // window_ms * window_ms, []).append(v)
        for start, held in by_window.items():
            keys = ", ".join(
                "(" + _sql_string(v["session_id"]) + f", {int(v['event_time'])})" for v in held
            )
            for table, windows in self._tables.items():
                if start in windows:
                    self._db.execute(
                        f"DELETE FROM {table} WHERE metric_type = 'VIEW'"
                        f" AND window_start = {start} AND (session_id, event_time) IN ({keys})"
                    )
            if start + window_ms <= self.closed_until:
                self._revising[start] = self._revising.get(start, 0)

    def _merge_small_tables(self) -> None:
        """Many small loads (a quiet log, polled often) become one table, so that the view does
        not grow to hundreds of tables. Large loads are never copied again: with closed windows
        kept for the revision horizon there are many of them, and merging them would copy every
        record again and again."""
        small = [t for t, n in self._table_rows.items() if n < _SMALL_TABLE_ROWS]
        if len(small) <= _MAX_SMALL_TABLES:
            return
        self._batch += 1
        merged = f"b{self._batch}"
        self._db.execute(
            f"CREATE TABLE {merged} AS " + " UNION ALL ".join(f"SELECT * FROM {t}" for t in small)
        )
        windows: set[int] = set()
        for t in small:
            windows |= self._tables.pop(t)
            del self._table_rows[t]
            self._db.execute(f"DROP TABLE {t}")
        self._tables[merged] = windows
        row = self._db.execute(f"SELECT count(*) FROM {merged}").fetchone()
        self._table_rows[merged] = int(row[0]) if row else 0

    def _update_view(self, windows: set[int] | None = None) -> None:
        """The view `pending` over the tables with records of `windows` (None: every table)."""
        # `_empty` only when there is no other table: in a UNION ALL, an empty table's column
        # statistics would keep DuckDB from packing short strings into integers for hashing.
        tables = [t for t, held in self._tables.items() if windows is None or held & windows] or [
            "_empty"
        ]
        self._db.execute(
            "CREATE OR REPLACE TEMP VIEW pending AS "
            + " UNION ALL ".join(f"SELECT * FROM {t}" for t in tables)
        )

    # -- time ------------------------------------------------------------------------------------

    def bulk_event_time(self) -> int | None:
        """The event time the bulk of traffic has reached, never going back: the k-th latest of
        the open views' last event times, k being `watermark_quorum` of the open views (at
        least 2, at most all). One client, or a few, whose clock or events run ahead cannot move
        it; with a single session it is that session's. Without open views, the largest event
        time seen."""
        opened = self.views.open_count()
        if opened:
            k = min(opened, max(2, math.ceil(opened * self.config.watermark_quorum)))
            candidate = self.views.latest(k)
        else:
            candidate = self.max_event_time
        if candidate is not None and (self._bulk_time is None or candidate > self._bulk_time):
            self._bulk_time = candidate
        return self._bulk_time

    def watermark(self, *, idle_now_ms: int | None = None) -> int | None:
        """The bulk of traffic's event time (`bulk_event_time`) minus the allowed lateness;
        `idle_now_ms` (wall clock, given only when no record has arrived for a while) lets the
        last windows close without traffic."""
        lateness_ms = int(self.config.allowed_lateness_s * 1000)
        newest = self.bulk_event_time()
        candidates = [t - lateness_ms for t in (newest, idle_now_ms) if t is not None]
        return max(candidates) if candidates else None

    def close_views(self, watermark: int | None, *, end_of_input: bool = False) -> int:
        """Close the views the watermark has reached (all of them at the end of a bounded
        input) and load their records into their windows, before any window closes at this
        watermark (a view's close time is before the end of its window, so its window is still
        open). Returns how many closed."""
        if watermark is None and not end_of_input:
            return 0
        records = self.views.close(None if end_of_input else watermark)
        if records:
            if self._closed_direct:  # from the table of the views just closed
                self._load(None, None, replay=False, result=BatchResult(), views=False)
            else:
                self.load_view_records(records)
            self.closed_views += records
        return len(records)

    def load_view_records(
        self, records: list[dict[str, Any]], *, restoring: bool = False
    ) -> BatchResult:
        """View records into their windows: closed views (one whose window has closed revises
        it), or (`restoring`) restored from the store after a restart, as they were counted."""
        result = BatchResult()
        self._load(
            b"\n".join(orjson.dumps(r) for r in records),
            None,
            replay=restoring,
            result=result,
            views=False,
        )
        return result

    def take_closed_views(self) -> list[dict[str, Any]]:
        """The view records closed since the last call."""
        taken, self.closed_views = self.closed_views, []
        return taken

    def take_retracted_views(self) -> list[str]:
        """The ids of the views reopened since the last call (their earlier records, taken
        before, are void)."""
        taken, self.retracted_views = self.retracted_views, []
        return taken

    def take_revising(self) -> dict[int, int]:
        """The closed windows to revise (window_start -> records added since the last call; a
        window whose view records changed only counts 0)."""
        taken, self._revising = self._revising, {}
        return taken

    def open_windows(self) -> list[int]:
        """Windows with records that have not closed (kept as the loads' window sets: no
        query)."""
        closed_until = self.closed_until
        return sorted(
            w
            for w in set().union(*self._tables.values())
            if w + self.config.window_ms > closed_until
        )

    def due_windows(self, watermark: int | None) -> list[int]:
        """Open windows whose end the watermark has reached."""
        if watermark is None:
            return []
        return [w for w in self.open_windows() if w + self.config.window_ms <= watermark]

    def min_open_position(self) -> int | None:
        """The first log position of the oldest load with a record in a window not sealed."""
        return min((first for first, _ in self._loads), default=None)

    # -- output ----------------------------------------------------------------------------------

    def rows(self, windows: Iterable[int], *, final: bool) -> list[MetricRow]:
        """Every metric row of the given open windows."""
        window_list = sorted(set(windows))
        if not window_list:
            return []
        in_windows = "window_start IN (" + ", ".join(str(int(w)) for w in window_list) + ")"
        self._update_view(set(window_list))
        self._db.execute(
            "CREATE OR REPLACE TEMP TABLE cg AS "
            + channel_groups_query(in_windows, self.config.top_n_channels)
        )
        self._db.execute("CREATE OR REPLACE TEMP TABLE parts AS " + parts_query(in_windows))
        window_ms = self.config.window_ms

        def row(
            start: int,
            metric: str,
            dimension: GroupDimension,
            value_of: str,
            value: float | None,
            split: str = "",
        ) -> MetricRow:
            return MetricRow(
                window_start=int(start),
                window_end=int(start) + window_ms,
                metric=metric,
                dimension=dimension,
                dimension_value=value_of,
                split=split,
                value=None if value is None else float(value),
                final=final,
            )

        out: list[MetricRow] = []
        for start, dimension, value_of, *values in self._db.execute(
            group_metrics_query(in_windows)
        ).fetchall():
            out += [
                row(start, m.name, dimension, value_of, v)
                for m, v in zip(GROUP_METRICS, values, strict=True)
            ]
        for metric in SHARE_METRICS:
            out += [
                row(start, metric.name, dimension, value_of, value, split)
                for start, dimension, value_of, split, value in self._db.execute(
                    share_query(metric)
                ).fetchall()
            ]
        self._db.execute("DROP TABLE cg")
        self._db.execute("DROP TABLE parts")
        return out

    def close(self, windows: Iterable[int]) -> None:
        """Close windows (their final rows are written): later records for them revise them
        until they are sealed."""
        closing = {int(w) for w in windows}
        if closing:
            self.closed_until = max(self.closed_until, max(closing) + self.config.window_ms)
        if self.config.horizon_ms <= 0:
            self.seal(self.closed_until)

    def seal(self, watermark: int | None) -> int:
        """Seal the closed windows that ended at least the revision horizon before the
        watermark: forget their records (and the closed views counted in them); later records
        for them are late. Returns `sealed_until`."""
        if watermark is None:
            return self.sealed_until
        window_ms = self.config.window_ms
        reach = (watermark - self.config.horizon_ms) // window_ms * window_ms
        bound = min(self.closed_until, reach)
        if bound <= self.sealed_until:
            return self.sealed_until
        self.sealed_until = bound
        self.views.prune(bound)
        closing = {w for held in self._tables.values() for w in held if w + window_ms <= bound}
        if not closing:
            return bound
        window_set = ", ".join(str(w) for w in sorted(closing))
        for table, held in list(self._tables.items()):
            if held <= closing:
                self._db.execute(f"DROP TABLE {table}")
                del self._tables[table], self._table_rows[table]
            elif held & closing:
                self._db.execute(f"DELETE FROM {table} WHERE window_start IN ({window_set})")
                held -= closing
        for _, held in self._loads:
            held -= closing
        self._loads = [load for load in self._loads if load[1]]
        self._update_view()
        return bound

    def pending_count(self) -> int:
        row = self._db.execute("SELECT count(*) FROM pending").fetchone()
        return int(row[0]) if row else 0


_MAX_SMALL_TABLES = 8  # more small tables than this: they are merged into one
_SMALL_TABLE_ROWS = 20_000


class _BatchFile:
    """How a batch reaches DuckDB's JSON reader: as a file. On Linux one anonymous in-memory
    file (memfd) per engine, rewritten in place for every batch through a shared memory map
    (one copy, no write call per page; the map is made again only when a batch is larger than
    any before), so its pages are allocated once, not per batch (it keeps the last batch's
    bytes until the next); elsewhere a temporary file per batch in `spill_dir`."""

    def __init__(self, spill_dir: Path | None) -> None:
        self._spill_dir = spill_dir
        self._fd: int | None = None
        self._size = 0
        self._map: mmap.mmap | None = None
        if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                self._fd = os.memfd_create("qos-realtime-batch", os.MFD_CLOEXEC)

    @contextlib.contextmanager
    def holding(self, data: bytes) -> Iterator[str]:
        """A path whose content is `data` while the context lasts."""
        if self._fd is None:
            with tempfile.NamedTemporaryFile(suffix=".ndjson", dir=self._spill_dir) as batch:
                batch.write(data)
                batch.flush()
                yield batch.name
            return
        size = len(data)
        if self._size != size:
            os.ftruncate(self._fd, size)  # the file is exactly the batch: DuckDB reads it whole
            self._size = size
        if size:
            if self._map is None or len(self._map) < size:
                if self._map is not None:
                    self._map.close()
                self._map = mmap.mmap(self._fd, size)
            self._map[:size] = data
        yield f"/proc/self/fd/{self._fd}"

    def close(self) -> None:
        """Release the memfd; later batches go through temporary files."""
        if self._map is not None:
            with contextlib.suppress(BufferError, ValueError):
                self._map.close()
            self._map = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


def _sql_string(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def spill_dir_default() -> Path | None:
    """Where batches are written for DuckDB's JSON reader when there is no memfd (not Linux):
    /dev/shm keeps them in memory."""
    shm = Path("/dev/shm")  # noqa: S108 - a private temporary file per batch, removed at once
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


def compute_rows(
    records: Iterable[dict[str, Any]], *, window_s: int = 60, top_n: int = 10
) -> list[MetricRow]:
    """Final rows of every window of a bounded set of stored records (one batch, so none is
    late; every view closes at its end), as a Flink job on a bounded source would emit them."""
    engine = WindowEngine(WindowConfig(window_s=window_s, top_n_channels=top_n))
    engine.add([orjson.dumps(r) for r in records])
    engine.close_views(None, end_of_input=True)
    windows = engine.open_windows()
    rows = engine.rows(windows, final=True)
    engine.close(windows)
    return rows
