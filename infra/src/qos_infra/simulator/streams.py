"""The live channels' streams: the Amazon IVS stream events their broadcasts make.

Each live channel with viewers in the run broadcasts one stream, from its first live viewer's
first event to its last live viewer's last event, and IVS reports it to EventBridge as it does
for a real channel (`qos_shared.testing.ivs.eventbridge_event`): "Session Created" and "Stream
Start" when it starts, "Stream End" and "Session Ended" when it ends, and in between one or more
starvations (the broadcaster's upload stalls: "Stream Starvation Start", then "Stream
Starvation End" 2 to 20 s later); one stream in five ends with a "Stream Failure" before its
"Stream End". The channel's id (the last part of its ARN) is its name, which the viewers report
as `channel_watched`. Everything is drawn from the run's seed, so a run's stream events are the
same every time. (The viewers' playback does not follow the starvations: the two are
independent here.)
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from typing import Any

from qos_shared.testing.ivs import eventbridge_event

# One starvation per this much of a stream's event time, and at least one per stream.
STARVATION_EVERY_MS = 1_800_000
FAILURE_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """One IVS event as EventBridge delivers it, at its time (epoch ms, whole seconds)."""

    time_ms: int
    event: dict[str, Any]


def channel_events(seed: int, live_events: list[dict[str, Any]]) -> list[ChannelEvent]:
    """Every live channel's stream events for a run whose live viewers sent `live_events`, by
    time (ties: channel, then the stream's order)."""
    spans: dict[str, tuple[int, int]] = {}
    for e in live_events:
        channel, t = e["channel_watched"], e["event_time"]
        first, last = spans.get(channel, (t, t))
        spans[channel] = (min(first, t), max(last, t))
    out: list[ChannelEvent] = []
    for channel in sorted(spans):
        out.extend(_stream(seed, channel, *spans[channel]))
    out.sort(key=lambda c: c.time_ms)  # stable: a channel's events keep their order
    return out


def _stream(seed: int, channel: str, start_ms: int, end_ms: int) -> list[ChannelEvent]:
    digest = hashlib.blake2b(f"qos-sim-stream:{seed}:{channel}".encode(), digest_size=8).digest()
    rng = random.Random(int.from_bytes(digest, "big"))  # noqa: S311 - a simulation, not security
    stream_id = f"st-{rng.getrandbits(96):024x}"
    names: list[tuple[int, str]] = [(start_ms, "Session Created"), (start_ms, "Stream Start")]
    span = end_ms - start_ms
    for _ in range(1 + span // STARVATION_EVERY_MS):
        begin = start_ms + int(span * rng.uniform(0.1, 0.9))
        names.append((begin, "Stream Starvation Start"))
        names.append((min(end_ms, begin + rng.randint(2_000, 20_000)), "Stream Starvation End"))
    if rng.random() < FAILURE_SHARE:
        names.append((end_ms, "Stream Failure"))
    names += [(end_ms, "Stream End"), (end_ms, "Session Ended")]
    names.sort(key=lambda n: n[0])  # stable: Start before End at one instant
    events = []
    for t, name in names:
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        event = eventbridge_event(
            name, channel_id=channel, stream_id=stream_id, time_ms=t, event_id=event_id
        )
        events.append(ChannelEvent(t // 1000 * 1000, event))
    return events
