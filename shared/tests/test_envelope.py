"""Request bodies: the project's batch, the original envelope, and the old player's quirks."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from qos_shared.envelope import BodyError, ItemError, TooManyEvents, parse_body

from .conftest import common


def body(document: Any) -> bytes:
    return orjson.dumps(document)


def test_original_envelope_with_object_data(sample_data: dict[str, Any]) -> None:
    parsed = parse_body(body({"Records": [{"Data": sample_data}]}), max_events=500)
    assert parsed.format == "legacy"
    assert parsed.items == [sample_data]


def test_original_envelope_with_string_and_base64_data(sample_data: dict[str, Any]) -> None:
    text = orjson.dumps(sample_data).decode()
    encoded = base64.b64encode(text.encode()).decode()
    parsed = parse_body(body({"Records": [{"Data": text}, {"Data": encoded}]}), max_events=500)
    assert parsed.items == [sample_data, sample_data]


def test_bad_records_are_item_errors_beside_good_ones(sample_data: dict[str, Any]) -> None:
    records = [{"Data": sample_data}, {"NotData": 1}, {"Data": 7}, "x", {"Data": "not json"}]
    parsed = parse_body(body({"Records": records}), max_events=500)
    assert parsed.items[0] == sample_data
    assert all(isinstance(item, ItemError) for item in parsed.items[1:])


@pytest.mark.parametrize(
    ("given", "expected_ms"),
    [(3, 3000), ("3", 3000), (" 2.5 ", 2500), (0.0, 0), (-1, None), ("-1", None)],
)
def test_old_player_live_latency_seconds(
    sample_data: dict[str, Any], given: Any, expected_ms: int | None
) -> None:
    del sample_data["live_latency_ms"]
    sample_data["live_latency_sec"] = given
    (item,) = parse_body(body({"Records": [{"Data": sample_data}]}), max_events=5).items
    assert isinstance(item, dict)
    assert "live_latency_sec" not in item
    assert item.get("live_latency_ms") == expected_ms


def test_old_player_minus_one_latency_means_not_live(sample_data: dict[str, Any]) -> None:
    sample_data["live_latency_ms"] = -1
    (item,) = parse_body(body({"Records": [{"Data": sample_data}]}), max_events=5).items
    assert isinstance(item, dict)
    assert "live_latency_ms" not in item


def test_unparseable_latency_string_is_left_for_the_model_to_reject(
    sample_data: dict[str, Any],
) -> None:
    del sample_data["live_latency_ms"]
    sample_data["live_latency_sec"] = "soon"
    (item,) = parse_body(body({"Records": [{"Data": sample_data}]}), max_events=5).items
    assert isinstance(item, dict)
    assert item["live_latency_ms"] == "soon"


def test_project_batch_bare_list_and_single_event() -> None:
    event = common(metric_type="STOP")
    for document in ({"events": [event, event]}, [event, event]):
        parsed = parse_body(body(document), max_events=500)
        assert (parsed.format, parsed.items) == ("v1", [event, event])
    assert parse_body(body(event), max_events=500).items == [event]


def test_the_batch_carries_the_client_clock_at_send_time() -> None:
    event = common(metric_type="STOP")
    assert parse_body(
        body({"events": [event], "sent_at": 1_733_580_000_123}), max_events=5
    ).sent_at == (1_733_580_000_123)
    for document in ({"events": [event]}, {"events": [event], "sent_at": None}, [event], event):
        assert parse_body(body(document), max_events=5).sent_at is None
    # The original envelope has no sent_at: one sent anyway is not read.
    legacy = {"Records": [{"Data": event}], "sent_at": 1_733_580_000_123}
    assert parse_body(body(legacy), max_events=5).sent_at is None


@pytest.mark.parametrize(
    "value", ["1733580000000", 1_733_580_000_000.5, True, -1, 10**17, [1], {"ms": 1}]
)
def test_a_bad_sent_at_is_an_error_of_the_body(value: Any) -> None:
    document = {"events": [common(metric_type="STOP")], "sent_at": value}
    with pytest.raises(BodyError, match="'sent_at' must be"):
        parse_body(body(document), max_events=5)


def test_non_object_events_are_item_errors() -> None:
    parsed = parse_body(body({"events": [common(metric_type="STOP"), 3, None]}), max_events=500)
    assert [isinstance(i, ItemError) for i in parsed.items] == [False, True, True]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty body"),
        (b"{not json", "not valid JSON"),
        (b'"a string"', "expected a JSON object"),
        (b'{"events": {}}', "'events' must be a list"),
        (b'{"Records": 5}', "'Records' must be a list"),
        (b'{"events": []}', "no events"),
    ],
)
def test_unusable_bodies_raise_a_clear_error(raw: bytes, message: str) -> None:
    with pytest.raises(BodyError, match=message):
        parse_body(raw, max_events=500)


def test_too_many_events() -> None:
    with pytest.raises(TooManyEvents, match="501 events in one request; the limit is 500"):
        parse_body(body({"events": [{}] * 501}), max_events=500)
