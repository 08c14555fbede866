"""How each catalogue metric appears in CloudWatch: metric name, unit, and the statistic to read it.

Names are the catalogue names in CamelCase (`video_start_failure` -> `VideoStartFailure`), with the
catalogue's `cloudwatch_unit`. Percentile metrics are not published one by one: the metrics that
read the same values (`startup_time_p50`, `_p90`, `_p95`) become one distribution under their
common base name (`StartupTime`), published as `Values`/`Counts`, and each is read back with its
percentile statistic (`p95`). A mean metric whose name would clash with a distribution's
(`startup_time`, the original's STARTUP_TIME) gets the suffix `Mean` (`StartupTimeMean`): the
distribution's own `Average` is the same mean up to the distribution's grid error.

The original sample's five metrics are also published under their old names (`legacy_name`,
e.g. `STARTUP_TIME`), per `ClientPlatform` only, as the old dashboards read them.

The dashboard and the alarms of the CDK stack are generated from `PUBLISHED` and `DISTRIBUTIONS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qos_realtime.domain.distributions import distribution_sources
from qos_shared.catalogue import CATALOGUE, LATE_EVENTS, CloudWatchUnit, Field, Metric, MetricKind

DEFAULT_NAMESPACE = "IVS/QoS"

# CloudWatch dimension names, one per group dimension of the window rows.
CLIENT_PLATFORM = "ClientPlatform"
CHANNEL = "Channel"
RENDITION = "Rendition"  # the split of share metrics (rendition_share)

_PERCENTILE_SUFFIX = re.compile(r"_p\d+$")
_MEAN_SUFFIX = "Mean"


def camel_case(name: str) -> str:
    """`video_start_failure` -> `VideoStartFailure`."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def percentile_statistic(quantile: float) -> str:
    """CloudWatch's statistic name for a quantile: 0.95 -> `p95`, 0.999 -> `p99.9`."""
    return f"p{round(quantile * 100, 6):g}"


@dataclass(frozen=True, slots=True)
class DistributionMetric:
    """One CloudWatch metric published as Values/Counts from `DistributionRow`s of `source`."""

    source: str  # the event field, e.g. startup_latency_ms
    name: str  # e.g. StartupTime
    title: str  # e.g. Video startup time
    unit: CloudWatchUnit
    scale: float  # raw source unit -> `unit` (1/1000 for ms -> Seconds)
    percentiles: tuple[str, ...]  # the catalogue's statistics on it, e.g. (p50, p90, p95)
    metrics: tuple[str, ...]  # the catalogue metrics it stands for
    higher_is_better: bool | None


@dataclass(frozen=True, slots=True)
class PublishedMetric:
    """Where the value of one catalogue metric (or `late_events`) lives in CloudWatch."""

    metric: str  # the catalogue name
    name: str  # the CloudWatch metric name
    title: str
    unit: CloudWatchUnit
    statistic: str  # reads one window's value back: Sum for counts, pNN for percentiles, ...
    kind: MetricKind | None  # None for late_events, which no catalogue formula defines
    distribution: bool  # True: published as Values/Counts from distribution rows
    legacy_name: str | None = None
    higher_is_better: bool | None = None


def _distributions() -> dict[str, DistributionMetric]:
    by_source: dict[str, list[Metric]] = {}
    for metric in CATALOGUE:
        if metric.kind == "percentile":
            assert isinstance(metric.numerator.value, Field)
            by_source.setdefault(metric.numerator.value.name, []).append(metric)
    assert set(by_source) == set(distribution_sources())

    distributions: dict[str, DistributionMetric] = {}
    for source, metrics in by_source.items():
        bases = {_PERCENTILE_SUFFIX.sub("", m.name) for m in metrics}
        titles = {re.sub(r"\s+p\d+$", "", m.title) for m in metrics}
        units = {(m.cloudwatch_unit, m.scale, m.higher_is_better) for m in metrics}
        if len(bases) != 1 or len(units) != 1:
            raise ValueError(f"percentile metrics of {source} disagree on name, unit or scale")
        unit, scale, higher_is_better = units.pop()
        distributions[source] = DistributionMetric(
            source=source,
            name=camel_case(bases.pop()),
            title=min(titles),
            unit=unit,
            scale=scale,
            percentiles=tuple(
                percentile_statistic(m.quantile) for m in metrics if m.quantile is not None
            ),
            metrics=tuple(m.name for m in metrics),
            higher_is_better=higher_is_better,
        )
    return distributions


def _statistic(metric: Metric) -> str:
    if metric.kind == "percentile":
        assert metric.quantile is not None
        return percentile_statistic(metric.quantile)
    # Counts and sums add up over windows shorter than a CloudWatch period; the others don't.
    return "Sum" if metric.kind in ("count", "sum") else "Average"


def _published(distributions: dict[str, DistributionMetric]) -> dict[str, PublishedMetric]:
    distribution_of = {m: d for d in distributions.values() for m in d.metrics}
    distribution_names = {d.name for d in distributions.values()}
    published: dict[str, PublishedMetric] = {}
    for metric in CATALOGUE:
        distribution = distribution_of.get(metric.name)
        if distribution is not None:
            name = distribution.name
        else:
            name = camel_case(metric.name)
            if name in distribution_names:
                if metric.kind != "mean":
                    raise ValueError(f"{metric.name}: CloudWatch name {name} is a distribution's")
                name += _MEAN_SUFFIX
        published[metric.name] = PublishedMetric(
            metric=metric.name,
            name=name,
            title=metric.title,
            unit=metric.cloudwatch_unit,
            statistic=_statistic(metric),
            kind=metric.kind,
            distribution=distribution is not None,
            legacy_name=metric.legacy_name,
            higher_is_better=metric.higher_is_better,
        )
    published[LATE_EVENTS] = PublishedMetric(
        metric=LATE_EVENTS,
        name=camel_case(LATE_EVENTS),
        title="Late events",
        unit="Count",
        statistic="Sum",
        kind=None,
        distribution=False,
        higher_is_better=False,
    )
    single = [p.name for p in published.values() if not p.distribution]
    if len(single) != len(set(single)):
        raise ValueError(f"two catalogue metrics share a CloudWatch name: {sorted(single)}")
    return published


# Keyed by source field (e.g. startup_latency_ms).
DISTRIBUTIONS: dict[str, DistributionMetric] = _distributions()
# Keyed by catalogue metric name, plus `late_events`.
PUBLISHED: dict[str, PublishedMetric] = _published(DISTRIBUTIONS)
# The original sample's five names, in the catalogue's order.
LEGACY: dict[str, PublishedMetric] = {
    p.legacy_name: p for p in PUBLISHED.values() if p.legacy_name is not None
}


def series_count(*, platforms: int, channels: int, renditions: int, legacy_metrics: bool) -> int:
    """How many CloudWatch metrics (a name and a dimension set, what CloudWatch bills) the
    publisher creates, by `datums`' rules: each published name (distributions once) with no
    dimension, per `ClientPlatform` value and per allowed `Channel`; share metrics once more per
    `Rendition`; the original five names per `ClientPlatform` when `legacy_metrics`."""
    if min(platforms, channels, renditions) < 0:
        raise ValueError("platforms, channels and renditions must be at least 0")
    groups = 1 + platforms + channels
    single = {p.name: p for p in PUBLISHED.values() if not p.distribution}
    total = sum(groups * (renditions if p.kind == "share" else 1) for p in single.values())
    total += groups * len(DISTRIBUTIONS)
    if legacy_metrics:
        total += platforms * len(LEGACY)
    return total
