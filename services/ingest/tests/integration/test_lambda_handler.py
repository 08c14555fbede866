"""The Lambda entrypoint: API Gateway proxy events in, responses and EMF metrics out (moto)."""

from __future__ import annotations

import hashlib
import hmac
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
PSEUDONYM_KEY = "k" * 24 + "-pseudonym"
CLOUDFRONT = {
    "CloudFront-Viewer-Country": "JP",
    "CloudFront-Viewer-Latitude": "35.68",
    "CloudFront-Viewer-Longitude": "139.69",
    "CloudFront-Is-Tablet-Viewer": "true",
}


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
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    headers = {"Content-Type": "text/plain", "User-Agent": "Mozilla/5.0 Firefox/133.0"}
    if origin:
        headers["Origin"] = origin
    headers.update(extra or {})
    return api_gateway_proxy_event(method, path, headers, body, base64_body=b64)


@pytest.fixture
def kinesis(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client("kinesis", region_name="us-east-1")
    client.create_stream(StreamName=STREAM, ShardCount=1)
    monkeypatch.setenv("QOS_INGEST_SINK", "kinesis")
    monkeypatch.setenv("QOS_INGEST_STREAM_NAME", STREAM)
    monkeypatch.setenv("QOS_INGEST_CORS_ALLOW_ORIGINS", "https://player.example,https://b.example")
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name="qos/ingest/pseudonym", SecretString=PSEUDONYM_KEY)["ARN"]
    monkeypatch.setenv("QOS_INGEST_PSEUDONYM_KEY_SECRET_ARN", arn)
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


def test_user_ids_are_pseudonymised_with_the_secrets_key(kinesis: Any) -> None:
    status, _, _ = invoke(proxy_event("POST", "/v1/events", batch(summary(user_id="viewer-9"))))
    assert status == 200
    (record,) = stream_records(kinesis)
    expected = hmac.new(PSEUDONYM_KEY.encode(), b"viewer-9", hashlib.sha256).hexdigest()[:32]
    assert record["user_id"] == expected and record["user_id_pseudonymised"] is True


def test_no_pseudonymisation_key_fails_the_start_and_stores_nothing(
    kinesis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QOS_INGEST_PSEUDONYM_KEY_SECRET_ARN")
    with pytest.raises(RuntimeError, match="QOS_INGEST_PSEUDONYM_KEY_SECRET_ARN"):
        invoke(proxy_event("POST", "/v1/events", batch(summary(user_id="viewer-9"))))
    assert stream_records(kinesis) == []


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD", "GET"])
def test_other_methods_are_a_json_405_with_allow(kinesis: Any, method: str) -> None:
    status, body, headers = invoke(proxy_event(method, "/v1/events", batch(summary())))
    assert status == 405 and method in body["error"]
    assert headers["Allow"] == "POST, OPTIONS"
    status, _, headers = invoke(proxy_event("DELETE", "/healthz"))
    assert status == 405 and headers["Allow"] == "GET, OPTIONS"
    assert stream_records(kinesis) == []


def test_viewer_headers_without_the_edge_are_not_stored(kinesis: Any) -> None:
    event = summary(**{"CloudFront-Viewer-City": "Osaka"})
    assert invoke(proxy_event("POST", "/v1/events", batch(event), extra=CLOUDFRONT))[0] == 200
    (record,) = stream_records(kinesis)
    assert not {"viewer_country", "viewer_latitude", "viewer_city", "device_class"} & set(record)


@pytest.fixture
def origin_secret(kinesis: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name="qos/ingest/origin", SecretString="first-origin-value")["ARN"]
    monkeypatch.setenv("QOS_INGEST_ORIGIN_SECRET_ARN", arn)
    monkeypatch.setenv("QOS_INGEST_ORIGIN_SECRET_MIN_REFRESH_S", "0")  # see a rotation at once
    return secrets, arn


def test_with_an_origin_secret_only_the_edge_is_heard(kinesis: Any, origin_secret: Any) -> None:
    secrets, arn = origin_secret
    spoofed = {**CLOUDFRONT, "x-qos-origin-verify": "guessed"}
    for headers in (CLOUDFRONT, spoofed):
        status, body, _ = invoke(proxy_event("POST", "/v1/events", batch(summary()), extra=headers))
        assert status == 403 and "edge" in body["error"]
    assert stream_records(kinesis) == []

    edge = {**CLOUDFRONT, "X-Qos-Origin-Verify": "first-origin-value"}
    assert invoke(proxy_event("POST", "/v1/events", batch(summary()), extra=edge))[0] == 200
    (record,) = stream_records(kinesis)
    assert record["viewer_country"] == "JP" and record["device_class"] == "tablet"
    assert record["viewer_latitude"] == pytest.approx(35.68)

    # A rotation: the new value is AWSCURRENT, the old one AWSPREVIOUS; both are accepted.
    secrets.put_secret_value(SecretId=arn, SecretString="second-origin-value")
    for value in ("second-origin-value", "first-origin-value"):
        headers = {"x-qos-origin-verify": value}
        assert invoke(proxy_event("POST", "/v1/events", batch(summary()), extra=headers))[0] == 200
    assert len(stream_records(kinesis)) == 3
