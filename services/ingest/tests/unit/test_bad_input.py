"""Bad input costs only itself: each shape that once failed a whole request is one rejection."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from qos_ingest.domain import IngestConfig, IngestRequest, ingest
from qos_shared.events import StoredEvent
from qos_shared.limits import MAX_NESTING_DEPTH

from ..events import NOW_MS, summary


def request(
    body: bytes, headers: dict[str, str] | None = None, *, trusted: bool = True
) -> IngestRequest:
    return IngestRequest(body, headers or {}, NOW_MS, edge_trusted=trusted)


def nested(levels: int) -> Any:
    """`levels` arrays inside one another around a 1 (1 level: [1])."""
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def legacy(*data: dict[str, Any]) -> bytes:
    return json.dumps({"Records": [{"Data": d} for d in data]}).encode()


def v1(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def without_id(**overrides: Any) -> dict[str, Any]:
    """A valid event with no event_id (the server derives one: the path that once failed)."""
    event = summary(**overrides)
    del event["event_id"]
    return event


def outcome(body: bytes) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    result = ingest(request(body), IngestConfig())
    records = [orjson.loads(a.data) for a in result.accepted]
    for record in records:
        StoredEvent.from_record(record)
    return records, [(r.index, r.reason) for r in result.rejected]


@pytest.mark.parametrize("levels", [MAX_NESTING_DEPTH, 300, 1020])
def test_deep_nesting_in_an_unknown_field_rejects_that_event_alone(levels: int) -> None:
    good = without_id()
    # Written by hand: Python's encoder cannot nest 1020 levels either.
    deep = b"[" * levels + b"1" + b"]" * levels
    bad = json.dumps(without_id())[:-1].encode() + b', "blob": ' + deep + b"}"
    body = b'{"events": [' + bad + b", " + json.dumps(good).encode() + b"]}"
    records, rejected = outcome(body)
    assert [r["session_id"] for r in records] == [good["session_id"]]
    assert rejected == [(0, f"objects and arrays nest deeper than {MAX_NESTING_DEPTH} levels")]


def test_nesting_up_to_the_limit_is_kept_as_text() -> None:
    # The event is level 1: an unknown field may nest MAX_NESTING_DEPTH - 1 levels.
    levels = MAX_NESTING_DEPTH - 1
    records, rejected = outcome(v1(without_id(blob=nested(levels))))
    assert rejected == []
    assert records[0]["extra_fields"]["blob"] == "[" * levels + "1" + "]" * levels


@pytest.mark.parametrize(
    ("seconds", "reason"),
    [
        (1e306, "live_latency_sec is out of range"),
        (1.9e16, "live_latency_sec is out of range"),  # once an integer over 2**64
        ("1e400", "live_latency_sec is out of range"),
        ("Infinity", "live_latency_sec is out of range"),
        ("NaN", "live_latency_sec is not a number"),
        (10**400, "a number is not finite"),  # read by Python's reader, as a double
    ],
)
@pytest.mark.parametrize("metric_type", ["PLAYBACK_SUMMARY", "STOP"])
def test_an_absurd_old_player_latency_rejects_that_record_alone(
    seconds: Any, reason: str, metric_type: str
) -> None:
    bad = without_id(metric_type=metric_type, live_latency_sec=seconds)
    bad.pop("live_latency_ms", None)
    good = without_id()
    records, rejected = outcome(legacy(bad, good))
    assert [r["session_id"] for r in records] == [good["session_id"]]
    ((index, why),) = rejected
    assert index == 0 and why.startswith(reason)


def test_a_plausible_old_player_latency_on_a_stop_is_kept_bounded() -> None:
    bad = without_id(metric_type="STOP", live_latency_sec=12.5)
    bad.pop("live_latency_ms", None)
    records, rejected = outcome(legacy(bad))
    assert rejected == []
    assert records[0]["extra_fields"]["live_latency_ms"] == 12_500


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'"\\ud800"', "unpaired UTF-16 surrogate"),
        (b"NaN", "not finite"),
        (b"-Infinity", "not finite"),
        (b"1e400", "not finite"),
        (b"1" + b"0" * 400, "not finite"),
    ],
)
def test_values_orjson_refuses_reject_their_event_alone(raw: bytes, reason: str) -> None:
    """A browser's JSON.stringify writes a cut emoji as a lone surrogate escape; Python's writes
    NaN: the body is read again leniently and only the event holding the value is rejected."""
    good, bad = without_id(), without_id()
    bad_json = json.dumps(bad)[:-1].encode() + b', "note": ' + raw + b"}"
    body = b'{"events": [' + json.dumps(good).encode() + b", " + bad_json + b"]}"
    records, rejected = outcome(body)
    assert [r["session_id"] for r in records] == [good["session_id"]]
    ((index, why),) = rejected
    assert index == 1 and reason in why


def test_a_lone_surrogate_in_a_typed_field_or_key_rejects_that_event() -> None:
    body = v1(without_id(channel_watched="a\ud83d"), without_id(**{"k\udc00": 1}), without_id())
    records, rejected = outcome(body)
    assert len(records) == 1
    assert [index for index, _ in rejected] == [0, 1]


def test_duplicate_keys_the_last_one_wins() -> None:
    event = without_id(channel_watched="first")
    text = json.dumps(event)[:-1] + ', "channel_watched": "second"}'
    records, rejected = outcome(('{"events": [' + text + "]}").encode())
    assert rejected == [] and records[0]["channel_watched"] == "second"


def test_control_characters_and_unicode_are_stored_as_sent() -> None:
    text = "ch\u00e9\u4e2d\U0001f3ac\u202e\x00\x1f\x7f"
    records, rejected = outcome(v1(without_id(channel_watched=text, error_message=text)))
    assert rejected == []
    assert records[0]["channel_watched"] == text


def test_integers_at_the_64_bit_edges_in_unknown_fields() -> None:
    values = {"a": 2**64 - 1, "b": -(2**63), "c": 2**64, "d": -(2**63) - 1}
    records, rejected = outcome(v1(without_id(**values)))
    assert rejected == []
    extras = records[0]["extra_fields"]
    # orjson reads integers outside 64 bits as doubles; within, large ones are kept as text.
    assert extras == {"a": str(2**64 - 1), "b": str(-(2**63)), "c": 2.0**64, "d": -(2.0**63)}


def test_spoofed_viewer_headers_and_fields_are_ignored_off_the_edge() -> None:
    headers = {
        "cloudfront-viewer-country": "KP",
        "cloudfront-viewer-latitude": "39.0",
        "cloudfront-viewer-longitude": "125.7",
        "cloudfront-is-smarttv-viewer": "true",
    }
    event = summary(
        **{"CloudFront-Viewer-City": "Pyongyang", "CloudFront-Is-Tablet-Viewer": "true"}
    )
    body = v1(event)
    untrusted = orjson.loads(
        ingest(request(body, headers, trusted=False), IngestConfig()).accepted[0].data
    )
    for name in (
        "viewer_country",
        "viewer_latitude",
        "viewer_longitude",
        "viewer_city",
        "device_class",
    ):
        assert name not in untrusted
    assert "extra_fields" not in untrusted  # the claimed fields are dropped, not kept as extras
    trusted = orjson.loads(ingest(request(body, headers), IngestConfig()).accepted[0].data)
    assert trusted["viewer_country"] == "KP" and trusted["device_class"] == "smarttv"
    assert trusted["viewer_city"] == "Pyongyang"
