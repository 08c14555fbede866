"""The local event log: the laptop's stand-in for the Kinesis stream.

An append-only SQLite table in WAL mode. Every record gets a position that only grows and is never
reused; consumers (lake writer, realtime engine, search indexer) each keep their own checkpoint in
the same file and read forward from it. A commit with `synchronous=FULL` is on disk before `append`
returns, so an event ingest acknowledged survives `kill -9` of any process and a power cut.
Records are unique by `event_id`: appending one again (a client retry) is a no-op.

It lives in `shared/` because it is a contract between services, exactly as the stream is on AWS:
ingest writes it, the other services read it, and none of them imports another.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

FORMAT_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position      INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      TEXT    NOT NULL UNIQUE,
    partition_key TEXT    NOT NULL,
    data          BLOB    NOT NULL,
    appended_at   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    consumer   TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# One bytes object of many records' data, built by SQLite: group_concat keeps the order in which
# rows reach it (the ordered subquery's); SQLite 3.44+ also lets the query say so.
_JOINED_SQL = (
    "SELECT count(*), min(position), max(position),"
    " CAST(group_concat(data, CAST(? AS BLOB) ORDER BY position) AS BLOB)"
    " FROM (SELECT position, data FROM events WHERE position > ? ORDER BY position LIMIT ?)"
    if sqlite3.sqlite_version_info >= (3, 44)
    else "SELECT count(*), min(position), max(position),"
    " CAST(group_concat(data, CAST(? AS BLOB)) AS BLOB)"
    " FROM (SELECT position, data FROM events WHERE position > ? ORDER BY position LIMIT ?)"
)


class EventLogError(RuntimeError):
    """The log file cannot be opened or has an unexpected format."""


@dataclass(frozen=True, slots=True)
class LogRecord:
    """A record to append."""

    event_id: str
    partition_key: str
    data: bytes


class LogEntry(NamedTuple):
    """A record read back, with its position (a NamedTuple: consumers read them by the
    hundred thousand, and a tuple is the cheapest object Python builds)."""

    position: int
    event_id: str
    partition_key: str
    data: bytes
    appended_at: int


class JoinedRecords(NamedTuple):
    """Records read back as one bytes object (`EventLog.read_joined`): their data, oldest first,
    joined by a separator; positions and count 0 when there was none."""

    first_position: int
    last_position: int
    record_count: int
    data: bytes


@dataclass(frozen=True, slots=True)
class AppendResult:
    appended: int
    duplicates: int


@dataclass(slots=True)
class _Ticket:
    """One caller's records waiting for a group commit, and what became of them."""

    records: Sequence[LogRecord]
    done: bool = False
    result: AppendResult | None = None
    error: BaseException | None = None


class EventLog:
    """One process's handle on the log file; safe to share between threads of that process."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout_ms: int = 30_000,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # guards the connection
        self._commit_lock = threading.Lock()  # one group commit at a time
        self._queue_lock = threading.Lock()
        self._queue: list[_Ticket] = []
        try:
            self._db = sqlite3.connect(
                self.path,
                check_same_thread=False,
                isolation_level=None,
                timeout=busy_timeout_ms / 1000,
            )
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise EventLogError(f"{self.path}: cannot switch to WAL mode (got {mode})")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            with self._transaction():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('format_version', ?)",
                    (FORMAT_VERSION,),
                )
            found = self._db.execute(
                "SELECT value FROM meta WHERE key = 'format_version'"
            ).fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise EventLogError(f"{self.path}: not a usable event log ({exc})") from exc
        if found != FORMAT_VERSION:
            raise EventLogError(
                f"{self.path}: event log format {found}, this code reads {FORMAT_VERSION}"
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def append(self, records: Sequence[LogRecord]) -> AppendResult:
        """Append records durably; records whose event_id is already in the log are skipped.

        Group commit: appends from threads that arrive while a commit is on disk wait and go
        together into the next transaction, so concurrent requests share one fsync. Each caller
        returns only once its own records are committed (or raises if that commit failed).
        """
        if not records:
            return AppendResult(0, 0)
        ticket = _Ticket(records)
        with self._queue_lock:
            self._queue.append(ticket)
        with self._commit_lock:
            if not ticket.done:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._commit_group(group)
        if ticket.error is not None:
            raise ticket.error
        assert ticket.result is not None
        return ticket.result

    def _commit_group(self, group: list[_Ticket]) -> None:
        now = int(time.time() * 1000)
        results: list[AppendResult] = []
        try:
            with self._lock, self._transaction():
                for ticket in group:
                    before = self._db.total_changes
                    self._db.executemany(
                        # ON CONFLICT, not INSERT OR IGNORE: only a repeated event_id is skipped;
                        # any other constraint failure raises instead of passing as a duplicate.
                        "INSERT INTO events(event_id, partition_key, data, appended_at)"
                        " VALUES (?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING",
                        [(r.event_id, r.partition_key, r.data, now) for r in ticket.records],
                    )
                    appended = self._db.total_changes - before
                    results.append(AppendResult(appended, len(ticket.records) - appended))
        except BaseException as exc:
            for ticket in group:
                ticket.error = exc
                ticket.done = True
            if not isinstance(exc, Exception):
                raise
            return
        for ticket, result in zip(group, results, strict=True):
            ticket.result = result
            ticket.done = True

    def read(self, after: int = 0, limit: int = 1000) -> list[LogEntry]:
        """Records with position > after, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT position, event_id, partition_key, data, appended_at FROM events"
                " WHERE position > ? ORDER BY position LIMIT ?",
                (after, limit),
            ).fetchall()
        # sqlite3 returns BLOBs as bytes already: the rows are the entries' fields, in order.
        return list(map(LogEntry._make, rows))

    def read_joined(
        self, after: int = 0, limit: int = 1000, *, separator: bytes = b"\n"
    ) -> JoinedRecords:
        """The data of the records `read` would return, as one bytes object: joined by
        `separator` inside SQLite, with no Python object per record (for consumers that hand a
        batch to a bulk reader, e.g. newline-delimited JSON to DuckDB). Only the first and last
        positions and the count come with it; a record whose data holds the separator makes the
        parts ambiguous, so that choice is the caller's (stored JSON is one line)."""
        with self._lock:
            row = self._db.execute(_JOINED_SQL, (separator, after, limit)).fetchone()
        count, first, last, data = row
        if not count:
            return JoinedRecords(0, 0, 0, b"")
        return JoinedRecords(int(first), int(last), int(count), bytes(data))

    def last_position(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT MAX(position) FROM events").fetchone()
        return int(row[0] or 0)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def checkpoint(self, consumer: str) -> int:
        """The last position `consumer` committed (0 when it has not started)."""
        with self._lock:
            row = self._db.execute(
                "SELECT position FROM checkpoints WHERE consumer = ?", (consumer,)
            ).fetchone()
        return int(row[0]) if row else 0

    def commit(self, consumer: str, position: int) -> None:
        """Record that `consumer` has durably processed everything up to `position`."""
        if position < 0:
            raise ValueError("position must be >= 0")
        now = int(time.time() * 1000)
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO checkpoints(consumer, position, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(consumer) DO UPDATE SET position = excluded.position,"
                " updated_at = excluded.updated_at",
                (consumer, position, now),
            )

    def consumers(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT consumer, position FROM checkpoints").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def consume_batch(
    log: EventLog,
    consumer: str,
    handle: Callable[[list[LogEntry]], None],
    *,
    limit: int = 1000,
) -> int:
    """Give `handle` the next records after `consumer`'s checkpoint, then move the checkpoint.

    Delivery is at least once: if the process dies after `handle` returned but before the commit,
    the same records come again, so `handle` must be idempotent (every record has its event_id).
    If `handle` raises, the checkpoint stays and the error propagates. Returns the record count.
    """
    entries = log.read(after=log.checkpoint(consumer), limit=limit)
    if entries:
        handle(entries)
        log.commit(consumer, entries[-1].position)
    return len(entries)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error (the connection runs in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
