"""The ingest domain function: one request in, accepted records and per-event rejections out."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
from pydantic import ValidationError

from qos_ingest.domain.enrichment import (
    VIEWER_HEADER_NAMES,
    user_agent_fields,
    viewer_fields,
)
from qos_shared.envelope import ItemError, parse_body, value_problem
from qos_shared.events import CLIENT_EVENT_ADAPTER, ENRICHMENT_FIELDS, EventBase, SourceFormat
from qos_shared.limits import (
    MAX_EXTRA_FIELDS,
    MAX_EXTRA_KEY_CHARS,
    MAX_STRING_CHARS,
    RequestLimits,
)

_DAY_MS = 86_400_000
# pydantic-core's validator itself: the TypeAdapter wrapper adds a Python call per event.
_validate = CLIENT_EVENT_ADAPTER.validator.validate_python


class BodyTooLarge(ValueError):
    """The request body is over the configured size limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"request body is {size} bytes; the limit is {limit}")
        self.size = size
        self.limit = limit


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """What ingest needs of a request; `headers` keys are lower-case.

    `source_ip` is taken so that callers need not strip it, and never read here: ingest does not
    store client addresses (the service's edge check compares it with the trusted proxies).

    `edge_trusted` says whether the request came through the edge that sets the viewer headers
    (CloudFront, or a configured local proxy): when it is false, viewer geography and device
    class are taken neither from headers nor from the body, since a client could have set
    either. The service decides it; an in-process caller (a test, the simulator's checks, the
    benchmark) stands in for the edge.
    """

    body: bytes
    headers: Mapping[str, str]
    received_at_ms: int
    source_ip: str | None = None
    edge_trusted: bool = True


@dataclass(frozen=True, slots=True)
class IngestConfig:
    limits: RequestLimits = field(default_factory=RequestLimits)
    pseudonymise: Callable[[str], str] | None = None


class AcceptedEvent(NamedTuple):
    # A NamedTuple: made once per event on the hot path, and cheapest to build.
    request_index: int  # position in the request (`index` is tuple's own method)
    event_id: str
    partition_key: str
    data: bytes  # the stored record: flat JSON of the event and its enrichment


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    reason: str
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"index": self.index, "reason": self.reason}
        if self.errors:
            body["errors"] = self.errors
        return body


@dataclass(frozen=True, slots=True)
class IngestResult:
    source_format: SourceFormat
    accepted: list[AcceptedEvent]
    rejected: list[Rejection]
    # About the request as a whole, not one event: a client clock too far off to correct.
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ClockCorrection:
    """How one request's client clock compares with the server's (from the body's `sent_at`).

    `offset_ms` is received_at - sent_at: the client clock's error plus the request's latency.
    `shift_ms` is what is added to each client event_time: the offset when it is at least the
    tolerance and at most the bound, else 0. `warning` says why an offset was not applied.
    """

    offset_ms: int | None
    shift_ms: int
    warning: str | None = None

    @property
    def applied(self) -> bool:
        return self.shift_ms != 0


def clock_correction(
    sent_at: int | None, received_at_ms: int, limits: RequestLimits
) -> ClockCorrection:
    """The correction for a request: none without `sent_at` (the legacy envelope, older clients),
    none under the tolerance (latency, not a wrong clock), none beyond the bound (a clock that
    far off, or a forged sent_at, is not trusted to move events by more than a day)."""
    if sent_at is None:
        return ClockCorrection(None, 0)
    offset = received_at_ms - sent_at
    if abs(offset) < limits.clock_tolerance_ms:
        return ClockCorrection(offset, 0)
    if abs(offset) > limits.max_clock_correction_ms:
        side = "behind" if offset > 0 else "ahead of"
        return ClockCorrection(
            offset,
            0,
            f"sent_at is {abs(offset) / 3_600_000:.1f} hours {side} the server clock; corrections"
            f" are bounded to {limits.max_clock_correction_ms / 3_600_000:g} hours, so the event"
            " times were judged as sent",
        )
    return ClockCorrection(offset, offset)


def ingest(request: IngestRequest, config: IngestConfig) -> IngestResult:
    """Validate and enrich every event of a request.

    Raises BodyTooLarge, or qos_shared.envelope.BodyError (TooManyEvents for too many events), when
    the body as a whole is unusable; otherwise judges each event on its own.
    """
    limits = config.limits
    if len(request.body) > limits.max_body_bytes:
        raise BodyTooLarge(len(request.body), limits.max_body_bytes)
    parsed = parse_body(request.body, max_events=limits.max_events)

    clock = clock_correction(parsed.sent_at, request.received_at_ms, limits)
    context = _RequestContext(request, parsed.format, config, clock)
    accepted: list[AcceptedEvent] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(parsed.items):
        if isinstance(item, ItemError):
            rejected.append(Rejection(index, item.reason))
            continue
        outcome = _one_event(index, item, context)
        if isinstance(outcome, Rejection):
            rejected.append(outcome)
        else:
            accepted.append(outcome)
    warnings = [clock.warning] if clock.warning else []
    return IngestResult(parsed.format, accepted, rejected, warnings)


class _RequestContext:
    """What every event of one request shares, computed once: the enrichment (also pre-rendered
    as JSON per event_time_source, the only per-event part when an event has no unknown fields)
    and the event_time bounds."""

    __slots__ = (
        "derived",
        "fields",
        "fragments",
        "latest",
        "limits",
        "oldest",
        "pseudonymise",
        "request",
        "shift",
    )

    def __init__(
        self,
        request: IngestRequest,
        source_format: SourceFormat,
        config: IngestConfig,
        clock: ClockCorrection,
    ) -> None:
        fields: dict[str, Any] = {
            "received_at": request.received_at_ms,
            "source_format": source_format,
        }
        if request.edge_trusted:
            fields.update(viewer_fields(request.headers))
        fields.update(user_agent_fields(request.headers.get("user-agent", "")))
        if config.pseudonymise is not None:
            fields["user_id_pseudonymised"] = True
        self.fields = fields
        self.fragments = {
            source: orjson.dumps({**fields, "event_time_source": source})[1:]
            for source in ("client", "server", "clamped")
        }
        self.shift = clock.shift_ms
        if clock.applied:
            self.fragments["corrected"] = orjson.dumps(
                {**fields, "event_time_source": "corrected", "clock_offset_ms": self.shift}
            )[1:]
        self.request = request
        self.limits = config.limits
        # With `sent_at`, an event time ahead of the receive time by more than the tolerance
        # cannot be right, corrected or not (no event is stamped after its request was sent):
        # one event an hour ahead in a request of a right clock is clamped, and cannot move any
        # engine's watermark. Without it (the legacy envelope, older clients), the older, wider
        # allowance for clocks ahead.
        self.latest = request.received_at_ms + (
            config.limits.clock_tolerance_ms
            if clock.offset_ms is not None
            else config.limits.max_future_skew_ms
        )
        self.oldest = request.received_at_ms - config.limits.max_event_age_ms
        self.pseudonymise = config.pseudonymise
        # Derived event_id -> how many events of this request have had it so far.
        self.derived: dict[str, int] = {}


def _one_event(
    index: int, item: dict[str, Any], context: _RequestContext
) -> AcceptedEvent | Rejection:
    try:
        event: EventBase = _validate(item)
    except ValidationError as exc:
        return _rejection(index, exc)
    extras = event.__pydantic_extra__
    if extras:
        # Typed fields hold scalars once validated; only unknown fields can nest, so only they
        # need the check (deep nesting would fail serialisation, and so the whole request).
        problem = value_problem(extras)
        if problem is not None:
            return Rejection(index, problem, [{"loc": [], "msg": problem, "type": "unstorable"}])

    sent_time = event.event_time
    if sent_time is None:
        event.event_time = event_time = context.request.received_at_ms
        time_source = "server"
    else:
        event_time = sent_time + context.shift
        time_source = "corrected" if context.shift else "client"
        if event_time > context.latest:
            event_time = context.request.received_at_ms
            time_source = "clamped"
        elif event_time < context.oldest:
            days = (context.request.received_at_ms - event_time) / _DAY_MS
            return Rejection(
                index,
                f"event_time is {days:.1f} days before the server clock; the limit is "
                f"{context.limits.max_event_age_ms / _DAY_MS:g} days",
                [{"loc": ["event_time"], "msg": "too old", "type": "event_too_old"}],
            )
        event.event_time = event_time

    if event.event_id is None:
        # Derived from what the client sent plus the event_time as sent (the server's stamp when
        # there is none), so the same record re-sent keeps its id and consumers can drop the copy:
        # before any correction or clamping, which depend on when the request was sent. The n-th
        # identical record of one request (n > 0) is a record of its own (two summaries the old
        # player could not tell apart): its id takes n too, so that it is stored, and a re-sent
        # request gives every record the id it had.
        id_time = event_time if sent_time is None else sent_time
        derived = _derived_event_id(item, id_time)
        repeat = context.derived.get(derived, 0)
        context.derived[derived] = repeat + 1
        event.event_id = derived if repeat == 0 else _derived_event_id(item, id_time, repeat)

    if extras:
        enrichment = {**context.fields, "event_time_source": time_source}
        if time_source == "corrected":
            enrichment["clock_offset_ms"] = context.shift
        _move_extras(extras, enrichment, context.request)
        fragment = orjson.dumps(enrichment)[1:]
    else:
        fragment = context.fragments[time_source]
    if context.pseudonymise is not None and event.user_id is not None:
        event.user_id = context.pseudonymise(event.user_id)

    event_json = event.__pydantic_serializer__.to_json(event, exclude_none=True)
    # Splice the enrichment into the event's JSON object rather than re-serialising a merged dict.
    return AcceptedEvent(index, event.event_id, event.session_id, event_json[:-1] + b"," + fragment)


def _derived_event_id(item: dict[str, Any], event_time: int, repeat: int = 0) -> str:
    """A 128-bit content hash (BLAKE2b) in UUID layout: not a random UUID, nor claimed to be.
    `repeat` numbers identical records of one request after the first."""
    canonical = orjson.dumps(item, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    h = hashlib.blake2b(canonical, digest_size=16, person=b"qos-event-id")
    h.update(event_time.to_bytes(8, "big"))
    if repeat:
        h.update(repeat.to_bytes(4, "big"))
    x = h.hexdigest()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def _move_extras(
    extras: dict[str, Any], enrichment: dict[str, Any], request: IngestRequest
) -> None:
    """Take unknown client fields out of the event: legacy viewer fields fill the enrichment when
    no header did, server-owned names are dropped (a client cannot set them), the rest is kept
    in `extra_fields`, bounded."""
    legacy_viewer: dict[str, str] = {}
    kept: dict[str, Any] = {}
    for key, value in extras.items():
        lowered = key.lower()
        if lowered in VIEWER_HEADER_NAMES:
            # Only behind the trusted edge, and never over its headers: elsewhere a client
            # could claim any country or device this way.
            if request.edge_trusted and lowered not in request.headers:
                legacy_viewer[lowered] = str(value)
        elif key in ENRICHMENT_FIELDS:
            continue
        elif len(kept) < MAX_EXTRA_FIELDS:
            kept[key[:MAX_EXTRA_KEY_CHARS]] = _bounded_scalar(value)
    extras.clear()
    if legacy_viewer:
        for name, value in viewer_fields(legacy_viewer).items():
            enrichment.setdefault(name, value)
    if kept:
        enrichment["extra_fields"] = kept


def _bounded_scalar(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | int | float):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
            return str(value)[:MAX_STRING_CHARS]
        return value
    if isinstance(value, str):
        return value[:MAX_STRING_CHARS]
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()[:MAX_STRING_CHARS]


def _rejection(index: int, exc: ValidationError) -> Rejection:
    errors = [
        {"loc": [str(part) for part in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]
    first = errors[0]
    where = ".".join(first["loc"]) or "event"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return Rejection(index, f"{where}: {first['msg']}{more}", errors)
