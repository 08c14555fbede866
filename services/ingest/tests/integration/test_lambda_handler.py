"""The Lambda entrypoint: API Gateway proxy events in, responses and EMF metrics out (moto)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import orjson
import pytest

from qos_ingest.entrypoints import lambda_handler
from qos_shared.examples import ORIGINAL_SAMPLE_DATA
from qos_shared.testing.aws import api_gateway_proxy_event

from ..events import ORIGINAL_SAMPLE_BODY, batch, summary

STREAM = "qos-events-test"


@dataclass
class FakeContext:
    function_name: str = "qos-ingest"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:qos-ingest"
    aws_request_id: str = "11111111-2222-3333-4444-555555555555"


def proxy_event(
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    b64: bool = False,
    origin: str | None = None,
) -> dict[str, Any]:
    headers = {"Content-Type": "text/plain", "User-Agent": "Mozilla/5.0 Firefox/133.0"}
    if origin:
        headers["Origin"] = origin
    return api_gateway_proxy_event(method, path, headers, body, base64_body=b64)


@pytest.fixture
def kinesis(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client("kinesis", region_name="us-east-1")
    client.create_stream(StreamName=STREAM, ShardCount=1)
    monkeypatch.setenv("QOS_INGEST_SINK", "kinesis")
    monkeypatch.setenv("QOS_INGEST_STREAM_NAME", STREAM)
    monkeypatch.setenv("QOS_INGEST_CORS_ALLOW_ORIGINS", "https://player.example,https://b.example")
    monkeypatch.setattr(lambda_handler, "_app", None)  # rebuilt from this test's environment
    return client


def stream_records(client: Any) -> list[dict[str, Any]]:
    shard = client.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    iterator = client.get_shard_iterator(
        StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return [orjson.loads(r["Data"]) for r in client.get_records(ShardIterator=iterator)["Records"]]


def emf_metrics(stdout: str) -> dict[str, float]:
    """Sum every EMF metric printed by Powertools (one JSON document per line)."""
    totals: dict[str, float] = {}
    for line in stdout.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(values)
    return totals


def invoke(event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = lambda_handler.handler(event, FakeContext())
    headers = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
    headers.update(response.get("headers") or {})
    return response["statusCode"], orjson.loads(response["body"]), headers


def test_original_payload_reaches_kinesis(kinesis: Any, capsys: pytest.CaptureFixture[str]) -> None:
    status, body, _ = invoke(proxy_event("POST", "/streams", ORIGINAL_SAMPLE_BODY))
    assert (status, body) == (200, {"accepted": 1, "rejected": [], "failed": []})
    (record,) = stream_records(kinesis)
    assert record["session_id"] == ORIGINAL_SAMPLE_DATA["session_id"]
    assert record["live_latency_ms"] == 2000
    assert record["browser_family"] == "Firefox"
    assert "198.51.100.23" not in json.dumps(record)
    assert emf_metrics(capsys.readouterr().out)["AcceptedEvents"] == 1


def test_mixed_batch_with_a_base64_body(kinesis: Any, capsys: pytest.CaptureFixture[str]) -> None:
    events = [summary(), summary(buffering_time_ms=-1), summary(), summary(), {"metric_type": "?"}]
    status, body, _ = invoke(proxy_event("POST", "/v1/events", batch(*events), b64=True))
    assert status == 207
    assert body["accepted"] == 3
    assert [r["index"] for r in body["rejected"]] == [1, 4]
    assert {r["event_id"] for r in stream_records(kinesis)} == {
        events[i]["event_id"] for i in (0, 2, 3)
    }
    metrics = emf_metrics(capsys.readouterr().out)
    assert (metrics["AcceptedEvents"], metrics["RejectedEvents"]) == (3, 2)


def test_bad_input_is_4xx_and_cors_follows_the_origin_list(kinesis: Any) -> None:
    status, body, headers = invoke(
        proxy_event(
            "POST", "/v1/events", b"\x00\xff not json", b64=True, origin="https://b.example"
        )
    )
    assert status == 400
    assert "not valid JSON" in body["error"]
    assert headers["Access-Control-Allow-Origin"] == "https://b.example"
    _, _, headers = invoke(proxy_event("POST", "/v1/events", b"{}", origin="https://evil.example"))
    assert "Access-Control-Allow-Origin" not in headers
    assert stream_records(kinesis) == []


def test_healthz_names_the_sink(kinesis: Any) -> None:
    assert invoke(proxy_event("GET", "/healthz"))[:2] == (200, {"status": "ok", "sink": "kinesis"})


def test_a_missing_stream_is_503_not_acknowledged(
    kinesis: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QOS_INGEST_STREAM_NAME", "no-such-stream")
    status, body, headers = invoke(proxy_event("POST", "/v1/events", batch(summary())))
    assert status == 503
    assert body["accepted"] == 0
    assert "ResourceNotFoundException" in body["failed"][0]["reason"]
    assert headers["Retry-After"] == "5"
    assert emf_metrics(capsys.readouterr().out)["FailedEvents"] == 1
