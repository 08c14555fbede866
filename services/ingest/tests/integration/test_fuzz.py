"""Property-based: any bytes or JSON at the endpoint: never a 5xx, never a stored invalid event."""

from __future__ import annotations

import http.client
import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qos_shared.eventlog import EventLog
from qos_shared.events import METRIC_TYPES, StoredEvent

from ..events import summary
from .conftest import RunningServer

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300)
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
    "live_latency_sec": st.text(max_size=6) | json_scalars,
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
bodies = st.one_of(
    st.binary(max_size=2000),
    # The stdlib encoder, because it writes integers of any size, as a client may.
    envelopes.map(lambda doc: json.dumps(doc).encode()),
)


def _stored_count(log: EventLog) -> int:
    return log.count()


def test_arbitrary_input_never_5xx_and_never_stores_invalid(running_server: RunningServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", running_server.port, timeout=30)
    log = EventLog(running_server.log_path)

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
