"""moto behind every AWS API, with fake credentials, for the services' integration tests; the
event API Gateway hands a proxy-integrated Lambda; and the one a Kinesis event source mapping
hands a Lambda."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from unittest import mock

# Set for the duration, so that a test can never sign a request for a real account.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def mocked_aws() -> Iterator[None]:
    """moto for every AWS API while inside; the environment is restored on the way out.

    Needs `moto` (the services' `test` extra); a pytest fixture is `with mocked_aws(): yield`.
    """
    from moto import mock_aws  # imported here: qos_shared itself does not depend on moto

    with mock.patch.dict(os.environ, FAKE_CREDENTIALS), mock_aws():
        yield


class RecordedSleeps:
    """A `RetryPolicy.sleep` that records each delay instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def api_gateway_proxy_event(
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    source_ip: str = "198.51.100.23",
    request_id: str = "req-1",
    base64_body: bool = False,
) -> dict[str, Any]:
    """The event API Gateway's REST API sends a Lambda proxy integration (payload format 1.0),
    stage `prod`; a body that is not UTF-8 (or any, with `base64_body`) goes base64-encoded, as
    API Gateway sends binary media types."""
    text: str | None = None
    encoded = False
    if body is not None:
        try:
            text = None if base64_body else body.decode()
        except UnicodeDecodeError:
            text = None
        if text is None:
            text, encoded = base64.b64encode(body).decode(), True
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": request_id,
            "accountId": "123456789012",
            "apiId": "api1",
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent")},
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def kinesis_stream_event(
    payloads: Sequence[bytes | str],
    *,
    stream_arn: str = "arn:aws:kinesis:us-east-1:123456789012:stream/qos-dev-ingest",
    shard_id: str = "shardId-000000000000",
    first_sequence: int = 49_590_000_000_000_000_000_000_000_000_000_000_000_000_000_000,
    partition_keys: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The event a Kinesis event source mapping hands a Lambda: one record per payload, its data
    base64-encoded (a str payload goes as it is: a test's broken base64), consecutive sequence
    numbers from `first_sequence` on one shard, as Lambda delivers a shard's batch."""
    records = []
    for i, payload in enumerate(payloads):
        data = payload if isinstance(payload, str) else base64.b64encode(payload).decode()
        sequence = str(first_sequence + i)
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": partition_keys[i] if partition_keys else f"pk-{i}",
                    "sequenceNumber": sequence,
                    "data": data,
                    "approximateArrivalTimestamp": 1_795_000_000.0 + i / 1000,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard_id}:{sequence}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/qos-search-indexer",
                "awsRegion": stream_arn.split(":")[3],
                "eventSourceARN": stream_arn,
            }
        )
    return {"Records": records}
