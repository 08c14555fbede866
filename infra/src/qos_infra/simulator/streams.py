"""The live channels' streams: the Amazon IVS stream events their broadcasts make.

Each live channel with viewers in the run broadcasts one stream, from its first live viewer's
first event to its last live viewer's last event, and IVS reports it to EventBridge as it does
for a real channel (`qos_shared.testing.ivs.channel_streams`): "Session Created" and "Stream
Start" when it starts, "Stream End" and "Session Ended" when it ends, and in between one or more
starvations (the broadcaster's upload stalls: "Stream Starvation Start", then "Stream
Starvation End" 2 to 20 s later); one stream in five ends with a "Stream Failure" before its
"Stream End". The channel's id (the last part of its ARN) is its name, which the viewers report
as `channel_watched`. Everything is drawn from the run's seed, so a run's stream events are the
same every time. (The viewers' playback does not follow the starvations: the two are
independent here.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qos_shared.testing.ivs import channel_streams


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """One IVS event as EventBridge delivers it, at its time (epoch ms, whole seconds)."""

    time_ms: int
    event: dict[str, Any]


def channel_events(seed: int, live_events: list[dict[str, Any]]) -> list[ChannelEvent]:
    """Every live channel's stream events for a run whose live viewers sent `live_events`, by
    time."""
    return [
        ChannelEvent(int(datetime.fromisoformat(e["time"]).timestamp() * 1000), e)
        for e in channel_streams(seed, live_events)
    ]
