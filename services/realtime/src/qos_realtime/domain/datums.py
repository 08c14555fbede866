"""Turns window rows into CloudWatch metric data: names, units, dimensions, timestamps, values.

The rules, in the order they are applied to each row:

- provisional rows (`final` false) are never published: CloudWatch adds data up, it can't replace a
  window's value by a later one;
- rows whose window CloudWatch would refuse (starting more than 14 days ago or more than 2 hours
  ahead) are skipped rather than failing the whole call;
- dimensions: `ClientPlatform=<value>` for client_platform rows, none for the "all" rows (so the
  dimensionless metric is the total over every viewer), `Channel=<value>` only for channels in the
  configured allow-list (others are skipped: CloudWatch bills per metric, one per channel),
  plus `Rendition=<split>` for share rows;
- percentile rows are skipped: their distribution row publishes the values instead (see
  `naming`), so p50/p90/p95 in CloudWatch are real percentiles across viewers and windows;
- a row without a value (a ratio over nothing) publishes nothing;
- means and ratios whose row carries its aggregates (the Flink job's) are published as statistic
  sets, `Sum` = the value x the denominator (the numerator in the metric's unit), `SampleCount`
  = the denominator, `Minimum` = `Maximum` = the value: CloudWatch's `Average` over any period
  is then the ratio of the summed numerators to the summed denominators, the metric over every
  record of the period, rather than an unweighted mean of windows. Counts and sums are values,
  read with `Sum`. A row without aggregates (the local engine's) is sent as its value;
- correction rows (`correction` true: deltas of late records for a closed window, see
  `qos_realtime.domain.rows`) are sent the same way at the window's timestamp, so CloudWatch
  adds them to the window's final datums: `Sum` and `Average` over the period then equal the
  value over all records (a count or sum delta of zero is not sent; a mean or ratio delta
  over a zero denominator neither, it would change nothing). Distribution corrections are
  values like any distribution row's;
- client_platform rows of the original five metrics also publish their legacy name
  (`STARTUP_TIME`, ...) with the `ClientPlatform` dimension, in the legacy namespace.

The timestamp of every datum is the window start. A distribution's values are scaled to the
metric's unit (ms -> s) and split into datums of at most 150 values with the same name,
dimensions and timestamp, which CloudWatch merges.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from qos_realtime.domain.distributions import DistributionRow
from qos_realtime.domain.naming import (
    CHANNEL,
    CLIENT_PLATFORM,
    DEFAULT_NAMESPACE,
    DISTRIBUTIONS,
    PUBLISHED,
    RENDITION,
)
from qos_realtime.domain.rows import MetricRow

# PutMetricData's limits.
MAX_VALUES_PER_DATUM = 150
MAX_DIMENSIONS = 30
MAX_DIMENSION_VALUE_LENGTH = 1024
# CloudWatch rejects magnitudes outside this range (zero excepted).
MIN_MAGNITUDE = 8.515920e-109
MAX_MAGNITUDE = 1.174271e108
# CloudWatch accepts timestamps from two weeks back to two hours ahead; the margins leave room for
# the time a call waits in retries.
MAX_AGE_MS = (14 * 24 - 1) * 3600 * 1000
MAX_AHEAD_MS = (2 * 60 - 10) * 60 * 1000
STANDARD_RESOLUTION = 60

Dimensions = tuple[tuple[str, str], ...]  # a datum's dimensions: (name, value) pairs, in order


class SkipReason(StrEnum):
    PROVISIONAL = "provisional"
    OUT_OF_TIME_RANGE = "out_of_time_range"
    CHANNEL_NOT_ALLOWED = "channel_not_allowed"
    BAD_DIMENSION = "bad_dimension"
    PERCENTILE_ROW = "percentile_row"
    UNKNOWN_METRIC = "unknown_metric"
    NO_VALUE = "no_value"
    NO_CHANGE = "no_change"  # a correction that changes nothing


@dataclass(frozen=True, slots=True)
class StatisticSet:
    """PutMetricData's StatisticValues: samples already aggregated, which CloudWatch combines
    with the other data of the metric (Sum and SampleCount add up)."""

    sample_count: float
    sum: float
    minimum: float
    maximum: float

    def __post_init__(self) -> None:
        if not self.sample_count > 0 or self.minimum > self.maximum:
            raise ValueError("a statistic set has a positive sample count and minimum <= maximum")

    def to_api(self) -> dict[str, float]:
        return {
            "SampleCount": self.sample_count,
            "Sum": self.sum,
            "Minimum": self.minimum,
            "Maximum": self.maximum,
        }


@dataclass(frozen=True, slots=True)
class MetricDatum:
    """One entry of PutMetricData's MetricData (within one namespace)."""

    namespace: str
    name: str
    unit: str
    timestamp_ms: int
    dimensions: Dimensions = ()
    value: float | None = None
    values: tuple[float, ...] = ()
    counts: tuple[float, ...] = ()
    storage_resolution: int = STANDARD_RESOLUTION
    statistics: StatisticSet | None = None

    def __post_init__(self) -> None:
        forms = (self.value is not None) + bool(self.values) + (self.statistics is not None)
        if forms != 1:
            raise ValueError(f"{self.name}: a datum has one of a value, values, statistics")
        if len(self.values) != len(self.counts) or len(self.values) > MAX_VALUES_PER_DATUM:
            raise ValueError(f"{self.name}: values and counts pair up, at most 150 of them")
        if len(self.dimensions) > MAX_DIMENSIONS:
            raise ValueError(f"{self.name}: more than {MAX_DIMENSIONS} dimensions")

    def to_api(self) -> dict[str, Any]:
        """The datum as boto3's `put_metric_data(MetricData=[...])` takes it."""
        datum: dict[str, Any] = {
            "MetricName": self.name,
            "Timestamp": datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC),
            "Unit": self.unit,
            "StorageResolution": self.storage_resolution,
        }
        if self.dimensions:
            datum["Dimensions"] = [{"Name": n, "Value": v} for n, v in self.dimensions]
        if self.value is not None:
            datum["Value"] = self.value
        elif self.statistics is not None:
            datum["StatisticValues"] = self.statistics.to_api()
        else:
            datum["Values"] = list(self.values)
            datum["Counts"] = list(self.counts)
        return datum


@dataclass(frozen=True, slots=True)
class PublisherConfig:
    namespace: str = DEFAULT_NAMESPACE
    # Where the original five names go; None: the same namespace. The original sample's dashboards
    # read `<its stack name>-QoS/PlayerSummary`.
    legacy_namespace: str | None = None
    legacy_metrics: bool = True
    channels: frozenset[str] = field(default_factory=frozenset)

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every namespace this configuration publishes to (for IAM conditions)."""
        legacy = self.legacy_namespace or self.namespace
        if not self.legacy_metrics or legacy == self.namespace:
            return (self.namespace,)
        return (self.namespace, legacy)


@dataclass(frozen=True, slots=True)
class Translation:
    datums: tuple[MetricDatum, ...] = ()
    skipped: SkipReason | None = None


def translate(
    row: MetricRow | DistributionRow, config: PublisherConfig, *, now_ms: int
) -> Translation:
    """The metric data one row publishes, or why it publishes none."""
    if not row.final:
        return Translation(skipped=SkipReason.PROVISIONAL)
    if not now_ms - MAX_AGE_MS <= row.window_start <= now_ms + MAX_AHEAD_MS:
        return Translation(skipped=SkipReason.OUT_OF_TIME_RANGE)
    dimensions = _dimensions(row, config)
    if isinstance(dimensions, SkipReason):
        return Translation(skipped=dimensions)
    if isinstance(row, DistributionRow):
        return _distribution(row, dimensions, config)
    return _single(row, dimensions, config)


def _dimensions(
    row: MetricRow | DistributionRow, config: PublisherConfig
) -> Dimensions | SkipReason:
    if row.dimension == "all":
        return ()
    value = row.dimension_value
    if not value or len(value) > MAX_DIMENSION_VALUE_LENGTH:
        return SkipReason.BAD_DIMENSION
    if row.dimension == "client_platform":
        return ((CLIENT_PLATFORM, value),)
    if row.dimension == "channel_watched":
        if value not in config.channels:
            return SkipReason.CHANNEL_NOT_ALLOWED
        return ((CHANNEL, value),)
    return SkipReason.BAD_DIMENSION


def _single(row: MetricRow, dimensions: Dimensions, config: PublisherConfig) -> Translation:
    published = PUBLISHED.get(row.metric)
    if published is None:
        return Translation(skipped=SkipReason.UNKNOWN_METRIC)
    if published.distribution:
        return Translation(skipped=SkipReason.PERCENTILE_ROW)
    value = _cloudwatch_value(row.value)
    if value is None:
        return Translation(skipped=SkipReason.NO_VALUE)
    statistics: StatisticSet | None = None
    if published.kind in ("mean", "ratio") and row.denominator is not None:
        statistics = _statistic_set(value, row.denominator)
        if statistics is None:
            return Translation(skipped=SkipReason.NO_VALUE)
    elif row.correction and value == 0.0:
        return Translation(skipped=SkipReason.NO_CHANGE)
    if published.kind == "share":
        if not row.split or len(row.split) > MAX_DIMENSION_VALUE_LENGTH:
            return Translation(skipped=SkipReason.BAD_DIMENSION)
        dimensions = (*dimensions, (RENDITION, row.split))
    names = [(config.namespace, published.name)]
    if config.legacy_metrics and published.legacy_name and row.dimension == "client_platform":
        names.append((config.legacy_namespace or config.namespace, published.legacy_name))
    return Translation(
        datums=tuple(
            MetricDatum(
                namespace,
                name,
                published.unit,
                row.window_start,
                dimensions,
                value=None if statistics else value,
                statistics=statistics,
            )
            for namespace, name in names
        )
    )


def _statistic_set(value: float, denominator: float) -> StatisticSet | None:
    """A mean's or ratio's value over `denominator` samples, as a statistic set (None if
    CloudWatch can't take it)."""
    samples = _cloudwatch_value(denominator)
    total = _cloudwatch_value(value * denominator)
    if samples is None or total is None or samples <= 0:
        return None
    return StatisticSet(sample_count=samples, sum=total, minimum=value, maximum=value)


def _distribution(
    row: DistributionRow, dimensions: Dimensions, config: PublisherConfig
) -> Translation:
    metric = DISTRIBUTIONS.get(row.source)
    if metric is None:
        return Translation(skipped=SkipReason.UNKNOWN_METRIC)
    pairs: list[tuple[float, float]] = []
    for raw, count in zip(row.values, row.counts, strict=True):
        value = _cloudwatch_value(raw * metric.scale)
        if value is not None and count > 0:
            pairs.append((value, float(count)))
    if not pairs:
        return Translation(skipped=SkipReason.NO_VALUE)
    datums = tuple(
        MetricDatum(
            namespace=config.namespace,
            name=metric.name,
            unit=metric.unit,
            timestamp_ms=row.window_start,
            dimensions=dimensions,
            values=tuple(v for v, _ in chunk),
            counts=tuple(c for _, c in chunk),
        )
        for chunk in _chunks(pairs, MAX_VALUES_PER_DATUM)
    )
    return Translation(datums=datums)


def _chunks(items: Sequence[tuple[float, float]], size: int) -> list[Sequence[tuple[float, float]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _cloudwatch_value(value: float | None) -> float | None:
    """The value as CloudWatch accepts it, or None if it can't be sent."""
    if value is None or not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        return None
    # Below CloudWatch's smallest magnitude the value is zero for every purpose of a dashboard.
    return 0.0 if abs(value) < MIN_MAGNITUDE else float(value)
