"""Property-based: any bytes or JSON at the endpoint: never a 5xx, never a stored invalid event;
and in a batch mixing valid events with hostile ones (deep nesting, huge and non-finite numbers,
wrong types, unpaired surrogates and control characters, duplicate keys), exactly the valid ones
are stored and exactly the hostile ones rejected.

Derandomised and bounded, so that CI runs the same examples in seconds every time.
"""

from __future__ import annotations

import http.client
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qos_shared.eventlog import EventLog
from qos_shared.events import METRIC_TYPES, StoredEvent
from qos_shared.limits import MAX_NESTING_DEPTH

from ..events import summary
from .conftest import RunningServer

# Any code point, unpaired surrogates and control characters included (Python's encoder writes
# a surrogate as a \\udXXX escape, as a browser's JSON.stringify does).
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=300)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**400, 1e306, 1.9e16])
    # The stdlib encoder writes NaN and Infinity, as a careless client may.
    | st.floats()
    | st.text(max_size=300)
    | any_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4)
    ),
    max_leaves=12,
)

FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "metric_type": st.sampled_from([*METRIC_TYPES, "BOGUS", ""]) | json_scalars,
    "session_id": st.text(max_size=140) | json_scalars,
    "client_platform": st.sampled_from(["web", "IOS", "android", "tv"]) | json_scalars,
    "is_live": st.booleans() | json_scalars,
    "channel_watched": st.text(max_size=140) | json_scalars,
    "event_time": st.integers(min_value=-10, max_value=2**45) | json_scalars,
    "playing_time_ms": st.integers(min_value=-10, max_value=2 * 86_400_000) | json_scalars,
    "buffering_time_ms": st.integers(min_value=-10, max_value=100_000) | json_scalars,
    "buffering_count": st.integers(min_value=-3, max_value=50) | json_scalars,
    "startup_latency_ms": st.integers(min_value=-10, max_value=700_000) | json_scalars,
    "live_latency_sec": st.text(max_size=6)
    | st.sampled_from([1e306, 1.9e16, -1, "1e400", "NaN", 10**30])
    | json_scalars,
    "error_code": json_scalars,
    "fatal": st.booleans() | json_scalars,
    "to_rendition_name": st.text(max_size=300),
}


@st.composite
def event_like(draw: st.DrawFn) -> dict[str, Any]:
    """A plausible event with some fields replaced, dropped or added at random."""
    event = summary(
        metric_type=draw(st.sampled_from(METRIC_TYPES)),
        startup_latency_ms=1500,
        error_code="E1",
        fatal=False,
        to_rendition_name="1080p",
    )
    if draw(st.booleans()):
        del event["event_id"]
    for name in draw(st.sets(st.sampled_from(sorted(FIELD_VALUES)), max_size=4)):
        event[name] = draw(FIELD_VALUES[name])
    for name in draw(st.sets(st.sampled_from(sorted(event)), max_size=2)):
        event.pop(name, None)
    event.update(draw(st.dictionaries(st.text(max_size=10), json_values, max_size=3)))
    return event


envelopes = st.one_of(
    st.lists(event_like() | json_values, min_size=1, max_size=8).map(lambda e: {"events": e}),
    st.lists(
        st.one_of(
            event_like().map(lambda e: {"Data": e}),
            event_like().map(lambda e: {"Data": json.dumps(e)}),
            json_values,
        ),
        min_size=1,
        max_size=8,
    ).map(lambda r: {"Records": r}),
    json_values,
)


def nested_text(levels: int) -> str:
    """`levels` arrays inside one another, written by hand: Python's encoder stops near 1000."""
    return "[" * levels + "0" + "]" * levels


@st.composite
def deep_bodies(draw: st.DrawFn) -> bytes:
    """A body with a deeply nested unknown field in one of its events."""
    events = [json.dumps(e) for e in draw(st.lists(event_like(), min_size=1, max_size=3))]
    at = draw(st.integers(0, len(events) - 1))
    levels = draw(st.integers(1, 1100))
    events[at] = events[at][:-1] + f', "deep": {nested_text(levels)}}}'  # event_like() is never {}
    if draw(st.booleans()):
        return ('{"events": [' + ", ".join(events) + "]}").encode()
    return ('{"Records": [' + ", ".join(f'{{"Data": {e}}}' for e in events) + "]}").encode()


bodies = st.one_of(
    st.binary(max_size=2000),
    # The stdlib encoder, because it writes integers of any size, as a client may.
    envelopes.map(lambda doc: json.dumps(doc).encode()),
    deep_bodies(),
)


def _stored_count(log: EventLog) -> int:
    return log.count()


def test_arbitrary_input_never_5xx_and_never_stores_invalid(running_server: RunningServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", running_server.port, timeout=30)
    log = EventLog(running_server.log_path)

    @settings(
        max_examples=400,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(body=bodies, path=st.sampled_from(["/v1/events", "/streams"]))
    def check(body: bytes, path: str) -> None:
        before = _stored_count(log)
        conn.request("POST", path, body=body, headers={"Content-Type": "text/plain"})
        response = conn.getresponse()
        reply = orjson.loads(response.read())
        assert response.status < 500, reply
        added = _stored_count(log) - before
        if response.status in (200, 207):
            assert 0 <= added <= reply["accepted"]
            assert reply["accepted"] >= 1
        else:
            assert response.status in (400, 413)
            assert added == 0

    try:
        check()
    finally:
        conn.close()

    entries = log.read(limit=1_000_000)
    log.close()
    assert entries, "the generator should produce some valid events"
    for entry in entries:
        record = orjson.loads(entry.data)
        stored = StoredEvent.from_record(record)
        assert stored.event.model_extra == {}, "unknown fields must not reach the typed part"
        assert stored.event_id == entry.event_id
        assert entry.partition_key == stored.event.session_id


# -- Mixed batches: the oracle knows which items are valid, by construction.


@dataclass
class Item:
    """One item of a batch as JSON text; `valid` says whether the contract accepts it."""

    session_id: str
    text: str
    valid: bool
    why: str = ""
    legacy_only: bool = False


@dataclass
class Built:
    event: dict[str, Any]
    raw_fields: list[tuple[str, str]] = field(default_factory=list)  # appended as written

    def text(self) -> str:
        body = json.dumps(self.event)
        extra = "".join(f", {json.dumps(k)}: {v}" for k, v in self.raw_fields)
        return body[:-1] + extra + "}" if extra else body


def base_event(draw: st.DrawFn) -> Built:
    metric_type = draw(st.sampled_from(["PLAYBACK_SUMMARY", "STOP", "ATTEMPT"]))
    event = summary(metric_type=metric_type, session_id=f"fuzz-{uuid.uuid4()}")
    if metric_type != "PLAYBACK_SUMMARY":
        for name in ("playing_time_ms", "buffering_time_ms", "buffering_count", "error_count"):
            del event[name]
        for name in ("rendition_name", "rendition_height", "live_latency_ms"):
            event.pop(name, None)
    if draw(st.booleans()):
        del event["event_id"]  # the server derives it from the content: the path that once failed
    return Built(event)


# Values the contract keeps in extra_fields: finite, Unicode, at most 12 levels deep.
lawful_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
odd_text = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc", "Cf", "M")),
    min_size=1,
    max_size=40,
)


@st.composite
def valid_items(draw: st.DrawFn) -> Item:
    """Valid events in odd but lawful shapes: these must all be stored."""
    built = base_event(draw)
    shape = draw(
        st.sampled_from(
            ["plain", "unicode", "edge_ints", "shallow", "big_float", "dup_fixed", "extras"]
        )
    )
    if shape == "unicode":  # control characters, emoji, combining and bidi marks: stored as sent
        built.event["channel_watched"] = draw(odd_text)
        built.event["user_id"] = draw(odd_text)
    elif shape == "edge_ints":
        value = draw(st.sampled_from([2**64 - 1, -(2**63), 2**64, 10**30, -(10**30)]))
        built.raw_fields.append(("big", str(value)))
    elif shape == "shallow":  # nesting within the limit (the event is level 1)
        levels = draw(st.integers(1, MAX_NESTING_DEPTH - 1))
        built.raw_fields.append(("nested", nested_text(levels)))
    elif shape == "big_float":
        built.raw_fields.append(("f", repr(draw(st.sampled_from([1e306, -1e306, 1.9e16, -0.0])))))
    elif shape == "dup_fixed":  # a duplicate key: the last value wins, and it is a valid one
        built.event["is_live"] = [{"not": "a bool"}]
        built.raw_fields.append(("is_live", "true"))
    elif shape == "extras":  # unknown fields (prefixed: never a contract or viewer name)
        extras = draw(st.dictionaries(st.text(max_size=10), lawful_values, max_size=3))
        built.event.update({f"x_{k}": v for k, v in extras.items()})
    return Item(built.event["session_id"], built.text(), valid=True, why=shape)


@st.composite
def invalid_items(draw: st.DrawFn) -> Item:
    """Hostile events, each with one defect the contract refuses: none may be stored."""
    built = base_event(draw)
    defect = draw(
        st.sampled_from(
            [
                "deep",
                "nan",
                "infinity",
                "huge_literal",
                "surrogate_value",
                "surrogate_key",
                "wrong_type",
                "too_big",
                "dup_broken",
                "legacy_latency",
            ]
        )
    )
    legacy_only = False
    if defect == "deep":
        levels = draw(st.integers(MAX_NESTING_DEPTH, 1100))
        built.raw_fields.append(("deep", nested_text(levels)))
    elif defect == "nan":
        built.raw_fields.append(("x", "NaN"))
    elif defect == "infinity":
        built.raw_fields.append(("x", draw(st.sampled_from(["Infinity", "-Infinity", "1e400"]))))
    elif defect == "huge_literal":
        built.raw_fields.append(("x", "1" + "0" * draw(st.integers(400, 1000))))
    elif defect == "surrogate_value":
        name = draw(st.sampled_from(["channel_watched", "user_id", "extra"]))
        built.event[name] = "ok" + chr(draw(st.integers(0xD800, 0xDFFF)))
    elif defect == "surrogate_key":
        built.event["k" + chr(draw(st.integers(0xD800, 0xDFFF)))] = 1
    elif defect == "wrong_type":
        name = draw(
            st.sampled_from(["is_live", "client_platform", "channel_watched", "event_time"])
        )
        built.event[name] = draw(st.sampled_from([[1], {"a": 1}, [], {}]))
    elif defect == "too_big":
        built.event["event_time"] = draw(st.sampled_from([2**64 - 1, 2**70, 1e306, -1]))
    elif defect == "dup_broken":  # a duplicate key: the last value wins, and it is not valid
        built.raw_fields.append(("is_live", '{"x": 1}'))
    elif defect == "legacy_latency":
        built.event.pop("live_latency_ms", None)
        built.event["live_latency_sec"] = draw(st.sampled_from([1e306, 1.9e16, "1e400", "NaN"]))
        legacy_only = True
    return Item(built.event["session_id"], built.text(), False, defect, legacy_only)


@st.composite
def mixed_batches(draw: st.DrawFn) -> tuple[bool, list[Item]]:
    legacy = draw(st.booleans())
    items = draw(st.lists(valid_items() | invalid_items(), min_size=1, max_size=8))
    # The old player's latency in seconds is a legacy-only quirk; in a v1 body it is an
    # unknown field like any other, and valid.
    items = [
        Item(i.session_id, i.text, True, i.why) if i.legacy_only and not legacy else i
        for i in items
    ]
    return legacy, items


def mixed_body(legacy: bool, items: list[Item]) -> bytes:
    if legacy:
        return ('{"Records": [' + ", ".join(f'{{"Data": {i.text}}}' for i in items) + "]}").encode()
    return ('{"events": [' + ", ".join(i.text for i in items) + "]}").encode()


def test_a_mixed_batch_stores_exactly_its_valid_events(running_server: RunningServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", running_server.port, timeout=30)
    log = EventLog(running_server.log_path)
    seen = {"valid": 0, "invalid": 0}

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(batch=mixed_batches())
    def check(batch: tuple[bool, list[Item]]) -> None:
        legacy, items = batch
        before = log.count()
        conn.request("POST", "/streams" if legacy else "/v1/events", body=mixed_body(legacy, items))
        response = conn.getresponse()
        reply = orjson.loads(response.read())
        assert response.status < 500, reply
        valid = [i for i in items if i.valid]
        invalid_at = [n for n, i in enumerate(items) if not i.valid]
        assert [r["index"] for r in reply.get("rejected", [])] == invalid_at, (reply, items)
        if valid:
            assert response.status == (207 if invalid_at else 200), reply
            assert reply["accepted"] == len(valid)
        else:
            assert response.status == 400 and reply["accepted"] == 0
        new = [orjson.loads(e.data) for e in log.read(after=before, limit=100)]
        assert sorted(r["session_id"] for r in new) == sorted(i.session_id for i in valid)
        for record in new:
            StoredEvent.from_record(record)
        seen["valid"] += len(valid)
        seen["invalid"] += len(invalid_at)

    try:
        check()
    finally:
        conn.close()
        log.close()
    assert seen["valid"] > 100 and seen["invalid"] > 100, seen
