"""The dead-letter stores: records OpenSearch rejected (or that could not be read), with why.

Locally a SQLite table beside the event log (`DeadLetterStore`); on AWS one object per letter in
the stack's failed-documents bucket (`S3DeadLetterStore`). A record parked here is never retried
automatically (its rejection is permanent: a mapping conflict, a malformed document), but it is
never lost either: `qos-search-indexer dead-letters` lists the local ones, and the whole record
is kept to re-send after a fix. Keyed by log position (`domain.deadletter`; on AWS the Kinesis
sequence number), so a batch replayed after a crash parks it once.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from qos_search_indexer.domain.deadletter import DeadLetter

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    position  INTEGER PRIMARY KEY,
    event_id  TEXT    NOT NULL,
    index_name TEXT,
    status    INTEGER,
    reason    TEXT    NOT NULL,
    document  BLOB    NOT NULL,
    parked_at INTEGER NOT NULL
)
"""


class DeadLetterStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    def park(self, letters: Iterable[DeadLetter]) -> int:
        rows = [
            (d.position, d.event_id, d.index_name, d.status, d.reason, d.document) for d in letters
        ]
        if not rows:
            return 0
        now = int(time.time() * 1000)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO dead_letters"
                    "(position, event_id, index_name, status, reason, document, parked_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(position) DO UPDATE SET reason = excluded.reason,"
                    " status = excluded.status, parked_at = excluded.parked_at",
                    [(*row, now) for row in rows],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return len(rows)

    def list(self, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            rows = self._db.execute(
                "SELECT position, event_id, index_name, status, reason, document"
                " FROM dead_letters ORDER BY position LIMIT ?",
                (limit,),
            ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class ObjectPutter(Protocol):
    """What the S3 store needs of a boto3 S3 client."""

    def put_object(self, **kwargs: Any) -> Any: ...


class S3DeadLetterStore:
    """The dead-letter store of the Lambda: one JSON object per letter in a bucket, under
    `<prefix><position>.json` (the Kinesis sequence number), so a batch delivered again writes
    the same keys and parks each record once, as the SQLite store's primary key does locally.

    The object holds the reason, OpenSearch's status, the index and the whole record: `document`
    when it is UTF-8 text, else `document_base64`.
    """

    def __init__(self, client: ObjectPutter, bucket: str, prefix: str = "dead-letters/") -> None:
        if not bucket:
            raise ValueError("the dead-letter bucket's name is empty")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def key(self, letter: DeadLetter) -> str:
        return f"{self.prefix}{letter.position}.json"

    def park(self, letters: Iterable[DeadLetter]) -> int:
        parked = 0
        now = int(time.time() * 1000)
        for letter in letters:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key(letter),
                Body=letter_json(letter, parked_at=now),
                ContentType="application/json",
            )
            parked += 1
        return parked


def letter_json(letter: DeadLetter, *, parked_at: int) -> bytes:
    """A dead letter as one JSON object (the S3 store's object body)."""
    body: dict[str, Any] = {
        "position": str(letter.position),
        "event_id": letter.event_id,
        "index": letter.index_name,
        "status": letter.status,
        "reason": letter.reason,
        "parked_at": parked_at,
    }
    try:
        body["document"] = letter.document.decode("utf-8")
    except UnicodeDecodeError:
        body["document_base64"] = base64.b64encode(letter.document).decode("ascii")
    return json.dumps(body).encode()
