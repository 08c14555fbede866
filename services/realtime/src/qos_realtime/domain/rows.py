"""Window results: what every realtime engine emits and every reader (store, publisher) takes.

One `MetricRow` per (window, metric, group[, split]): the local engine writes them to the metric
store, the Flink job to its output stream, and the CloudWatch publisher reads them from there.
Their JSON form (`to_json` / `from_json`) is that contract.

Additive metrics (count, sum, mean, ratio) may also carry their aggregates: `numerator` and,
for means and ratios, `denominator`, in the catalogue's units before its scale (`value` is
numerator x scale, or numerator / denominator x scale). Readers that combine windows or
corrections add these up (CloudWatch statistic sets, see `qos_realtime.domain.datums`). A
*correction* row (`correction` true) revises a window that has closed: its aggregates are the
deltas of records that came after the window closed (within the revision horizon), to be added to
the window's final row's, and its `value` is that of the deltas alone. The Flink job fills these
fields; the local engine, which keeps no revisions of its own here, leaves them at their
defaults (null, null, false).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Self

import orjson

GroupDimension = Literal["all", "client_platform", "channel_watched"]
GROUP_DIMENSIONS: tuple[GroupDimension, ...] = ("all", "client_platform", "channel_watched")
OTHER = "other"  # the channel group of every channel beyond the top N of a window


@dataclass(frozen=True, slots=True)
class JsonRow:
    """The JSON form every row type shares: its fields as one object, by name."""

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes | str | dict[str, Any]) -> Self:
        fields = orjson.loads(data) if isinstance(data, bytes | str) else data
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class MetricRow(JsonRow):
    window_start: int  # epoch ms, inclusive
    window_end: int  # epoch ms, exclusive
    metric: str  # a catalogue metric name, or `late_events`
    dimension: GroupDimension
    dimension_value: str  # "" for "all"
    value: float | None  # None: no data for this metric in this group (e.g. a ratio over 0)
    split: str = ""  # share metrics: the split value (e.g. the rendition name); "" otherwise
    final: bool = True  # False while the window is still open (a provisional value)
    numerator: float | None = None  # the metric's numerator aggregate (additive metrics)
    denominator: float | None = None  # means and ratios: the denominator aggregate
    correction: bool = False  # True: deltas of late records, added to the closed window's row

    def key(self) -> tuple[int, str, str, str, str]:
        return (self.window_start, self.metric, self.dimension, self.dimension_value, self.split)
