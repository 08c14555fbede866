"""The local engine's views (`qos_shared.views`), in DuckDB: open views as rows of partials, merged
with each batch, closed by the watermark into view records.

State: table `open_views`, one row per open view: its `session_id`, its `max_length` slot, and
the partials of the records seen so far (`view_start` and `last_event_time` among them). A batch
merges in set-wise: the batch's records (each a one-record view) and the open views of the same
sessions are ordered per (session, slot) by start, and a new view begins wherever a start is at
least `timeout` after every end before it (the session-window merge); each group's partials merge
into one row. A view closes once the watermark reaches its close time (last event + timeout
- 1 ms); its record then comes out finished (`finish_sql`). A record that comes after its view
closed starts a new one, as in Flink's session windows.

Everything is SQL over the engine's connection (no Python object per record): the cost per batch
is one grouped pass over the batch and the open views of its sessions.
"""

# ruff: noqa: S608 - SQL text rendered from the view definition and integers; no input.
from __future__ import annotations

from typing import Any

import duckdb

from qos_shared.record_schema import column_types
from qos_shared.views import (
    PARTIALS,
    VIEW_FIELDS,
    Partial,
    ViewRules,
    finish_sql,
    merge_sql,
    record_partials_sql,
)

_KEY = ("session_id", "slot")


class ViewBuilder:
    def __init__(self, db: duckdb.DuckDBPyConnection, rules: ViewRules) -> None:
        self.db = db
        self.rules = rules
        self._partials = [p.name for p in PARTIALS]
        self._columns = ", ".join(f'"{c}"' for c in (*_KEY, *self._partials))
        self._record_partials = ", ".join(record_partials_sql("duckdb"))
        self._merge = ", ".join(merge_sql("duckdb"))
        self._finish = ", ".join(finish_sql("duckdb", rules))
        self._fields = list(VIEW_FIELDS)
        db.execute(
            "CREATE TABLE open_views (session_id VARCHAR, slot BIGINT, "
            + ", ".join(f'"{p.name}" {_partial_type(p)}' for p in PARTIALS)
            + ")"
        )

    def add(self, table: str) -> None:
        """Merge the records of `table` (the engine's loaded batch: every field the view
        partials read) into the open views."""
        slot = f"event_time // {self.rules.max_length_ms}"
        timeout = self.rules.timeout_ms
        key = "PARTITION BY session_id, slot ORDER BY view_start, last_event_time"
        # The batch's records, each a one-record view.
        self.db.execute(
            f"""CREATE OR REPLACE TEMP TABLE view_batch AS
            SELECT session_id, {slot} AS slot, {self._record_partials}
            FROM {table} WHERE session_id IS NOT NULL AND metric_type != 'VIEW'"""
        )
        # The parts to merge: the open views of the batch's sessions, and the batch's records,
        # merged beforehand per (session, slot) where they span less than the timeout (no gap
        # of a timeout can lie between them: the usual case, one grouped pass).
        self.db.execute(
            f"""CREATE OR REPLACE TEMP TABLE view_parts AS
            WITH spans AS (
                SELECT session_id, slot,
                       max(last_event_time) - min(view_start) < {timeout} AS short
                FROM view_batch GROUP BY session_id, slot
            )
            SELECT session_id, slot, {self._merge}
            FROM view_batch SEMI JOIN (SELECT * FROM spans WHERE short) s USING (session_id, slot)
            GROUP BY session_id, slot
            UNION ALL BY NAME
            SELECT * FROM view_batch
            SEMI JOIN (SELECT * FROM spans WHERE NOT short) s USING (session_id, slot)
            UNION ALL BY NAME
            SELECT o.* FROM open_views o SEMI JOIN spans s USING (session_id, slot)"""
        )
        # Which view each part belongs to, on the narrow key columns only: a new view wherever
        # a part starts a timeout or more after every part before it.
        self.db.execute(
            f"""CREATE OR REPLACE TEMP TABLE view_numbers AS
            SELECT part, sum(CASE WHEN reach IS NULL OR view_start >= reach + {timeout}
                                  THEN 1 ELSE 0 END) OVER ({key} ROWS UNBOUNDED PRECEDING)
                       AS view_number
            FROM (
                SELECT rowid AS part, session_id, slot, view_start, last_event_time,
                       max(last_event_time) OVER (
                           {key} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
                FROM view_parts
            )"""
        )
        self.db.execute(
            f"""CREATE OR REPLACE TEMP TABLE view_merge AS
            SELECT p.session_id, p.slot, {self._merge_of("p")}
            FROM view_parts p JOIN view_numbers n ON p.rowid = n.part
            GROUP BY p.session_id, p.slot, n.view_number"""
        )
        self.db.execute(
            """DELETE FROM open_views o WHERE EXISTS (
                SELECT 1 FROM view_batch b WHERE b.session_id = o.session_id AND b.slot = o.slot)"""
        )
        self.db.execute(f"INSERT INTO open_views SELECT {self._columns} FROM view_merge")
        for name in ("view_batch", "view_parts", "view_numbers", "view_merge"):
            self.db.execute(f"DROP TABLE {name}")

    def _merge_of(self, alias: str) -> str:
        return ", ".join(f'{p.merge.upper()}({alias}."{p.name}") AS "{p.name}"' for p in PARTIALS)

    def close(self, watermark: int | None) -> list[dict[str, Any]]:
        """The records of the views whose close time the watermark has reached (every view when
        `watermark` is None: the end of a bounded input), removed from the open ones."""
        due = (
            "TRUE"
            if watermark is None
            else f"last_event_time + {self.rules.timeout_ms - 1} <= {int(watermark)}"
        )
        rows = self.db.execute(
            f"SELECT {self._finish} FROM open_views WHERE {due} ORDER BY event_time, view_id"
        ).fetchall()
        if rows:
            self.db.execute(f"DELETE FROM open_views WHERE {due}")
        return [dict(zip(self._fields, row, strict=True)) for row in rows]

    def latest(self, k: int) -> int | None:
        """The k-th latest last event time among the open views (None: fewer than k)."""
        row = self.db.execute(
            "SELECT last_event_time FROM open_views ORDER BY last_event_time DESC"
            f" LIMIT 1 OFFSET {int(k) - 1}"
        ).fetchone()
        return None if row is None else int(row[0])

    def open_count(self) -> int:
        row = self.db.execute("SELECT count(*) FROM open_views").fetchone()
        return int(row[0]) if row else 0

    def snapshot(self) -> list[tuple[Any, ...]]:
        """The open views' rows (for the engine's restart state)."""
        return self.db.execute(f"SELECT {self._columns} FROM open_views").fetchall()

    def restore(self, rows: list[tuple[Any, ...]]) -> None:
        """Open views from a `snapshot`, replacing the current ones."""
        self.db.execute("DELETE FROM open_views")
        if rows:
            marks = ", ".join("?" for _ in (*_KEY, *self._partials))
            self.db.executemany(f"INSERT INTO open_views VALUES ({marks})", rows)

    @property
    def state_columns(self) -> list[str]:
        return [*_KEY, *self._partials]


_DUCKDB = {"string": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}


def _partial_type(partial: Partial) -> str:
    """A partial's DuckDB type: a min/max keeps its column's type; counts and flags are
    integers; sums of expressions are doubles (`expr_sql` casts to DOUBLE)."""
    if partial.kind in ("count", "any"):
        return "BIGINT"
    if isinstance(partial.value, str):
        return _DUCKDB[column_types()[partial.value]]
    return "DOUBLE"
