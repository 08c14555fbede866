"""Amazon IVS stream events end to end in ingest: `POST /eventbridge` on the local server (into
the event log) and the EventBridge rule's Lambda handler (into Kinesis, moto)."""

from __future__ import annotations

import time
from typing import Any

import boto3
import orjson
import pytest

from qos_ingest.entrypoints import eventbridge_handler
from qos_shared.testing.ivs import eventbridge_event, stored_record

from .conftest import RunningServer
from .test_lambda_handler import STREAM, FakeContext, emf_metrics, stream_records


def _events(n: int) -> list[dict[str, Any]]:
    now = time.time_ns() // 1_000_000
    names = ["Stream Start", "Stream Starvation Start", "Stream Starvation End", "Stream End"]
    return [
        eventbridge_event(names[i % 4], channel_id="chan1", stream_id="st-9", time_ms=now - 9_000)
        for i in range(n)
    ]


def _without_received_at(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "received_at"}


def test_local_endpoint_stores_each_valid_event_and_rejects_the_others(
    running_server: RunningServer,
) -> None:
    good = _events(3)
    body = orjson.dumps([good[0], {"source": "aws.ivs"}, good[1], good[2], good[0]])
    status, reply, _ = running_server.post("/eventbridge", body)
    assert status == 207
    assert reply["accepted"] == 4
    assert [r["index"] for r in reply["rejected"]] == [1]
    stored = running_server.stored()
    # The redelivered first event is put again with the same id; the log keeps one.
    assert [_without_received_at(r) for r in stored] == [
        _without_received_at(stored_record(e, 0)) for e in good
    ]


def test_local_endpoint_takes_a_single_event_and_refuses_a_bad_body(
    running_server: RunningServer,
) -> None:
    (event,) = _events(1)
    status, reply, _ = running_server.post("/eventbridge", orjson.dumps(event))
    assert (status, reply["accepted"]) == (200, 1)
    status, reply, _ = running_server.post("/eventbridge", b"not json")
    assert status == 400
    assert "not valid JSON" in reply["error"]
    status, reply, _ = running_server.post("/eventbridge", orjson.dumps([{"source": "x"}]))
    assert (status, reply["accepted"]) == (400, 0)
    assert len(running_server.stored()) == 1


@pytest.fixture
def kinesis(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client("kinesis", region_name="us-east-1")
    client.create_stream(StreamName=STREAM, ShardCount=1)
    monkeypatch.setenv("QOS_INGEST_SINK", "kinesis")
    monkeypatch.setenv("QOS_INGEST_STREAM_NAME", STREAM)
    monkeypatch.setattr(eventbridge_handler, "_service", None)  # rebuilt from this environment
    return client


def test_lambda_puts_the_record_into_the_stream(
    kinesis: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    (event,) = _events(1)
    reply = eventbridge_handler.handler(event, FakeContext())
    assert reply["status"] == 200
    (record,) = stream_records(kinesis)
    assert _without_received_at(record) == _without_received_at(stored_record(event, 0))
    assert emf_metrics(capsys.readouterr().out)["AcceptedStreamEvents"] == 1


def test_lambda_drops_an_invalid_event_without_a_retry(
    kinesis: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    reply = eventbridge_handler.handler({"source": "aws.ivs", "detail": {}}, FakeContext())
    assert reply["status"] == 400
    assert stream_records(kinesis) == []
    assert emf_metrics(capsys.readouterr().out)["RejectedStreamEvents"] == 1


def test_lambda_raises_when_the_stream_is_unavailable_so_the_event_is_retried(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QOS_INGEST_SINK", "kinesis")
    monkeypatch.setenv("QOS_INGEST_STREAM_NAME", "no-such-stream")
    monkeypatch.setenv("QOS_INGEST_SINK_MAX_ATTEMPTS", "1")
    monkeypatch.setattr(eventbridge_handler, "_service", None)
    (event,) = _events(1)
    with pytest.raises(eventbridge_handler.StreamEventNotStored):
        eventbridge_handler.handler(event, FakeContext())
