"""The event log as the lake reads it: a batch's records one by one, and the unflushed tail.

The writer reads the log in batches of joined text (`EventLog.read_joined`, no Python object per
record); only its Python path, for a batch DuckDB could not take, needs each record and the time
the log stored it (`reread`). Readers of sessions add the log's *tail* to the lake's files: the
records after the lake's newest commit marker, which the writer has not flushed yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from qos_lake.adapters.arrow import to_table
from qos_shared.eventlog import EventLog, JoinedRecords, LogEntry

_READ_BATCH = 20_000


def reread(log: EventLog, batch: JoinedRecords) -> tuple[list[dict[str, Any]], list[int], int]:
    """(the batch's records that are JSON objects, the log time of each, how many were not)."""
    entries = log.read(after=batch.first_position - 1, limit=batch.record_count)
    found = (entries[0].position, entries[-1].position, len(entries)) if entries else None
    if found != (batch.first_position, batch.last_position, batch.record_count):
        raise RuntimeError(f"log records {batch.first_position}..{batch.last_position} changed")
    records: list[dict[str, Any]] = []
    appended_at: list[int] = []
    unreadable = 0
    for entry in entries:
        try:
            record = orjson.loads(entry.data)
        except orjson.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            unreadable += 1  # ingest stores only objects; say so, do not stall
            continue
        records.append(record)
        appended_at.append(entry.appended_at)
    return records, appended_at, unreadable


@dataclass(frozen=True, slots=True)
class Tail:
    table: pa.Table  # the lake schema: the same columns as a lake file
    truncated: bool  # the log holds more than `cap` records past the commit


def _batches(log: EventLog, after: int, last: int) -> Iterator[list[LogEntry]]:
    position = after
    while position < last:
        entries = log.read(after=position, limit=_READ_BATCH)
        if not entries:
            return
        yield [e for e in entries if e.position <= last]
        position = entries[-1].position


def read_tail(
    log: EventLog, committed: int, cap: int, schema: pa.Schema, session_id: str | None = None
) -> Tail:
    """The records after `committed` (the newest `cap` at most; one session's when given)."""
    last = log.last_position()
    after = max(committed, last - cap)
    records: list[dict[str, Any]] = []
    for entries in _batches(log, after, last):
        for entry in entries:
            if session_id is not None and entry.partition_key != session_id:
                continue
            try:
                record = orjson.loads(entry.data)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and (
                session_id is None or record.get("session_id") == session_id
            ):
                records.append(record)
    return Tail(to_table(records, schema).table, after > committed)
