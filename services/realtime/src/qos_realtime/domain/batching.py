"""Splits metric data into PutMetricData calls within CloudWatch's limits (count, bytes, namespace).

A call carries one namespace, at most 1,000 datums and at most 1 MB of request. The request size
is bounded by `encoded_size`, the datum's size in the query protocol (form-encoded
`MetricData.member.N.Values.member.M=...` pairs), the most verbose of the encodings botocore uses
for CloudWatch, so the bound holds whichever one it picks.

Each datum travels with a tag of the caller's choosing (the Kinesis record it came from), so a
failed call can be traced back to what must be retried.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from qos_realtime.domain.datums import MetricDatum

MAX_DATUMS_PER_CALL = 1000
MAX_REQUEST_BYTES = 1_000_000  # CloudWatch's limit is 1 MB per PutMetricData request

# `MetricData.member.1000.` and `Values.member.150=` at their widest.
_MEMBER = len("MetricData.member.1000.")
_ITEM = len(".member.150=")
_PAIR_SEPARATOR = 1  # the `&`
_ENVELOPE = len("Action=PutMetricData&Version=2010-08-01&Namespace=")
_TIMESTAMP = len("2024-01-01T00%3A00%3A00.000000Z")

T = TypeVar("T")


def _field(key: str, value: str) -> int:
    return _MEMBER + len(key) + 1 + len(quote(value, safe="")) + _PAIR_SEPARATOR


def encoded_size(datum: MetricDatum) -> int:
    """An upper bound of the datum's bytes in a PutMetricData request."""
    size = _field("MetricName", datum.name) + _field("Unit", datum.unit)
    size += _MEMBER + len("Timestamp=") + _TIMESTAMP + _PAIR_SEPARATOR
    size += _field("StorageResolution", str(datum.storage_resolution))
    for index, (name, dimension_value) in enumerate(datum.dimensions, start=1):
        size += _field(f"Dimensions.member.{index}.Name", name)
        size += _field(f"Dimensions.member.{index}.Value", dimension_value)
    if datum.value is not None:
        size += _field("Value", repr(datum.value))
    if datum.statistics is not None:
        for key, number in datum.statistics.to_api().items():
            size += _field(f"StatisticValues.{key}", repr(number))
    for value, count in zip(datum.values, datum.counts, strict=True):
        size += _MEMBER + len("Values") + _ITEM + len(repr(value)) + _PAIR_SEPARATOR
        size += _MEMBER + len("Counts") + _ITEM + len(repr(count)) + _PAIR_SEPARATOR
    return size


def envelope_size(namespace: str) -> int:
    return _ENVELOPE + len(quote(namespace, safe="")) + _PAIR_SEPARATOR


@dataclass(frozen=True, slots=True)
class PutMetricDataCall(Generic[T]):
    """One PutMetricData request: a namespace and its datums, each with the caller's tag."""

    namespace: str
    items: tuple[tuple[T, MetricDatum], ...]

    @property
    def datums(self) -> tuple[MetricDatum, ...]:
        return tuple(datum for _, datum in self.items)

    @property
    def tags(self) -> tuple[T, ...]:
        return tuple(tag for tag, _ in self.items)

    def request(self) -> dict[str, Any]:
        """The keyword arguments of boto3's `put_metric_data`."""
        return {"Namespace": self.namespace, "MetricData": [d.to_api() for d in self.datums]}


def plan_calls(
    items: Iterable[tuple[T, MetricDatum]],
    *,
    max_datums: int = MAX_DATUMS_PER_CALL,
    max_bytes: int = MAX_REQUEST_BYTES,
) -> list[PutMetricDataCall[T]]:
    """Greedy, order-preserving split: namespaces in order of first appearance, then datums."""
    by_namespace: dict[str, list[tuple[T, MetricDatum]]] = {}
    for tag, datum in items:
        by_namespace.setdefault(datum.namespace, []).append((tag, datum))
    return [
        PutMetricDataCall(namespace, tuple(batch))
        for namespace, group in by_namespace.items()
        for batch in _batches(group, envelope_size(namespace), max_datums, max_bytes)
    ]


def _batches(
    items: list[tuple[T, MetricDatum]], envelope: int, max_datums: int, max_bytes: int
) -> Iterator[list[tuple[T, MetricDatum]]]:
    current: list[tuple[T, MetricDatum]] = []
    size = envelope
    for item in items:
        item_size = encoded_size(item[1])
        if envelope + item_size > max_bytes:
            # Unreachable with CloudWatch's limits (150 values, 30 dimensions make ~30 KB).
            raise ValueError(f"{item[1].name}: one datum exceeds {max_bytes} bytes")
        if current and (len(current) == max_datums or size + item_size > max_bytes):
            yield current
            current, size = [], envelope
        current.append(item)
        size += item_size
    if current:
        yield current
