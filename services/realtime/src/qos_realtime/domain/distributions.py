"""Distribution rows: the values behind a window's percentiles, so CloudWatch can compute real ones.

A percentile `MetricRow` carries one number (say the window's p95 startup time for `web`), and
percentiles of such numbers across windows or platforms mean nothing. A `DistributionRow` carries
the window's values themselves, as a histogram (`values[i]` seen `counts[i]` times), in the raw
unit of the event field it comes from (`source`, e.g. `startup_latency_ms`). The CloudWatch
publisher sends it as `Values`/`Counts`, and CloudWatch then answers p50/p90/p95 over any set of
windows and dimensions from the viewers' own values.

`distribution_row` builds one from a window's raw values. To keep a row small (and a handful of
`PutMetricData` datums of at most 150 values each), the values are snapped to a geometric grid once
there are more than `max_distinct` of them (default 300): the finest grid of the ladder
0.1%, 0.2%, 0.5%, 1%, 2%, 5%, 10%, ... that fits. A grid point stands for the values whose logarithm
rounds to it, so a value moves by at most a factor sqrt(1 + step) (under half the step, relative);
percentiles, means and sums computed from the row inherit that bound. With a few hundred distinct
values or fewer the row is exact.

Which fields are sources, and over which records, is the catalogue's business:
`distribution_sources()` lists every `values` aggregate a percentile metric reads.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from qos_realtime.domain.rows import GroupDimension, JsonRow
from qos_shared.catalogue import CATALOGUE, Aggregate, Field

DEFAULT_MAX_DISTINCT = 300
# Coarse enough grids put every finite float on one of 11 points (5 per sign, and zero); 16 leaves
# room, so snapping always ends.
MIN_MAX_DISTINCT = 16
# Relative grid steps tried in order; past the last one the step keeps doubling (1 + step squared).
GRID_STEPS: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
# Grid points are written with this many significant digits (a relative change below 5e-7).
_SIGNIFICANT_DIGITS = 7
_MAX_EXPONENT = 709.0


@dataclass(frozen=True, slots=True)
class DistributionRow(JsonRow):
    window_start: int  # epoch ms, inclusive
    window_end: int  # epoch ms, exclusive
    source: str  # the event field the values are of, in its own unit (e.g. startup_latency_ms)
    dimension: GroupDimension
    dimension_value: str  # "" for "all"
    values: list[float]  # distinct, ascending
    counts: list[int]  # counts[i]: how many times values[i] was seen (each > 0)
    final: bool = True  # False while the window is still open (a provisional histogram)
    correction: bool = False  # True: values of late records, added to the closed window's

    def __post_init__(self) -> None:
        if len(self.values) != len(self.counts):
            raise ValueError(
                f"{len(self.values)} values but {len(self.counts)} counts: they pair up one to one"
            )
        if any(count <= 0 for count in self.counts):
            raise ValueError("every count must be positive")

    def key(self) -> tuple[int, str, str, str]:
        return (self.window_start, self.source, self.dimension, self.dimension_value)

    @property
    def sample_count(self) -> int:
        return sum(self.counts)


def distribution_sources() -> dict[str, Aggregate]:
    """Each source field -> the `values` aggregate (records and field) its rows are built from.

    Every percentile metric of the catalogue reads one of these; the metrics that share a source
    (p50, p90, p95 of startup time) share one distribution.
    """
    sources: dict[str, Aggregate] = {}
    for metric in CATALOGUE:
        if metric.kind != "percentile":
            continue
        aggregate = metric.numerator
        assert isinstance(aggregate.value, Field), f"{metric.name}: percentile of a non-field"
        known = sources.setdefault(aggregate.value.name, aggregate)
        if known != aggregate:
            raise ValueError(
                f"{metric.name}: percentiles of {aggregate.value.name} disagree on their records"
            )
    return sources


def bucket(
    raw_values: Iterable[float | int | None], *, max_distinct: int = DEFAULT_MAX_DISTINCT
) -> tuple[list[float], list[int]]:
    """The histogram of `raw_values` (nulls and non-finite values left out) as (values, counts).

    Exact when there are at most `max_distinct` distinct values, else snapped to the finest grid
    that fits (see the module docstring). Values come out ascending.
    """
    if max_distinct < MIN_MAX_DISTINCT:
        raise ValueError(f"max_distinct must be at least {MIN_MAX_DISTINCT}")
    finite = [float(v) for v in raw_values if v is not None and math.isfinite(v)]
    histogram = Counter(finite)
    step_index = 0
    while len(histogram) > max_distinct:
        step = _grid_step(step_index)
        histogram = Counter(_snap(v, step) for v in finite)
        step_index += 1
    values = sorted(histogram)
    return values, [histogram[v] for v in values]


def distribution_row(
    *,
    window_start: int,
    window_end: int,
    source: str,
    dimension: GroupDimension,
    dimension_value: str,
    raw_values: Iterable[float | int | None],
    max_distinct: int = DEFAULT_MAX_DISTINCT,
    final: bool = True,
) -> DistributionRow | None:
    """One group's row for one window, or None when the group has no value (nothing to publish)."""
    values, counts = bucket(raw_values, max_distinct=max_distinct)
    if not values:
        return None
    return DistributionRow(
        window_start=window_start,
        window_end=window_end,
        source=source,
        dimension=dimension,
        dimension_value=dimension_value,
        values=values,
        counts=counts,
        final=final,
    )


def _grid_step(index: int) -> float:
    if index < len(GRID_STEPS):
        return GRID_STEPS[index]
    # Beyond the ladder: square the ratio each time. Finite floats span logarithms -745..710, so
    # by a ratio of e^355 (reached well before overflow) at most 11 grid points remain.
    return float((1 + GRID_STEPS[-1]) ** (2 ** (index - len(GRID_STEPS) + 1)) - 1)


def _snap(value: float, step: float) -> float:
    if value == 0:
        return 0.0
    ratio = math.log1p(step)
    # Capped below exp's overflow: the top grid point may stand a little under the largest floats.
    point = math.exp(min(round(math.log(abs(value)) / ratio) * ratio, _MAX_EXPONENT))
    return math.copysign(float(f"{point:.{_SIGNIFICANT_DIGITS}g}"), value)
