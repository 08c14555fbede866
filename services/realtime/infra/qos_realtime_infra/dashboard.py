"""The CloudWatch dashboard and alarms of the realtime KPIs, generated from the metric catalogue.

Every widget is derived from `qos_realtime.domain.naming` (itself derived from the catalogue)
and placed by the catalogue's presentation metadata, so a KPI added to the catalogue gets its
widget here with no edit:

1. the original sample's five widgets (the catalogue's `original_widget`s, in the original's
   order), per `ClientPlatform` as it drew them: Concurrent Users, Buffer Ratio, Errors, then
   Startup Time and Live Latency as p50/p90/p95 of their distributions (plus the mean), one small
   widget per platform;
2. every other KPI, for all viewers (the dimensionless metric) and per platform; rendition share
   by `Rendition`, found with a SEARCH expression since renditions aren't known in advance;
3. each distribution for all viewers, p50/p90/p95 and the mean.

Alarms watch the all-viewers metric of a catalogue KPI with the statistic that reads it (p95 for
`startup_time_p95`), breaching above the threshold when lower is better and below it otherwise;
the default thresholds are the catalogue's `alarm_threshold`s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import get_args

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw

from qos_realtime.domain.naming import (
    CLIENT_PLATFORM,
    DISTRIBUTIONS,
    PUBLISHED,
    RENDITION,
    DistributionMetric,
    PublishedMetric,
)
from qos_shared.catalogue import BY_NAME, Field, alarm_thresholds, original_widgets
from qos_shared.events import ClientPlatform

PLATFORMS: tuple[str, ...] = get_args(ClientPlatform)
PERIOD = Duration.minutes(1)
# Drawn for every distribution, on top of the percentiles the catalogue names.
DASHBOARD_PERCENTILES = ("p50", "p90", "p95")
# Catalogue metric -> alarm threshold, in the metric's CloudWatch unit (the catalogue's).
DEFAULT_ALARM_THRESHOLDS: dict[str, float] = alarm_thresholds()


def _metric(
    namespace: str,
    name: str,
    statistic: str,
    label: str,
    dimensions: Mapping[str, str] | None = None,
) -> cw.Metric:
    return cw.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map=dict(dimensions) if dimensions else None,
        statistic=statistic,
        period=PERIOD,
        label=label,
    )


def _percentiles(distribution: DistributionMetric) -> list[str]:
    wanted = set(DASHBOARD_PERCENTILES) | set(distribution.percentiles)
    return sorted(wanted, key=lambda stat: float(stat[1:]))


def _distribution_of(published: PublishedMetric) -> DistributionMetric | None:
    """The distribution of the same values as a mean metric (startup_time -> StartupTime)."""
    value = BY_NAME[published.metric].numerator.value if published.metric in BY_NAME else None
    if published.kind != "mean" or not isinstance(value, Field):
        return None
    return DISTRIBUTIONS.get(value.name)


def _distribution_lines(
    namespace: str,
    distribution: DistributionMetric,
    mean: PublishedMetric | None,
    dimensions: Mapping[str, str] | None,
) -> list[cw.IMetric]:
    lines: list[cw.IMetric] = [
        _metric(namespace, distribution.name, stat, stat, dimensions)
        for stat in _percentiles(distribution)
    ]
    if mean is not None:
        lines.append(_metric(namespace, mean.name, mean.statistic, "mean", dimensions))
    return lines


def _graph(title: str, lines: Sequence[cw.IMetric], unit: str, width: int) -> cw.GraphWidget:
    return cw.GraphWidget(
        title=title,
        left=list(lines),
        left_y_axis=cw.YAxisProps(label=unit, show_units=False, min=0),
        period=PERIOD,
        width=width,
        height=6,
        live_data=True,
    )


def _per_platform(
    namespace: str, published: PublishedMetric, *, all_viewers: bool
) -> list[cw.IMetric]:
    lines: list[cw.IMetric] = []
    if all_viewers:
        lines.append(_metric(namespace, published.name, published.statistic, "all viewers"))
    lines += [
        _metric(namespace, published.name, published.statistic, p, {CLIENT_PLATFORM: p})
        for p in PLATFORMS
    ]
    return lines


def _rendition_share(namespace: str, published: PublishedMetric) -> list[cw.IMetric]:
    search = (
        f"SEARCH('{{{namespace},{RENDITION}}} MetricName=\"{published.name}\"', "
        f"'{published.statistic}', {int(PERIOD.to_seconds())})"
    )
    return [cw.MathExpression(expression=search, label="", period=PERIOD)]


def dashboard_widgets(namespace: str) -> list[list[cw.IWidget]]:
    """The dashboard's rows of widgets, top to bottom."""
    rows: list[list[cw.IWidget]] = [
        [
            cw.TextWidget(
                markdown=(
                    f"# QoS realtime KPIs (`{namespace}`)\n"
                    "One point per event-time window. Startup time and live latency percentiles "
                    "are computed by CloudWatch from every viewer's value (Values/Counts), not "
                    "from per-window figures."
                ),
                width=24,
                height=2,
            )
        ]
    ]
    shown: set[str] = set()

    # 1. The original dashboard, per platform.
    simple: list[cw.IWidget] = []
    for title, metric in original_widgets():
        published = PUBLISHED[metric.name]
        shown.add(published.metric)
        distribution = _distribution_of(published)
        if distribution is None:
            simple.append(
                _graph(
                    title, _per_platform(namespace, published, all_viewers=False), published.unit, 8
                )
            )
            continue
        shown.update(distribution.metrics)
        rows.append(
            [
                _graph(
                    f"{title} - {platform}",
                    _distribution_lines(
                        namespace, distribution, published, {CLIENT_PLATFORM: platform}
                    ),
                    distribution.unit,
                    24 // len(PLATFORMS),
                )
                for platform in PLATFORMS
            ]
        )
    rows.insert(1, simple)

    # 2. Every other KPI, all viewers and per platform.
    others: list[cw.IWidget] = []
    for published in PUBLISHED.values():
        if published.metric in shown or published.distribution:
            continue
        lines = (
            _rendition_share(namespace, published)
            if published.kind == "share"
            else _per_platform(namespace, published, all_viewers=True)
        )
        others.append(_graph(published.title, lines, published.unit, 8))
    rows += [others[i : i + 3] for i in range(0, len(others), 3)]

    # 3. The distributions, all viewers.
    means = {d.source: p for p in PUBLISHED.values() if (d := _distribution_of(p)) is not None}
    rows.append(
        [
            _graph(
                f"{distribution.title} - all viewers",
                _distribution_lines(namespace, distribution, means.get(source), None),
                distribution.unit,
                12,
            )
            for source, distribution in DISTRIBUTIONS.items()
        ]
    )
    return rows


def check_alarm_thresholds(thresholds: Mapping[str, float]) -> dict[str, float]:
    unknown = sorted(set(thresholds) - set(PUBLISHED))
    if unknown:
        raise ValueError(
            f"alarm thresholds for unknown metrics {unknown}; known: {sorted(PUBLISHED)}"
        )
    bad = {name: t for name, t in thresholds.items() if not math.isfinite(float(t))}
    if bad:
        raise ValueError(f"alarm thresholds must be finite numbers: {bad}")
    return {name: float(t) for name, t in thresholds.items()}


def alarm_metric(namespace: str, metric_name: str) -> cw.Metric:
    """The all-viewers metric (no dimension) with the statistic that reads the KPI."""
    published = PUBLISHED[metric_name]
    return cw.Metric(
        namespace=namespace,
        metric_name=published.name,
        statistic=published.statistic,
        period=PERIOD,
    )


def comparison(metric_name: str) -> cw.ComparisonOperator:
    if PUBLISHED[metric_name].higher_is_better:
        return cw.ComparisonOperator.LESS_THAN_THRESHOLD
    return cw.ComparisonOperator.GREATER_THAN_THRESHOLD
