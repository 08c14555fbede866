"""Reads one record of the metric-row stream: a `MetricRow` or a `DistributionRow`, as JSON.

Both row types share the stream (one JSON object per record). A distribution row is recognised by
a non-null `source`, a metric row by its `metric` key (the Flink job's rows have both keys, the
other type's null: its sink has the columns of both). Field types are checked here, at the edge,
so that a bad record is reported as malformed with a reason instead of failing later; keys beyond
the row's fields are ignored, so a producer may add fields before the publisher knows them.
"""

from __future__ import annotations

import math
from typing import Any, TypedDict, cast

import orjson

from qos_realtime.domain.distributions import DistributionRow
from qos_realtime.domain.rows import GROUP_DIMENSIONS, GroupDimension, MetricRow


class MalformedRow(ValueError):
    """A record that is not a row this publisher can read; the message says why."""


def parse_row(data: bytes | str) -> MetricRow | DistributionRow:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedRow(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise MalformedRow(f"expected a JSON object, got {type(obj).__name__}")
    if obj.get("source") is not None:
        return _distribution_row(obj)
    if "metric" in obj:
        return _metric_row(obj)
    raise MalformedRow("neither a metric row (no `metric`) nor a distribution row (no `source`)")


def _metric_row(obj: dict[str, Any]) -> MetricRow:
    value, numerator, denominator = (_number(obj, k) for k in ("value", "numerator", "denominator"))
    return MetricRow(
        **_window_group(obj),
        metric=_string(obj, "metric"),
        value=value,
        split=_string(obj, "split", default=""),
        numerator=numerator,
        denominator=denominator,
        correction=_flag(obj, "correction", default=False),
    )


def _number(obj: dict[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is not None and not _is_number(value):
        raise MalformedRow(f"{key}: expected a number or null, got {value!r}")
    return None if value is None else float(value)


def _distribution_row(obj: dict[str, Any]) -> DistributionRow:
    values, counts = obj.get("values"), obj.get("counts")
    if not isinstance(values, list) or not all(_is_number(v) for v in values):
        raise MalformedRow("values: expected a list of numbers")
    if not isinstance(counts, list) or not all(_is_count(c) for c in counts):
        raise MalformedRow("counts: expected a list of positive integers")
    if len(values) != len(counts):
        raise MalformedRow(f"{len(values)} values but {len(counts)} counts")
    return DistributionRow(
        **_window_group(obj),
        source=_string(obj, "source"),
        values=[float(v) for v in values],
        counts=[int(c) for c in counts],
        correction=_flag(obj, "correction", default=False),
    )


class _WindowGroup(TypedDict):
    """The fields every row type has: its window, its group, and whether the window is closed."""

    window_start: int
    window_end: int
    dimension: GroupDimension
    dimension_value: str
    final: bool


def _window_group(obj: dict[str, Any]) -> _WindowGroup:
    return _WindowGroup(
        window_start=_epoch_ms(obj, "window_start"),
        window_end=_epoch_ms(obj, "window_end"),
        dimension=_dimension(obj),
        dimension_value=_string(obj, "dimension_value"),
        final=_flag(obj, "final"),
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _epoch_ms(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedRow(f"{key}: expected epoch milliseconds, got {value!r}")
    return value


def _string(obj: dict[str, Any], key: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        raise MalformedRow(f"{key}: expected a string, got {value!r}")
    return value


def _flag(obj: dict[str, Any], key: str, *, default: bool = True) -> bool:
    value = obj.get(key, default)
    if key == "correction" and value is None:  # a sink column the other row type leaves null
        return default
    if not isinstance(value, bool):
        raise MalformedRow(f"{key}: expected true or false, got {value!r}")
    return value


def _dimension(obj: dict[str, Any]) -> GroupDimension:
    value = obj.get("dimension")
    if value not in GROUP_DIMENSIONS:
        raise MalformedRow(f"dimension: expected one of {GROUP_DIMENSIONS}, got {value!r}")
    return cast(GroupDimension, value)
