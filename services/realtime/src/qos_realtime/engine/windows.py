"""The local window engine: event-time tumbling windows over stored records, in DuckDB.

Records of open windows are kept as rows in an in-memory DuckDB table (only the columns the
catalogue reads); a window's metrics are computed by SQL rendered from the catalogue when it
closes (final rows) or on demand while it is open (provisional rows). Exact by construction:
distinct counts and percentiles see every value of the window.

Time: the watermark is the largest event_time seen minus the allowed lateness, as in Flink's
`WATERMARK FOR rowtime AS rowtime - INTERVAL …`. A window [start, end) closes once the watermark
reaches `end`; a record for a closed window is late: counted per window, never aggregated. Within a
batch records are not judged against each other, only against windows closed before it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from qos_realtime.domain.rows import GroupDimension, MetricRow
from qos_realtime.engine.sql import (
    GROUP_METRICS,
    SHARE_METRICS,
    flag_columns,
    group_metrics_query,
    grouped_table_query,
    record_columns,
    share_query,
)

POSITION = "_position"  # a lower bound of the record's log position (its batch's first)


@dataclass(frozen=True, slots=True)
class WindowConfig:
    window_s: int = 60
    allowed_lateness_s: float = 5.0
    top_n_channels: int = 10

    def __post_init__(self) -> None:
        if not 1 <= self.window_s <= 3600:
            raise ValueError("window_s must be between 1 and 3600 seconds")
        if self.allowed_lateness_s < 0:
            raise ValueError("allowed_lateness_s must be >= 0")
        if self.top_n_channels < 1:
            raise ValueError("top_n_channels must be >= 1")

    @property
    def window_ms(self) -> int:
        return self.window_s * 1000


@dataclass(slots=True)
class BatchResult:
    added: int = 0
    late: dict[int, int] = field(default_factory=dict)  # window_start -> late records
    skipped: int = 0  # replayed records already accounted for before a restart


class WindowEngine:
    """Single-threaded: one consumer drives it."""

    def __init__(self, config: WindowConfig, *, spill_dir: Path | None = None) -> None:
        self.config = config
        self._db = duckdb.connect(":memory:")
        self._db.execute("SET threads = 1")
        self._columns = record_columns()
        self._flags = flag_columns()
        column_defs = ", ".join(f'"{name}" {kind}' for name, kind in self._columns.items())
        flag_defs = "".join(f", {name} BOOLEAN" for name in self._flags)
        self._db.execute(
            f"CREATE TABLE pending ({column_defs}, {POSITION} BIGINT, window_start BIGINT"
            f"{flag_defs}, _batch BIGINT)"
        )
        self._json_columns = (
            "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in self._columns.items()) + "}"
        )
        # Each catalogue filter is evaluated once per record, here, into its boolean column.
        self._insert_list = ", ".join(
            [f'"{c}"' for c in self._columns]
            + [POSITION, "window_start"]
            + [f"coalesce({sql}, FALSE)" for sql in self._flags.values()]
        )
        self._spill_dir = spill_dir
        self._batch = 0  # load counter: each load's rows carry it, to be found again cheaply
        self.max_event_time: int | None = None
        # Every window that ends at or before this is closed (restored from the store on restart).
        self.closed_until: int = 0

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
        replayed = sum(1 for p in positions if p <= accounted_through)
        result = BatchResult()
        if replayed:
            self._load(records[:replayed], positions[0], replay=True, result=result)
        if replayed < len(records):
            self._load(records[replayed:], positions[replayed], replay=False, result=result)
        return result

    def _load(
        self, records: Sequence[bytes], first_position: int, *, replay: bool, result: BatchResult
    ) -> None:
        window_ms = self.config.window_ms
        self._batch += 1
        with tempfile.NamedTemporaryFile(suffix=".ndjson", dir=self._spill_dir) as batch_file:
            batch_file.write(b"\n".join(records))
            batch_file.flush()
            # One pass: parse, assign windows, evaluate the catalogue's filters, append. Every
            # row keeps the first log position of its batch, a lower bound of its own, which is
            # all the checkpoint needs (it may only ever be too early, never too late).
            self._db.execute(
                f"""INSERT INTO pending SELECT {self._insert_list}, {self._batch} FROM (
                    SELECT *, {int(first_position)} AS {POSITION},
                           (event_time // {window_ms}) * {window_ms} AS window_start
                    FROM read_json(?, format = 'newline_delimited', columns = {self._json_columns},
                                   maximum_object_size = 16777216)
                    WHERE event_time IS NOT NULL
                )""",
                [batch_file.name],
            )
        # The batch's rows are the newest row groups: `_batch = n` reads only those.
        closed = self.closed_until
        stats = self._db.execute(
            f"""SELECT window_start + {window_ms} <= ? AS is_late, window_start, count(*),
                       max(event_time)
                FROM pending WHERE _batch = ? GROUP BY ALL""",
            [closed, self._batch],
        ).fetchall()
        late_rows = 0
        for is_late, window_start, count, newest in stats:
            if is_late:
                late_rows += int(count)
                if replay:
                    result.skipped += int(count)
                else:
                    result.late[int(window_start)] = result.late.get(int(window_start), 0) + int(
                        count
                    )
            else:
                result.added += int(count)
            self.max_event_time = max(self.max_event_time or newest, newest)
        if late_rows:
            self._db.execute(
                f"DELETE FROM pending WHERE _batch = ? AND window_start + {window_ms} <= ?",
                [self._batch, closed],
            )

    # -- time ------------------------------------------------------------------------------------

    def watermark(self, *, idle_now_ms: int | None = None) -> int | None:
        """Largest event_time minus the allowed lateness; `idle_now_ms` (wall clock, given only
        when no record has arrived for a while) lets the last windows close without traffic."""
        lateness_ms = int(self.config.allowed_lateness_s * 1000)
        candidates = [t - lateness_ms for t in (self.max_event_time, idle_now_ms) if t is not None]
        return max(candidates) if candidates else None

    def open_windows(self) -> list[int]:
        rows = self._db.execute("SELECT DISTINCT window_start FROM pending ORDER BY 1").fetchall()
        return [int(r[0]) for r in rows]

    def due_windows(self, watermark: int | None) -> list[int]:
        """Open windows whose end the watermark has reached."""
        if watermark is None:
            return []
        return [w for w in self.open_windows() if w + self.config.window_ms <= watermark]

    def min_open_position(self) -> int | None:
        row = self._db.execute(f"SELECT min({POSITION}) FROM pending").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    # -- output ----------------------------------------------------------------------------------

    def rows(self, windows: Iterable[int], *, final: bool) -> list[MetricRow]:
        """Every metric row of the given open windows."""
        window_list = sorted(set(windows))
        if not window_list:
            return []
        window_set = ", ".join(str(int(w)) for w in window_list)
        self._db.execute(
            "CREATE OR REPLACE TEMP TABLE g AS "
            + grouped_table_query(window_set, self.config.top_n_channels)
        )
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
            group_metrics_query()
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
        self._db.execute("DROP TABLE g")
        return out

    def close(self, windows: Iterable[int]) -> None:
        """Forget closed windows' records; later records for them are late."""
        window_list = sorted(set(windows))
        if not window_list:
            return
        window_set = ", ".join(str(int(w)) for w in window_list)
        self._db.execute(f"DELETE FROM pending WHERE window_start IN ({window_set})")
        self.closed_until = max(self.closed_until, window_list[-1] + self.config.window_ms)

    def pending_count(self) -> int:
        row = self._db.execute("SELECT count(*) FROM pending").fetchone()
        return int(row[0]) if row else 0


def spill_dir_default() -> Path | None:
    """Batches are handed to DuckDB's JSON reader through a file; /dev/shm keeps it in memory."""
    shm = Path("/dev/shm")  # noqa: S108 - a private temporary file per batch, removed at once
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None
