"""Window results: what every realtime engine emits and every reader (store, publisher) takes.

One `MetricRow` per (window, metric, group[, split]): the local engine writes them to the metric
store, the Flink job to its output stream, and the CloudWatch publisher reads them from there.
Their JSON form (`to_json` / `from_json`) is that contract.
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

    def key(self) -> tuple[int, str, str, str, str]:
        return (self.window_start, self.metric, self.dimension, self.dimension_value, self.split)
