"""Split records into API calls that respect a service's count and byte limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from qos_ingest.adapters import SinkRecord

T = TypeVar("T")


def batches(
    items: Sequence[tuple[T, SinkRecord]],
    *,
    max_records: int,
    max_bytes: int,
    record_size: Callable[[SinkRecord], int],
) -> Iterator[list[tuple[T, SinkRecord]]]:
    """Greedy, order-preserving split; every item must fit `max_bytes` on its own."""
    current: list[tuple[T, SinkRecord]] = []
    size = 0
    for item in items:
        item_size = record_size(item[1])
        if current and (len(current) == max_records or size + item_size > max_bytes):
            yield current
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        yield current
