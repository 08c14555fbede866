"""Amazon IVS stream events as EventBridge delivers them, and the records ingest stores for them.

`eventbridge_event` builds the event IVS sends (the shape of AWS's "Amazon IVS events"
documentation: `source` "aws.ivs", the channel ARN in `resources`, the event's name, the channel's
name and the stream id in `detail`). `stored_record` is what ingest should store for one, written
from the contract's description (ADR 18, docs/metrics.md "Stream events") without ingest's
code: tests and the simulator's
truth compare the two.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import UTC, datetime
from typing import Any

STATE_CHANGE = "IVS Stream State Change"
HEALTH_CHANGE = "IVS Stream Health Change"
ACCOUNT = "123456789012"
REGION = "us-west-2"
# uuid5(NAMESPACE_URL, "https://aws.amazon.com/ivs/eventbridge"): the contract's namespace.
EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://aws.amazon.com/ivs/eventbridge")


def channel_arn(channel_id: str, *, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:ivs:{region}:{account}:channel/{channel_id}"


def iso_time(epoch_ms: int) -> str:
    """EventBridge's `time`: ISO 8601 in UTC, whole seconds ("2026-12-07T17:19:01Z")."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def eventbridge_event(
    event_name: str,
    *,
    channel_id: str,
    stream_id: str,
    time_ms: int,
    event_id: str | None = None,
    channel_name: str | None = None,
    extra_detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One IVS event; its detail-type follows from the event name (starvations are health
    changes). `time_ms` is cut to whole seconds, as EventBridge's `time` is."""
    health = event_name.startswith("Stream Starvation")
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": HEALTH_CHANGE if health else STATE_CHANGE,
        "source": "aws.ivs",
        "account": ACCOUNT,
        "time": iso_time(time_ms),
        "region": REGION,
        "resources": [channel_arn(channel_id)],
        "detail": {
            "event_name": event_name,
            "channel_name": channel_name if channel_name is not None else channel_id,
            "stream_id": stream_id,
            **(extra_detail or {}),
        },
    }


def stored_record(event: dict[str, Any], received_at_ms: int) -> dict[str, Any]:
    """The record the contract says ingest stores for a valid, fresh event received at
    `received_at_ms` (nulls left out, as stored)."""
    detail = event["detail"]
    time_ms = int(datetime.fromisoformat(event["time"]).timestamp() * 1000)
    extras = {
        k: v for k, v in detail.items() if k not in ("event_name", "channel_name", "stream_id")
    }
    record: dict[str, Any] = {
        "metric_type": "STREAM_HEALTH" if event["detail-type"] == HEALTH_CHANGE else "STREAM_STATE",
        "event_id": str(uuid.uuid5(EVENT_ID_NAMESPACE, event["id"])),
        "session_id": detail["stream_id"],
        "channel_watched": event["resources"][0].rsplit("/", 1)[1],
        "channel_arn": event["resources"][0],
        "stream_id": detail["stream_id"],
        "event_name": detail["event_name"],
        "event_time": time_ms,
        "is_live": True,
        "schema_version": "1",
        "received_at": received_at_ms,
        "event_time_source": "client",
        "source_format": "eventbridge",
    }
    if detail.get("channel_name") is not None:
        record["channel_name"] = detail["channel_name"]
    if extras:
        record["extra_fields"] = extras
    return record


# One starvation per this much of a stream's time, and at least one per stream.
STARVATION_EVERY_MS = 1_800_000
# The share of streams that fail (a Stream Failure before their Stream End).
FAILURE_SHARE = 0.2


def channel_streams(
    seed: int, live_records: list[dict[str, Any]], *, failure_share: float = FAILURE_SHARE
) -> list[dict[str, Any]]:
    """The IVS events of each live channel's stream, by time (a channel's in their order).

    Each channel in `live_records` (viewer records with `is_live`) broadcasts one stream, from
    its first record's time to its last's: "Session Created" and "Stream Start" at the start,
    "Stream End" and "Session Ended" at the end, in between one starvation per
    `STARVATION_EVERY_MS` (at least one; "Stream Starvation End" 2 to 20 s after its start), and
    for a `failure_share` of streams a "Stream Failure" just before the end. The channel's id
    is its `channel_watched`. Drawn from `seed`: the same records give the same events."""
    spans: dict[str, tuple[int, int]] = {}
    for r in live_records:
        channel, t = r["channel_watched"], r["event_time"]
        first, last = spans.get(channel, (t, t))
        spans[channel] = (min(first, t), max(last, t))
    timed: list[tuple[int, dict[str, Any]]] = []
    for channel in sorted(spans):
        timed += _stream(seed, channel, *spans[channel], failure_share)
    timed.sort(key=lambda pair: pair[0])  # stable: a channel's events keep their order
    return [event for _, event in timed]


def _stream(
    seed: int, channel: str, start_ms: int, end_ms: int, failure_share: float
) -> list[tuple[int, dict[str, Any]]]:
    digest = hashlib.blake2b(f"qos-ivs-stream:{seed}:{channel}".encode(), digest_size=8).digest()
    rng = random.Random(int.from_bytes(digest, "big"))  # noqa: S311 - test data, not security
    stream_id = f"st-{rng.getrandbits(96):024x}"
    names: list[tuple[int, str]] = [(start_ms, "Session Created"), (start_ms, "Stream Start")]
    span = end_ms - start_ms
    for _ in range(1 + span // STARVATION_EVERY_MS):
        begin = start_ms + int(span * rng.uniform(0.1, 0.9))
        names.append((begin, "Stream Starvation Start"))
        names.append((min(end_ms, begin + rng.randint(2_000, 20_000)), "Stream Starvation End"))
    if rng.random() < failure_share:
        names.append((end_ms, "Stream Failure"))
    names += [(end_ms, "Stream End"), (end_ms, "Session Ended")]
    names.sort(key=lambda n: n[0])  # stable: a start before an end at one instant
    out = []
    for t, name in names:
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        event = eventbridge_event(
            name, channel_id=channel, stream_id=stream_id, time_ms=t, event_id=event_id
        )
        out.append((t // 1000 * 1000, event))
    return out
