"""The local engine's views (`qos_shared.views`), in DuckDB: open views as rows of partials, merged
with each batch, closed by the watermark into view records.

State: a table of the open views (`open_views`, rebuilt as `open_views_next` by each batch, the
two names alternating), one row per open view: its `session_id`, its `max_length` slot, and the
partials of the records seen so far (`view_start` and `last_event_time` among them). A view
closes once the watermark reaches its close time (last event + timeout - 1 ms); its record then
comes out finished (`finish_sql`). `snapshot` and `restore` carry the rows (key and partials)
across a restart.

Revisions (`keep_closed`): a closed view's row is kept (`recent_views`) until the engine seals
the window of its close time (`prune`). A batch with a record that meets a kept view (a record
that came after its view closed, within the engine's revision horizon) first moves that view back
into the open ones (`take_reopened` lists their old records, which the engine retracts from
their windows), so the record merges into it as if it had come in time; the view closes again
when the watermark reaches its (new) close time. Without `keep_closed` such a record starts a new
view, as in Flink's session windows.

A batch merges in as the session-window merge does: per (session, slot), the parts (the batch's
records, each a one-record view, and the open views) ordered by start, a new view wherever a
part starts at least `timeout` after every part before it; each group's partials merge into one
row. Done that way for every key, it is a sort of the whole batch and of the open views; so the
usual case goes a shorter way, with the same result:

- the batch's records are aggregated per (session, slot) in one grouped pass (filters read from
  the load's flag columns where the catalogue has the same filter); where they span less than
  `timeout` no gap of a timeout lies between them, so they are one part;
- such a part *meets* an open view of its key when neither starts a timeout or more after the
  other ends (the two would be one view). When every key of the batch is one part, the next
  open views are one outer join of the open views with the parts on (key, meeting): a met view
  merged with its part, the others as they were, a part that meets none a new view. That is
  right unless a part met two open views of its key (a late record between two of them), which
  the join's row count tells: it has as many rows as open views and parts, less one for each
  view merged with a part, unless a part came out twice;
- otherwise the keys with a part spanning a timeout or more, or a part that meets two open
  views, go the whole way (their records, or part, and open views ordered and numbered as
  above), the others through the join.

Everything is SQL over the engine's connection (no Python object per record).
"""

# ruff: noqa: S608 - SQL text rendered from the view definition and integers; no input.
from __future__ import annotations

from typing import Any

import duckdb

from qos_realtime.adapters.window_sql import PLAN
from qos_shared.catalogue_sql import expr_sql, filter_sql
from qos_shared.record_schema import column_types
from qos_shared.views import (
    PARTIALS,
    VIEW_FIELDS,
    VIEW_INPUT,
    Partial,
    ViewRules,
    finish_sql,
    merge_sql,
    record_partials_sql,
)

_KEY = ("session_id", "slot")
_VIEW_INPUT = filter_sql(VIEW_INPUT, "duckdb")
CLOSED = "view_closed"  # the records of the views the last `close` closed


class ViewBuilder:
    def __init__(self, db: duckdb.DuckDBPyConnection, rules: ViewRules) -> None:
        self.db = db
        self.rules = rules
        self._partials = [p.name for p in PARTIALS]
        self._columns = ", ".join(f'"{c}"' for c in (*_KEY, *self._partials))
        self._record_partials = ", ".join(record_partials_sql("duckdb"))
        self._batch_partials = ", ".join(
            f'CAST({_batch_partial_sql(p)} AS {_partial_type(p)}) AS "{p.name}"' for p in PARTIALS
        )
        self._merge = ", ".join(merge_sql("duckdb"))
        self._finish = ", ".join(finish_sql("duckdb", rules))
        self._fields = list(VIEW_FIELDS)
        self._table = "open_views"
        self._spare = "open_views_next"
        self._types = ", ".join(f'"{p.name}" {_partial_type(p)}' for p in PARTIALS)
        db.execute(
            f"CREATE TABLE {self._table} (session_id VARCHAR, slot BIGINT, {self._types},"
            " met BOOLEAN)"
        )
        db.execute(f"CREATE TABLE recent_views (session_id VARCHAR, slot BIGINT, {self._types})")
        self.keep_closed = False
        self._recent = 0  # rows in recent_views
        self._reopened: list[dict[str, Any]] = []

    def add(self, table: str) -> None:
        """Merge the records of `table` (the engine's loaded batch: every field the view
        partials read, and the flag columns of `window_sql.flag_columns`) into the open views."""
        timeout = self.rules.timeout_ms
        # Viewers' records only: VIEW records and IVS stream records make no view.
        records = f"{table} WHERE session_id IS NOT NULL AND {_VIEW_INPUT}"
        # The batch's records per (session, slot): one part where they span less than a timeout.
        self.db.execute(
            f"""CREATE OR REPLACE TEMP TABLE view_batch AS
            SELECT session_id, event_time // {self.rules.max_length_ms} AS slot,
                   {self._batch_partials}
            FROM {records} GROUP BY session_id, slot"""
        )
        meets = (
            f"g.view_start < o.last_event_time + {timeout}"
            f" AND o.view_start < g.last_event_time + {timeout}"
        )
        if self._recent:
            self._reopen(meets)
        row = self.db.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE last_event_time - view_start >= {timeout}),
                   (SELECT count(*) FROM {self._table})
            FROM view_batch"""
        ).fetchone()
        parts, long, views = (int(v) for v in row) if row else (0, 0, 0)
        if not long:
            # Every key one part: the outer join, then a check that no part met two open views
            # (it would come out twice): the rows are the open views, plus the parts, less the
            # parts that met one; as many merged rows as parts that met one, else one met two.
            self._rebuild(self._table, "view_batch", meets)
            row = self.db.execute(
                f"SELECT count(*), count(*) FILTER (WHERE met) FROM {self._spare}"
            ).fetchone()
            rows, merged = (int(v) for v in row) if row else (0, 0)
            if merged == views + parts - rows:
                self._swap()
                return
        # The keys that go the whole way: a part spanning a timeout or more, or a part that
        # meets two open views.
        self.db.execute(
            f"""CREATE OR REPLACE TEMP TABLE view_hard AS
            SELECT session_id, slot FROM view_batch
            WHERE last_event_time - view_start >= {timeout}
            UNION
            SELECT g.session_id, g.slot
            FROM view_batch g JOIN {self._table} o USING (session_id, slot)
            WHERE {meets} GROUP BY g.session_id, g.slot HAVING count(*) > 1"""
        )
        self._rebuild(
            f"(SELECT * FROM {self._table} ANTI JOIN view_hard USING (session_id, slot))",
            "(SELECT * FROM view_batch ANTI JOIN view_hard USING (session_id, slot))",
            meets,
        )
        self._add_hard(records)
        self.db.execute("DROP TABLE view_hard")
        self._swap()

    def _reopen(self, meets: str) -> None:
        """Kept closed views that a part of the batch meets back into the open views; their
        records (as they closed) kept for `take_reopened`."""
        self.db.execute(
            f"""CREATE OR REPLACE TEMP TABLE view_reopen AS
            SELECT o.rowid AS rid FROM recent_views o SEMI JOIN view_batch g
                ON o.session_id = g.session_id AND o.slot = g.slot AND {meets}"""
        )
        reopened = "recent_views WHERE rowid IN (SELECT rid FROM view_reopen)"
        rows = self.db.execute(f"SELECT {self._finish} FROM {reopened}").fetchall()
        if rows:
            self._reopened += [dict(zip(self._fields, row, strict=True)) for row in rows]
            self.db.execute(
                f"INSERT INTO {self._table} ({self._columns})"
                f" SELECT {self._columns} FROM {reopened}"
            )
            self.db.execute(f"DELETE FROM {reopened}")
            self._recent -= len(rows)
        self.db.execute("DROP TABLE view_reopen")

    def take_reopened(self) -> list[dict[str, Any]]:
        """The records, as they had closed, of the views reopened since the last call."""
        taken, self._reopened = self._reopened, []
        return taken

    def prune(self, sealed_until: int) -> None:
        """Forget the kept closed views whose close time is before `sealed_until`."""
        if self._recent:
            self.db.execute(
                "DELETE FROM recent_views"
                f" WHERE last_event_time + {self.rules.timeout_ms - 1} < {int(sealed_until)}"
            )
            self._recent = self._count("recent_views")

    def _count(self, table: str) -> int:
        row = self.db.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def _rebuild(self, views: str, parts: str, meets: str) -> None:
        """The next open views (table `_spare`): the outer join of open views and parts, each
        part at most one per key, on (key, meeting); `met`: a view and a part merged."""
        both = "o.session_id IS NOT NULL AND g.session_id IS NOT NULL"
        merged = ", ".join(
            [
                "coalesce(o.session_id, g.session_id) AS session_id",
                "coalesce(o.slot, g.slot) AS slot",
                *(f'{_merge_pair(p, "o", "g")} AS "{p.name}"' for p in PARTIALS),
                f"{both} AS met",
            ]
        )
        self.db.execute(
            f"""CREATE OR REPLACE TABLE {self._spare} AS
            SELECT {merged}
            FROM {views} o FULL JOIN {parts} g
                ON o.session_id = g.session_id AND o.slot = g.slot AND {meets}"""
        )

    def _swap(self) -> None:
        """The next open views become the open views."""
        self.db.execute(f"DROP TABLE {self._table}")
        self._table, self._spare = self._spare, self._table
        self.db.execute("DROP TABLE view_batch")

    def _add_hard(self, records: str) -> None:
        """The keys of `view_hard`, the whole way: the open views of those keys and the batch's
        parts (its records, one part per key where they span less than a timeout) ordered per
        key by start, numbered (a new view wherever a part starts a timeout or more after every
        part before it), merged per number into the new open views."""
        timeout = self.rules.timeout_ms
        slot = f"event_time // {self.rules.max_length_ms}"
        key = "PARTITION BY session_id, slot ORDER BY view_start, last_event_time"
        self.db.execute(
            f"""CREATE OR REPLACE TEMP TABLE view_parts AS
            SELECT * FROM view_batch SEMI JOIN view_hard USING (session_id, slot)
            WHERE last_event_time - view_start < {timeout}
            UNION ALL BY NAME
            SELECT * FROM (
                SELECT session_id, {slot} AS slot, {self._record_partials} FROM {records}
            ) SEMI JOIN (
                SELECT * FROM view_batch WHERE last_event_time - view_start >= {timeout}
            ) USING (session_id, slot)
            UNION ALL BY NAME
            SELECT {self._columns} FROM {self._table}
            SEMI JOIN view_hard USING (session_id, slot)"""
        )
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
            f"""INSERT INTO {self._spare} ({self._columns})
            SELECT p.session_id, p.slot, {self._merge_of("p")}
            FROM view_parts p JOIN view_numbers n ON p.rowid = n.part
            GROUP BY p.session_id, p.slot, n.view_number"""
        )
        for name in ("view_parts", "view_numbers"):
            self.db.execute(f"DROP TABLE {name}")

    def _merge_of(self, alias: str) -> str:
        return ", ".join(f'{p.merge.upper()}({alias}."{p.name}") AS "{p.name}"' for p in PARTIALS)

    def close(self, watermark: int | None) -> list[dict[str, Any]]:
        """The records of the views whose close time the watermark has reached (every view when
        `watermark` is None: the end of a bounded input), removed from the open ones. They stay
        in table `CLOSED` (its columns `VIEW_FIELDS`) until the next call, for the engine to load
        into their windows without a JSON text."""
        due = (
            "TRUE"
            if watermark is None
            else f"last_event_time + {self.rules.timeout_ms - 1} <= {int(watermark)}"
        )
        row = self.db.execute(
            f"CREATE OR REPLACE TEMP TABLE {CLOSED} AS"
            f" SELECT {self._finish} FROM {self._table} WHERE {due}"
        ).fetchone()
        if not row or not row[0]:
            return []
        rows = self.db.execute(f"SELECT * FROM {CLOSED} ORDER BY event_time, view_id").fetchall()
        if self.keep_closed:
            self.db.execute(
                f"INSERT INTO recent_views SELECT {self._columns} FROM {self._table} WHERE {due}"
            )
            self._recent += len(rows)
        self.db.execute(f"DELETE FROM {self._table} WHERE {due}")
        return [dict(zip(self._fields, row, strict=True)) for row in rows]

    def latest(self, k: int) -> int | None:
        """The k-th latest last event time among the open views (None: fewer than k)."""
        row = self.db.execute(
            f"SELECT last_event_time FROM {self._table} ORDER BY last_event_time DESC"
            f" LIMIT 1 OFFSET {int(k) - 1}"
        ).fetchone()
        return None if row is None else int(row[0])

    def open_count(self) -> int:
        return self._count(self._table)

    def snapshot(self, *, closed: bool = False) -> list[tuple[Any, ...]]:
        """The open views' rows (`closed`: the kept closed ones'), for the engine's restart
        state."""
        table = "recent_views" if closed else self._table
        return self.db.execute(f"SELECT {self._columns} FROM {table}").fetchall()

    def restore(self, rows: list[tuple[Any, ...]], *, closed: bool = False) -> None:
        """Open views (`closed`: the kept closed ones) from a `snapshot`, replacing the
        current ones."""
        table = "recent_views" if closed else self._table
        self.db.execute(f"DELETE FROM {table}")
        if rows:
            marks = ", ".join("?" for _ in (*_KEY, *self._partials))
            self.db.executemany(f"INSERT INTO {table} ({self._columns}) VALUES ({marks})", rows)
        if closed:
            self._recent = len(rows)

    @property
    def state_columns(self) -> list[str]:
        return [*_KEY, *self._partials]


def _batch_partial_sql(partial: Partial) -> str:
    """The partial as one aggregate over a batch's records of one key, its filter read from
    the load's flag column where there is one (`window_sql.PLAN`)."""
    if partial.filter is None:
        where = None
    else:
        where = PLAN.flags.get(partial.filter) or filter_sql(partial.filter, "duckdb")
    only = "" if where is None else f" FILTER (WHERE {where})"
    if partial.kind == "count":
        return f"COUNT(*){only}"
    if partial.kind == "any":
        return "1" if where is None else f"COUNT(*){only} > 0"
    assert partial.value is not None, partial.name
    value = (
        f'"{partial.value}"'
        if isinstance(partial.value, str)
        else expr_sql(partial.value, "duckdb")
    )
    return f"{partial.merge.upper()}({value}){only}"


def _merge_pair(partial: Partial, left: str, right: str) -> str:
    """Two rows' partial merged (either may be null: no row, or no value)."""
    a, b = f'{left}."{partial.name}"', f'{right}."{partial.name}"'
    if partial.merge == "sum":
        return f"coalesce({a} + {b}, {a}, {b})"
    return f"{'LEAST' if partial.merge == 'min' else 'GREATEST'}({a}, {b})"


_DUCKDB = {"string": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}


def _partial_type(partial: Partial) -> str:
    """A partial's DuckDB type: a min/max keeps its column's type; counts and flags are
    integers; sums of expressions are doubles (`expr_sql` casts to DOUBLE)."""
    if partial.kind in ("count", "any"):
        return "BIGINT"
    if isinstance(partial.value, str):
        return _DUCKDB[column_types()[partial.value]]
    return "DOUBLE"
