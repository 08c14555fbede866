"""Sink adapter for the local event log (SQLite, WAL): the laptop's stream."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from qos_ingest.adapters import PutOutcome, SinkFailure, SinkRecord
from qos_shared.eventlog import EventLog, LogRecord


class LocalLogSink:
    """Appends records in one durable transaction; a record already in the log counts as stored."""

    name = "local"

    def __init__(self, log: EventLog) -> None:
        self.log = log

    def put(self, records: Sequence[SinkRecord]) -> PutOutcome:
        try:
            result = self.log.append(
                [LogRecord(r.event_id, r.partition_key, r.data) for r in records]
            )
        except sqlite3.Error as exc:
            # Disk full, locked past the busy timeout, I/O error: nothing was committed.
            reason = f"local event log unavailable: {exc}"
            return PutOutcome(failures=[SinkFailure(i, reason) for i in range(len(records))])
        return PutOutcome(duplicates=result.duplicates)
