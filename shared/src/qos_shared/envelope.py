"""Request bodies: the project's batch and the original sample's `Records` envelope.

Both shapes become one list of raw items (one per event) before any event is validated, so a bad
item is rejected on its own and never takes the good items beside it down.

- project body (v1): `{"events": [{...}, ...], "sent_at": 1733580000000}`; `sent_at` (optional)
  is the client's clock when the request was sent, epoch milliseconds; a bare JSON array or a
  single event object is accepted too, for curl and small scripts (no `sent_at` then).
- legacy envelope: `{"Records": [{"Data": {...}}, ...]}`, where `Data` may also be the event as a
  JSON string (what a Kinesis-style client sends); a base64-encoded JSON string is decoded as well.
  The old player's quirks are translated here, at the edge, so the event models stay strict:
  `live_latency_sec` (seconds, a number or a string, -1 for on-demand) becomes `live_latency_ms`,
  and a `live_latency_ms` of -1 means "not live" (absent).

Bodies are read with orjson. A body orjson refuses but Python's JSON reader accepts (an unpaired
UTF-16 surrogate escape, as a browser's `JSON.stringify` writes for a cut emoji; `NaN` or
`Infinity`; a number too large for a double) is read again leniently, and then every item is
checked on its own (`value_problem`): the items that hold such a value are rejected, the others
kept. Duplicate keys in an object: the last one wins, as in every JSON reader involved
(orjson, Python's, the browser's `JSON.parse`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from qos_shared.events import SourceFormat
from qos_shared.limits import MAX_INTEGER, MAX_NESTING_DEPTH, MIN_INTEGER

# The contract's epoch milliseconds (qos_shared.events.EpochMs): before year 3000.
_MAX_EPOCH_MS = 32_503_680_000_000
# live_latency_sec converted beyond this many milliseconds (about 285,000 years) is no latency:
# the record is rejected, instead of carrying an integer no engine holds (or an infinity).
_MAX_CONVERTED_MS = 2**53


class BodyError(ValueError):
    """The body as a whole cannot be read: nothing in it can be accepted."""


class TooManyEvents(BodyError):
    """More events in one request than the limit allows."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"{count} events in one request; the limit is {limit}")
        self.count = count
        self.limit = limit


@dataclass(frozen=True, slots=True)
class ItemError:
    """An item of the envelope that is not an event object."""

    reason: str


@dataclass(frozen=True, slots=True)
class ParsedBody:
    format: SourceFormat
    items: list[dict[str, Any] | ItemError]
    # The client's clock when it sent the request (v1 bodies only; the legacy envelope has none).
    sent_at: int | None = None


def parse_body(body: bytes, *, max_events: int) -> ParsedBody:
    """Read a request body into raw event items; raise BodyError when nothing in it is usable."""
    if not body.strip():
        raise BodyError("empty body: expected a JSON object with 'events' or 'Records'")
    checked = False
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        document = _lenient_loads(body)
        if document is _UNREADABLE:
            raise BodyError(f"body is not valid JSON: {exc}") from None
        checked = True  # values orjson refuses may be anywhere: every item is checked

    if isinstance(document, dict) and "Records" in document:
        records = document["Records"]
        if not isinstance(records, list):
            raise BodyError("'Records' must be a list")
        _check_count(len(records), max_events)
        if checked:
            # A record holds its event one level down.
            depth = MAX_NESTING_DEPTH + 1
            return ParsedBody("legacy", [_checked(r, _legacy_item, depth) for r in records])
        return ParsedBody("legacy", [_legacy_item(r) for r in records])

    sent_at: int | None = None
    if isinstance(document, dict) and "events" in document:
        events = document["events"]
        if not isinstance(events, list):
            raise BodyError("'events' must be a list")
        sent_at = _sent_at(document.get("sent_at"))
    elif isinstance(document, list):
        events = document
    elif isinstance(document, dict) and "metric_type" in document:
        events = [document]
    else:
        raise BodyError("expected a JSON object with 'events' (a list) or 'Records' (a list)")
    _check_count(len(events), max_events)
    if checked:
        return ParsedBody("v1", [_checked(e, _v1_item, MAX_NESTING_DEPTH) for e in events], sent_at)
    return ParsedBody("v1", [_v1_item(e) for e in events], sent_at)


def _v1_item(event: Any) -> dict[str, Any] | ItemError:
    return event if isinstance(event, dict) else ItemError("event must be a JSON object")


_UNREADABLE = object()


def _lenient_loads(body: bytes) -> Any:
    """The body read by Python's JSON reader (strict UTF-8), or _UNREADABLE. Only for bodies
    orjson refused: slower, and its results must be checked item by item (`value_problem`)."""
    try:
        return json.loads(body.decode("utf-8"), parse_int=_read_int)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return _UNREADABLE


def _read_int(text: str) -> int | float:
    """An integer as orjson reads it: beyond 64 bits, a double (infinite beyond a double's
    range), so that an event is judged the same whichever reader read its body."""
    if len(text) <= 20:
        value = int(text)
        if MIN_INTEGER <= value <= MAX_INTEGER:
            return value
    return float(text)


def _checked(
    raw: Any, read: Callable[[Any], dict[str, Any] | ItemError], max_depth: int
) -> dict[str, Any] | ItemError:
    problem = value_problem(raw, max_depth=max_depth)
    return ItemError(problem) if problem is not None else read(raw)


def value_problem(value: Any, *, max_depth: int = MAX_NESTING_DEPTH) -> str | None:
    """Why a decoded JSON value cannot be stored, or None: objects and arrays nested deeper than
    `max_depth` (the value itself is level 1), a number that is not finite, an integer beyond
    64 bits, a string or key with an unpaired surrogate (not Unicode text). Iterative, so no
    depth can exhaust the stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                return f"objects and arrays nest deeper than {max_depth} levels"
            if isinstance(item, dict):
                for key, child in item.items():
                    if isinstance(key, str) and not _is_unicode(key):
                        return "a key holds an unpaired UTF-16 surrogate (not Unicode text)"
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and not _is_unicode(item):
            return "a string holds an unpaired UTF-16 surrogate (not Unicode text)"
        elif isinstance(item, float) and not math.isfinite(item):
            return "a number is not finite (NaN, Infinity or beyond a double's range)"
        elif type(item) is int and not MIN_INTEGER <= item <= MAX_INTEGER:
            return "an integer is beyond the 64-bit range"
    return None


def _is_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _sent_at(value: Any) -> int | None:
    """The body's `sent_at`: absent or null is None; anything but whole epoch milliseconds is an
    error of the whole body (every event time of the request would be shifted by it)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BodyError(
            f"'sent_at' must be an integer (the client clock in epoch milliseconds), got {value!r}"
        )
    if not 0 <= value <= _MAX_EPOCH_MS:
        raise BodyError(f"'sent_at' must be epoch milliseconds before year 3000, got {value}")
    return value


def _check_count(count: int, limit: int) -> None:
    if count == 0:
        raise BodyError("no events in the body")
    if count > limit:
        raise TooManyEvents(count, limit)


def _legacy_item(record: Any) -> dict[str, Any] | ItemError:
    if not isinstance(record, dict) or "Data" not in record:
        return ItemError("each record must be an object with 'Data'")
    data = record["Data"]
    if isinstance(data, str):
        data = _decode_string_data(data)
    if isinstance(data, dict):
        return legacy_quirks(data)
    if isinstance(data, ItemError):
        return data
    return ItemError("'Data' must be an event object or a JSON string")


def legacy_quirks(data: dict[str, Any]) -> dict[str, Any] | ItemError:
    """Translate the old player's field quirks into the contract's fields (an ItemError for a
    latency no conversion can hold)."""
    if "live_latency_sec" in data and data.get("live_latency_ms") is None:
        data = dict(data)
        converted = _seconds_to_ms(data.pop("live_latency_sec"))
        if isinstance(converted, ItemError):
            return converted
        if converted is not None:
            data["live_latency_ms"] = converted
        else:
            data.pop("live_latency_ms", None)
    elif data.get("live_latency_ms") == -1:
        data = dict(data)
        del data["live_latency_ms"]
    return data


def _seconds_to_ms(value: Any) -> Any:
    """Seconds (number or numeric string) to milliseconds; negative means not live (None); a
    number that is not finite, or too large to be a latency, is an ItemError.

    Anything else is passed through for the model to reject with a clear message.
    """
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return value
    if isinstance(number, bool) or not isinstance(number, int | float):
        return value
    try:
        ms = float(number) * 1000
    except OverflowError:  # an integer beyond a double (Python's JSON reader allows those)
        ms = math.inf
    if math.isnan(ms):
        return ItemError(f"live_latency_sec is not a number: {value!r}")
    if ms < 0:
        return None
    if ms > _MAX_CONVERTED_MS:
        return ItemError(f"live_latency_sec is out of range: {str(value)[:32]}")
    return round(ms)


def _decode_string_data(data: str) -> dict[str, Any] | ItemError:
    candidates = [data.encode()]
    with contextlib.suppress(binascii.Error, ValueError):
        candidates.append(base64.b64decode(data, validate=True))
    for candidate in candidates:
        try:
            value = orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return ItemError("'Data' is a string that holds no JSON event object")
