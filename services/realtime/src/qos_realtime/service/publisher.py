"""The publisher's use case: stream records in, PutMetricData calls out, and what failed, by record.

Records are tagged by the caller (a Kinesis sequence number); the result says which tags could not
be published and why, so the caller can have exactly those retried. A malformed record is
reported, never failed: retrying it can only fail again. A record whose datums went into a call
that failed (after the sink's own retries) is failed, with the sink's reason.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from qos_realtime.domain.batching import PutMetricDataCall, plan_calls
from qos_realtime.domain.datums import MetricDatum, PublisherConfig, SkipReason, translate
from qos_realtime.domain.records import MalformedRow, parse_row

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class CallFailure:
    index: int  # into the calls given to the sink
    reason: str


@dataclass(slots=True)
class SinkOutcome:
    api_calls: int = 0  # requests made, retries included
    retries: int = 0
    failures: list[CallFailure] = field(default_factory=list)


class MetricDataSink(Protocol):
    def put(self, calls: Sequence[PutMetricDataCall[Any]]) -> SinkOutcome:
        """Make every call, retrying transient errors; report the calls that still failed."""
        ...


@dataclass(slots=True)
class Publication(Generic[K]):
    records: int = 0
    rows: int = 0
    malformed: dict[K, str] = field(default_factory=dict)
    skipped: Counter[SkipReason] = field(default_factory=Counter)
    datums: int = 0
    calls: int = 0
    datums_failed: int = 0
    api_calls: int = 0
    retries: int = 0
    failed: dict[K, str] = field(default_factory=dict)  # tag -> why its data was not published

    @property
    def datums_published(self) -> int:
        return self.datums - self.datums_failed


def epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class MetricPublisher:
    def __init__(
        self,
        config: PublisherConfig,
        sink: MetricDataSink,
        *,
        clock_ms: Callable[[], int] = epoch_ms,
    ) -> None:
        self.config = config
        self.sink = sink
        self._clock_ms = clock_ms

    def publish(self, records: Iterable[tuple[K, bytes]]) -> Publication[K]:
        result: Publication[K] = Publication()
        now_ms = self._clock_ms()
        items: list[tuple[K, MetricDatum]] = []
        for tag, data in records:
            result.records += 1
            try:
                row = parse_row(data)
            except MalformedRow as exc:
                result.malformed[tag] = str(exc)
                continue
            result.rows += 1
            translation = translate(row, self.config, now_ms=now_ms)
            if translation.skipped is not None:
                result.skipped[translation.skipped] += 1
            items.extend((tag, datum) for datum in translation.datums)

        calls = plan_calls(items)
        result.datums, result.calls = len(items), len(calls)
        if not calls:
            return result
        outcome = self.sink.put(calls)
        result.api_calls, result.retries = outcome.api_calls, outcome.retries
        for failure in outcome.failures:
            call = calls[failure.index]
            result.datums_failed += len(call.items)
            for tag in call.tags:
                result.failed.setdefault(tag, failure.reason)
        return result
