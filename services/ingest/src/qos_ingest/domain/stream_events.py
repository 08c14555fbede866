"""Amazon IVS stream events (EventBridge) to stored records: one event in, one record or a reason.

IVS sends "IVS Stream State Change" and "IVS Stream Health Change" events to EventBridge, best
effort: they may come late, twice or out of order. Each becomes one `STREAM_STATE` or
`STREAM_HEALTH` record (`qos_shared.events.StreamState`, `StreamHealth`):

- `event_id` is derived from the EventBridge event's `id` (a UUID in the `aws.ivs` namespace), so
  a redelivered event is the same record and every consumer keeps it once;
- `channel_watched` is the channel id, the last part of the channel ARN in `resources`: the id
  in the channel's playback URL, which is what the player SDK reports for an IVS channel, so a
  channel's stream and viewer records meet on it;
- `session_id` is the stream id (`detail.stream_id`): the record's partition key, no viewer's
  session (views and viewer KPIs never read stream records);
- `event_time` is the event's `time`, judged like a client's: clamped to the receive time when
  it is ahead of it by more than the allowed skew, rejected when older than the event age limit;
- detail fields beyond `event_name`, `channel_name` and `stream_id` (health changes may carry
  more) are kept in `extra_fields`, bounded like a client's unknown fields.

Each event is judged alone: a bad one is a `Rejection` with a reason, never the whole request's
loss. An event name IVS adds later is stored as it comes (no KPI counts it).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from qos_ingest.domain.ingest import (
    AcceptedEvent,
    BodyTooLarge,
    IngestResult,
    Rejection,
)
from qos_shared.envelope import BodyError, TooManyEvents
from qos_shared.events import STREAM_EVENT_ADAPTER, Enrichment
from qos_shared.limits import (
    MAX_EXTRA_FIELDS,
    MAX_EXTRA_KEY_CHARS,
    MAX_STRING_CHARS,
    RequestLimits,
)

SOURCE = "aws.ivs"
#: EventBridge `detail-type` -> the stored record's metric_type.
DETAIL_TYPES: dict[str, str] = {
    "IVS Stream State Change": "STREAM_STATE",
    "IVS Stream Health Change": "STREAM_HEALTH",
}
# The namespace of the derived event ids: uuid5(EVENT_ID_NAMESPACE, EventBridge id).
EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://aws.amazon.com/ivs/eventbridge")
_CHANNEL_ARN = re.compile(r"^arn:aws[a-z-]*:ivs:[a-z0-9-]+:\d{12}:channel/([A-Za-z0-9_-]{1,128})$")
_KNOWN_DETAIL = frozenset(("event_name", "channel_name", "stream_id"))


class StreamEventError(ValueError):
    """One EventBridge event that cannot become a stream record; the message says why."""


def parse_body(body: bytes, limits: RequestLimits) -> list[Any]:
    """A request body: one EventBridge event (a JSON object) or a JSON list of them.

    Raises BodyTooLarge, BodyError (TooManyEvents) when the body as a whole is unusable.
    """
    if len(body) > limits.max_body_bytes:
        raise BodyTooLarge(len(body), limits.max_body_bytes)
    if not body.strip():
        raise BodyError("empty body: expected an EventBridge event or a list of them")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"body is not valid JSON: {exc}") from None
    events = document if isinstance(document, list) else [document]
    if not events:
        raise BodyError("no event in the body")
    if len(events) > limits.max_events:
        raise TooManyEvents(len(events), limits.max_events)
    return events


def stream_records(events: list[Any], received_at_ms: int, limits: RequestLimits) -> IngestResult:
    """Each event as a stored record, or its rejection (by its position in `events`)."""
    accepted: list[AcceptedEvent] = []
    rejected: list[Rejection] = []
    for index, event in enumerate(events):
        try:
            record = stream_record(event, received_at_ms, limits)
        except StreamEventError as exc:
            rejected.append(Rejection(index, str(exc)))
            continue
        data = orjson.dumps(record)
        accepted.append(AcceptedEvent(index, record["event_id"], record["session_id"], data))
    return IngestResult("eventbridge", accepted, rejected)


def stream_record(event: Any, received_at_ms: int, limits: RequestLimits) -> dict[str, Any]:
    """The stored record of one EventBridge event (flat: event fields and enrichment)."""
    if not isinstance(event, dict):
        raise StreamEventError("an EventBridge event is a JSON object")
    if event.get("source") != SOURCE:
        raise StreamEventError(f"source: expected {SOURCE!r}")
    detail_type = event.get("detail-type")
    metric_type = DETAIL_TYPES.get(detail_type) if isinstance(detail_type, str) else None
    if metric_type is None:
        raise StreamEventError(f"detail-type: expected one of {', '.join(DETAIL_TYPES)}")
    source_id = event.get("id")
    if not isinstance(source_id, str) or not source_id or len(source_id) > MAX_STRING_CHARS:
        raise StreamEventError("id: expected the EventBridge event's id (a non-empty string)")
    arn, channel = _channel(event.get("resources"))
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise StreamEventError("detail: expected an object")

    event_time, time_source = _event_time(event.get("time"), received_at_ms, limits)
    fields = {
        "metric_type": metric_type,
        "event_id": str(uuid.uuid5(EVENT_ID_NAMESPACE, source_id)),
        "session_id": detail.get("stream_id"),
        "channel_watched": channel,
        "channel_arn": arn,
        "channel_name": detail.get("channel_name"),
        "stream_id": detail.get("stream_id"),
        "event_name": detail.get("event_name"),
        "event_time": event_time,
    }
    try:
        stored = STREAM_EVENT_ADAPTER.validate_python(fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        name = str(first["loc"][-1]) if first["loc"] else "event"
        where = "resources" if name == "channel_watched" else f"detail.{name}"
        if name in ("session_id", "stream_id"):
            where = "detail.stream_id"
        raise StreamEventError(f"{where}: {first['msg']}") from None
    enrichment: dict[str, Any] = {
        "received_at": received_at_ms,
        "event_time_source": time_source,
        "source_format": "eventbridge",
    }
    extras = _extra_fields(detail)
    if extras:
        enrichment["extra_fields"] = extras
    Enrichment.model_validate(enrichment)  # made here, from checked values: a bug if it fails
    return {**stored.model_dump(exclude_none=True), **enrichment}


def _channel(resources: Any) -> tuple[str, str]:
    """The channel's ARN among the event's resources, and its id."""
    if isinstance(resources, list):
        for resource in resources:
            if isinstance(resource, str) and (match := _CHANNEL_ARN.match(resource)):
                return resource, match.group(1)
    raise StreamEventError("resources: expected an IVS channel ARN (arn:aws:ivs:…:channel/<id>)")


def _event_time(value: Any, received_at_ms: int, limits: RequestLimits) -> tuple[int, str]:
    """The event's `time` (ISO 8601 with a zone) in epoch milliseconds, and its source."""
    if not isinstance(value, str) or len(value) > 64:
        raise StreamEventError("time: expected an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise StreamEventError(f"time: not an ISO 8601 time: {value[:64]!r}") from None
    if parsed.tzinfo is None:
        raise StreamEventError("time: an ISO 8601 time with its zone (Z or an offset)")
    event_ms = round(parsed.timestamp() * 1000)
    if event_ms > received_at_ms + limits.max_future_skew_ms:
        return received_at_ms, "clamped"
    if event_ms < received_at_ms - limits.max_event_age_ms:
        raise StreamEventError(
            f"time: older than the {limits.max_event_age_ms // 3_600_000} hours events are kept for"
        )
    return event_ms, "client"


def _extra_fields(detail: dict[str, Any]) -> dict[str, str | int | float | bool | None]:
    """The detail's other fields, bounded: at most MAX_EXTRA_FIELDS, keys and texts cut,
    objects and lists kept as JSON text, integers beyond 64 bits as text."""
    kept: dict[str, str | int | float | bool | None] = {}
    for key, value in detail.items():
        if key in _KNOWN_DETAIL or not isinstance(key, str):
            continue
        if len(kept) >= MAX_EXTRA_FIELDS:
            break
        kept[key[:MAX_EXTRA_KEY_CHARS]] = _scalar(value)
    return kept


def _scalar(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | str):
        return value[:MAX_STRING_CHARS] if isinstance(value, str) else value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else str(value)[:MAX_STRING_CHARS]
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    try:
        return orjson.dumps(value).decode()[:MAX_STRING_CHARS]
    except orjson.JSONEncodeError:  # nested deeper than JSON encoders go
        return None
