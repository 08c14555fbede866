"""Amazon IVS stream events (EventBridge) to stored records: conversion, rejections, redelivery.

Expected records come from `qos_shared.testing.ivs.stored_record`, written from the contract,
not from ingest's code.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from qos_ingest.adapters.local_log import LocalLogSink
from qos_ingest.domain import IngestConfig
from qos_ingest.domain.stream_events import parse_body, stream_records
from qos_ingest.service import IngestService
from qos_shared.envelope import BodyError, TooManyEvents
from qos_shared.eventlog import EventLog
from qos_shared.events import StoredEvent
from qos_shared.limits import RequestLimits
from qos_shared.testing.ivs import eventbridge_event, iso_time, stored_record

NOW_MS = 1_765_000_000_000
LIMITS = RequestLimits()


def _event(name: str = "Stream Start", **overrides: Any) -> dict[str, Any]:
    return eventbridge_event(
        name, channel_id="xhP3ExfcX8ON", stream_id="st-1", time_ms=NOW_MS - 5_000, **overrides
    )


def _records(*events: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    result = stream_records(list(events), NOW_MS, LIMITS)
    return [orjson.loads(a.data) for a in result.accepted], [r.as_dict() for r in result.rejected]


@pytest.mark.parametrize(
    "name",
    [
        "Session Created",
        "Session Ended",
        "Stream Start",
        "Stream End",
        "Stream Failure",
        "Stream Starvation Start",
        "Stream Starvation End",
    ],
)
def test_each_event_becomes_the_contracts_record(name: str) -> None:
    event = _event(name)
    (record,), rejected = _records(event)
    assert rejected == []
    assert record == stored_record(event, NOW_MS)
    assert record["metric_type"] == (
        "STREAM_HEALTH" if name.startswith("Stream Starvation") else "STREAM_STATE"
    )
    # What every consumer parses back.
    parsed = StoredEvent.from_record(record)
    assert parsed.event_id == record["event_id"]
    assert parsed.enrichment.source_format == "eventbridge"


def test_channel_watched_is_the_channel_id_the_sdk_reports() -> None:
    # The SDK's channel_watched for https://…/api/video/v1/us-west-2.123456789012.channel.
    # xhP3ExfcX8ON.m3u8 is "xhP3ExfcX8ON" (player/src/monitor.js channelFromUrl).
    (record,), _ = _records(_event())
    assert record["channel_watched"] == "xhP3ExfcX8ON"
    assert record["channel_arn"] == "arn:aws:ivs:us-west-2:123456789012:channel/xhP3ExfcX8ON"
    assert record["session_id"] == record["stream_id"] == "st-1"


def test_a_redelivered_event_is_the_same_record_and_another_event_is_not() -> None:
    event = _event()
    again = orjson.loads(orjson.dumps(event))
    other = _event(event_id="another-id")
    first, second, third = _records(event, again, other)[0]
    assert first == second
    assert third["event_id"] != first["event_id"]


def test_health_details_beyond_the_known_ones_are_kept_in_extra_fields() -> None:
    nested = {"a": [1, 2, {"b": "c"}]}
    event = _event(
        "Stream Starvation Start",
        extra_detail={"incoming_bitrate": 812_345, "note": "x" * 1000, "nested": nested},
    )
    (record,), _ = _records(event)
    assert record["extra_fields"] == {
        "incoming_bitrate": 812_345,
        "note": "x" * 256,
        "nested": '{"a":[1,2,{"b":"c"}]}',
    }


def test_a_time_ahead_of_the_server_is_clamped_and_a_stale_one_rejected() -> None:
    ahead = _event()
    ahead["time"] = iso_time(NOW_MS + LIMITS.max_future_skew_ms + 60_000)
    stale = _event()
    stale["time"] = iso_time(NOW_MS - LIMITS.max_event_age_ms - 60_000)
    (record,), rejected = _records(ahead, stale)
    assert (record["event_time"], record["event_time_source"]) == (NOW_MS, "clamped")
    assert [r["index"] for r in rejected] == [1]
    assert rejected[0]["reason"].startswith("time: older than")


def _without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    copy: dict[str, Any] = orjson.loads(orjson.dumps(event))
    target = copy
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return copy


def _with(event: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    copy: dict[str, Any] = orjson.loads(orjson.dumps(event))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


BAD = [
    ("not an object", ["Stream Start"], "an EventBridge event is a JSON object"),
    ("another source", _with(_event(), "aws.ec2", "source"), "source:"),
    (
        "another detail-type",
        _with(_event(), "IVS Recording State Change", "detail-type"),
        "detail-type:",
    ),
    ("no id", _without(_event(), "id"), "id:"),
    ("no channel ARN", _with(_event(), ["arn:aws:s3:::bucket"], "resources"), "resources:"),
    ("no resources", _without(_event(), "resources"), "resources:"),
    ("no detail", _without(_event(), "detail"), "detail:"),
    ("no stream id", _without(_event(), "detail", "stream_id"), "detail.stream_id:"),
    ("no event name", _without(_event(), "detail", "event_name"), "detail.event_name:"),
    ("a numeric event name", _with(_event(), 7, "detail", "event_name"), "detail.event_name:"),
    ("no time", _without(_event(), "time"), "time:"),
    ("a time without a zone", _with(_event(), "2026-12-07T17:19:01", "time"), "time:"),
    ("not a time", _with(_event(), "yesterday", "time"), "time:"),
    (
        "a stream id too long",
        _with(_event(), "s" * 500, "detail", "stream_id"),
        "detail.stream_id:",
    ),
]


@pytest.mark.parametrize(("case", "event", "reason"), BAD, ids=[c for c, _, _ in BAD])
def test_a_bad_event_is_rejected_alone_with_its_reason(case: str, event: Any, reason: str) -> None:
    good = _event()
    accepted, rejected = _records(good, event, good)
    assert len(accepted) == 2, case
    assert len(rejected) == 1
    assert rejected[0]["index"] == 1
    assert rejected[0]["reason"].startswith(reason), rejected[0]["reason"]


def test_a_client_cannot_send_a_stream_record_as_an_event(tmp_path: Any) -> None:
    """Stream records come from EventBridge only: /v1/events rejects their metric types."""
    from qos_ingest.domain import IngestRequest

    service = IngestService(IngestConfig(), LocalLogSink(EventLog(tmp_path / "log.sqlite")))
    forged = stored_record(_event(), NOW_MS)
    forged.update(client_platform="web")
    reply = service.handle(
        IngestRequest(orjson.dumps({"events": [forged]}), {}, received_at_ms=NOW_MS)
    )
    assert reply.status == 400
    assert reply.body["accepted"] == 0
    assert "metric_type" in reply.body["rejected"][0]["reason"]


def test_body_one_event_or_a_list() -> None:
    event = _event()
    assert parse_body(orjson.dumps(event), LIMITS) == [event]
    assert parse_body(orjson.dumps([event, event]), LIMITS) == [event, event]
    for body in (b"", b"[]", b"{", b"\xff"):
        with pytest.raises(BodyError):
            parse_body(body, LIMITS)
    with pytest.raises(TooManyEvents):
        parse_body(orjson.dumps([event] * (LIMITS.max_events + 1)), LIMITS)
