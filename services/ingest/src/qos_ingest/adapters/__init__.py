"""The sink port: where accepted events are durably handed over (stream, delivery stream, log).

A sink never raises for a downstream failure: it retries what it can and returns, per record, what
still failed. Ingest acknowledges only the records that did not fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SinkRecord:
    event_id: str
    partition_key: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SinkFailure:
    index: int  # position in the list given to `put`
    reason: str


@dataclass(slots=True)
class PutOutcome:
    failures: list[SinkFailure] = field(default_factory=list)
    retried_records: int = 0  # records sent again after a partial or throttled failure
    duplicates: int = 0  # records the sink already had (same event_id), acknowledged all the same


class EventSink(Protocol):
    name: str

    def put(self, records: Sequence[SinkRecord]) -> PutOutcome: ...
