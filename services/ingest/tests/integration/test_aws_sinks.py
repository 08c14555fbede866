"""Kinesis and Firehose sinks against moto: batching limits, partial failures, retries, give-up.

What landed is read back from the stream / bucket and compared with the records the test built,
never with what the sink says it did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import boto3
import orjson
import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
)

from qos_ingest.adapters import EventSink, SinkRecord
from qos_ingest.adapters.firehose import FirehoseSink
from qos_ingest.adapters.kinesis import KinesisSink
from qos_shared.retry import RetryPolicy
from qos_shared.testing.aws import RecordedSleeps

REGION = "us-east-1"
STREAM = "qos-events"
DELIVERY_STREAM = "qos-events-to-s3"
BUCKET = "qos-raw-events"
KIB = 1024
MIB = 1024 * 1024

# A landed item: (partition key, bytes). Firehose keeps no partition key, so it is None there.
Landed = Counter[tuple[str | None, bytes]]


def make_record(i: int, size: int | None = None, *, session: str | None = None) -> SinkRecord:
    """A JSON event; with `size`, padded so that `data` is exactly `size` bytes long."""
    event_id = f"evt-{i:06d}"
    session_id = session if session is not None else f"sess-{i % 7}"
    body = {"event_id": event_id, "session_id": session_id, "type": "heartbeat", "pad": ""}
    data = orjson.dumps(body)
    if size is not None:
        assert size >= len(data)
        body["pad"] = "x" * (size - len(data))
        data = orjson.dumps(body)
        assert len(data) == size
    return SinkRecord(event_id=event_id, partition_key=session_id, data=data)


def policy(sleeps: RecordedSleeps, max_attempts: int = 4) -> RetryPolicy:
    return RetryPolicy(max_attempts=max_attempts, sleep=sleeps, rand=lambda: 0.5)


# --- a client double in front of moto ---------------------------------------------------------

FailEntry = Callable[[int, Mapping[str, Any]], bool]  # (call number from 1, request entry)
RaiseOnCall = Callable[[int], Exception | None]


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@dataclass
class FlakyClient:
    """Forwards batch puts to moto, except entries `fail_entry` picks (answered with `error_code`)
    and calls for which `raise_on_call` returns an exception. Records every request."""

    real: Any
    error_code: str
    fail_entry: FailEntry = lambda call, entry: False
    raise_on_call: RaiseOnCall = lambda call: None
    calls: list[dict[str, Any]] = field(default_factory=list)
    injected_failures: int = 0

    def put_records(self, **kwargs: Any) -> Mapping[str, Any]:
        return self._put(kwargs, self.real.put_records, "Records", "FailedRecordCount")

    def put_record_batch(self, **kwargs: Any) -> Mapping[str, Any]:
        return self._put(kwargs, self.real.put_record_batch, "RequestResponses", "FailedPutCount")

    def _put(
        self,
        kwargs: dict[str, Any],
        forward: Callable[..., Mapping[str, Any]],
        entries_key: str,
        failed_key: str,
    ) -> Mapping[str, Any]:
        self.calls.append(kwargs)
        call = len(self.calls)
        exc = self.raise_on_call(call)
        if exc is not None:
            raise exc
        entries = kwargs["Records"]
        failing = [self.fail_entry(call, entry) for entry in entries]
        forwarded = [e for e, fail in zip(entries, failing, strict=True) if not fail]
        accepted = iter(
            forward(**{**kwargs, "Records": forwarded})[entries_key] if forwarded else []
        )
        results = []
        for fail in failing:
            if fail:
                message = f"Injected {self.error_code}"
                results.append({"ErrorCode": self.error_code, "ErrorMessage": message})
            else:
                results.append(next(accepted))
        self.injected_failures += sum(failing)
        return {failed_key: sum(failing), entries_key: results}

    def batch_sizes(self) -> list[int]:
        return [len(call["Records"]) for call in self.calls]


# --- per-service harness: create the destination, build the sink, read back what landed -------


class Service(NamedTuple):
    """What the tests know of a service from its documentation (never read from the sink)."""

    name: str
    throttle_code: str
    max_batch_bytes: int
    max_record_bytes: int
    sink: Callable[[Any, str, RetryPolicy], EventSink]
    destination: str


KINESIS = Service(
    "kinesis", "ProvisionedThroughputExceededException", 5 * MIB, MIB, KinesisSink, STREAM
)
FIREHOSE = Service(
    "firehose", "ServiceUnavailableException", 4 * MIB, 1000 * KIB, FirehoseSink, DELIVERY_STREAM
)


def kinesis_payload(record: SinkRecord) -> int:
    return len(record.data) + len(record.partition_key.encode())


def kinesis_expected(records: Sequence[SinkRecord]) -> Landed:
    return Counter((r.partition_key, r.data) for r in records)


def firehose_payload(record: SinkRecord) -> int:
    return len(record.data) + (0 if record.data.endswith(b"\n") else 1)


def firehose_expected(records: Sequence[SinkRecord]) -> Landed:
    return Counter((None, r.data if r.data.endswith(b"\n") else r.data + b"\n") for r in records)


@dataclass
class Harness:
    spec: Service
    client: Any
    landed: Callable[[], Landed]
    expected: Callable[[Sequence[SinkRecord]], Landed]
    payload_size: Callable[[SinkRecord], int]  # bytes the service counts for one record

    def make_sink(self, client: Any, policy: RetryPolicy) -> EventSink:
        return self.spec.sink(client, self.spec.destination, policy)


def kinesis_harness() -> Harness:
    client = boto3.client("kinesis", region_name=REGION)
    client.create_stream(StreamName=STREAM, ShardCount=3)

    def landed() -> Landed:
        found: Landed = Counter()
        for shard in client.list_shards(StreamName=STREAM)["Shards"]:
            iterator = client.get_shard_iterator(
                StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while True:
                page = client.get_records(ShardIterator=iterator, Limit=1000)
                if not page["Records"]:
                    break
                found.update((r["PartitionKey"], r["Data"]) for r in page["Records"])
                iterator = page["NextShardIterator"]
        return found

    return Harness(KINESIS, client, landed, kinesis_expected, kinesis_payload)


def firehose_harness() -> Harness:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    client = boto3.client("firehose", region_name=REGION)
    client.create_delivery_stream(
        DeliveryStreamName=DELIVERY_STREAM,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose-delivery",
            "BucketARN": f"arn:aws:s3:::{BUCKET}",
            "Prefix": "events/",
        },
    )

    def landed() -> Landed:
        found: Landed = Counter()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
                # Every object must be whole JSON lines: ends with a newline, no torn record.
                assert body.endswith(b"\n"), obj["Key"]
                found.update((None, line + b"\n") for line in body[:-1].split(b"\n"))
        return found

    return Harness(FIREHOSE, client, landed, firehose_expected, firehose_payload)


@pytest.fixture(params=["kinesis", "firehose"])
def harness(request: pytest.FixtureRequest, aws: None) -> Harness:
    return kinesis_harness() if request.param == "kinesis" else firehose_harness()


# --- both sinks ------------------------------------------------------------------------------


def test_happy_path_every_record_lands_once(harness: Harness) -> None:
    records = [make_record(i) for i in range(40)]
    sleeps = RecordedSleeps()

    outcome = harness.make_sink(harness.client, policy(sleeps)).put(records)

    assert outcome.failures == []
    assert outcome.retried_records == 0
    assert sleeps.delays == []
    landed = harness.landed()
    assert landed == harness.expected(records)
    assert sum(landed.values()) == 40


def test_record_count_limit_splits_calls_of_at_most_500(harness: Harness) -> None:
    records = [make_record(i) for i in range(1200)]
    client = FlakyClient(harness.client, harness.spec.throttle_code)

    outcome = harness.make_sink(client, policy(RecordedSleeps())).put(records)

    assert outcome.failures == []
    assert client.batch_sizes() == [500, 500, 200]
    # Order is kept across calls, so a session's events are sent in the order given.
    sent = [entry["Data"] for call in client.calls for entry in call["Records"]]
    assert [orjson.loads(d)["event_id"] for d in sent] == [r.event_id for r in records]
    assert harness.landed() == harness.expected(records)


def test_byte_limit_splits_calls(harness: Harness) -> None:
    records = [make_record(i, 600 * KIB) for i in range(20)]
    client = FlakyClient(harness.client, harness.spec.throttle_code)

    outcome = harness.make_sink(client, policy(RecordedSleeps())).put(records)

    assert outcome.failures == []
    # 600 KiB + key: 8 fit in 5 MiB (Kinesis); 600 KiB + newline: 6 fit in 4 MiB (Firehose).
    expected_sizes = {"kinesis": [8, 8, 4], "firehose": [6, 6, 6, 2]}[harness.spec.name]
    assert client.batch_sizes() == expected_sizes
    for call in client.calls:
        call_bytes = sum(
            len(e["Data"]) + len(e.get("PartitionKey", "").encode()) for e in call["Records"]
        )
        assert call_bytes <= harness.spec.max_batch_bytes
    assert harness.landed() == harness.expected(records)


def test_oversize_record_fails_alone_and_the_rest_land(harness: Harness) -> None:
    overhead = harness.payload_size(make_record(1, 100)) - 100  # key bytes, or the newline
    at_limit = make_record(1, harness.spec.max_record_bytes - overhead)
    assert harness.payload_size(at_limit) == harness.spec.max_record_bytes
    over = make_record(2, harness.spec.max_record_bytes - overhead + 1)
    assert harness.payload_size(over) == harness.spec.max_record_bytes + 1
    records = [make_record(0), at_limit, over, make_record(3)]
    client = FlakyClient(harness.client, harness.spec.throttle_code)
    sleeps = RecordedSleeps()

    outcome = harness.make_sink(client, policy(sleeps)).put(records)

    assert [f.index for f in outcome.failures] == [2]
    reason = outcome.failures[0].reason
    assert "RecordTooLarge" in reason
    assert str(harness.spec.max_record_bytes) in reason
    assert sleeps.delays == []
    sent_ids = [orjson.loads(e["Data"])["event_id"] for c in client.calls for e in c["Records"]]
    assert over.event_id not in sent_ids
    assert harness.landed() == harness.expected([records[0], at_limit, records[3]])


def test_partial_failure_on_first_attempt_is_retried_to_success(harness: Harness) -> None:
    records = [make_record(i) for i in range(30)]
    # First call only: every third record is throttled and not forwarded to moto.
    client = FlakyClient(
        harness.client,
        harness.spec.throttle_code,
        fail_entry=lambda call, entry: (
            call == 1 and int(orjson.loads(entry["Data"])["event_id"][4:]) % 3 == 0
        ),
    )
    sleeps = RecordedSleeps()

    outcome = harness.make_sink(client, policy(sleeps)).put(records)

    assert outcome.failures == []
    assert client.injected_failures == 10
    assert outcome.retried_records == client.injected_failures
    assert len(sleeps.delays) == 1
    # The retry carries only the throttled records.
    retried_ids = [orjson.loads(e["Data"])["event_id"] for e in client.calls[1]["Records"]]
    assert retried_ids == [r.event_id for i, r in enumerate(records) if i % 3 == 0]
    assert harness.landed() == harness.expected(records)


def test_connection_error_on_first_call_is_retried(harness: Harness) -> None:
    records = [make_record(i) for i in range(5)]
    client = FlakyClient(
        harness.client,
        harness.spec.throttle_code,
        raise_on_call=lambda call: (
            EndpointConnectionError(endpoint_url="https://example.invalid") if call == 1 else None
        ),
    )
    sleeps = RecordedSleeps()

    outcome = harness.make_sink(client, policy(sleeps)).put(records)

    assert outcome.failures == []
    assert outcome.retried_records == 5
    assert len(client.calls) == 2
    assert len(sleeps.delays) == 1
    assert harness.landed() == harness.expected(records)


def test_persistent_record_failures_give_up_after_max_attempts(harness: Harness) -> None:
    records = [make_record(i) for i in range(12)]
    doomed = {"evt-000004", "evt-000009"}
    client = FlakyClient(
        harness.client,
        harness.spec.throttle_code,
        fail_entry=lambda call, entry: orjson.loads(entry["Data"])["event_id"] in doomed,
    )
    sleeps = RecordedSleeps()

    outcome = harness.make_sink(client, policy(sleeps, max_attempts=3)).put(records)

    assert [f.index for f in outcome.failures] == [4, 9]
    for failure in outcome.failures:
        assert harness.spec.throttle_code in failure.reason
        assert "3 attempts" in failure.reason
    assert client.batch_sizes() == [12, 2, 2]
    assert outcome.retried_records == 4
    assert len(sleeps.delays) == 2
    assert harness.landed() == harness.expected([r for r in records if r.event_id not in doomed])


def test_whole_call_error_every_time_fails_all_after_max_attempts(harness: Harness) -> None:
    records = [make_record(i) for i in range(6)]
    kinesis = harness.spec.name == "kinesis"
    code = "KMSThrottlingException" if kinesis else harness.spec.throttle_code
    operation = "PutRecords" if kinesis else "PutRecordBatch"
    client = FlakyClient(
        harness.client,
        harness.spec.throttle_code,
        raise_on_call=lambda call: client_error(code, "Slow down", operation),
    )
    sleeps = RecordedSleeps()

    outcome = harness.make_sink(client, policy(sleeps, max_attempts=4)).put(records)

    assert [f.index for f in outcome.failures] == list(range(6))
    assert all(f.reason.startswith(f"{code}: Slow down") for f in outcome.failures)
    assert len(client.calls) == 4
    assert outcome.retried_records == 6 * 3
    assert len(sleeps.delays) == 3
    assert harness.landed() == Counter()


def test_missing_stream_fails_at_once_without_retry(harness: Harness) -> None:
    records = [make_record(i) for i in range(3)]
    client = FlakyClient(harness.client, harness.spec.throttle_code)
    sleeps = RecordedSleeps()
    sink = (
        KinesisSink(client, "no-such-stream", policy(sleeps))
        if harness.spec.name == "kinesis"
        else FirehoseSink(client, "no-such-stream", policy(sleeps))
    )

    outcome = sink.put(records)

    assert [f.index for f in outcome.failures] == [0, 1, 2]
    assert all("ResourceNotFoundException" in f.reason for f in outcome.failures)
    assert all("not retryable" in f.reason for f in outcome.failures)
    assert len(client.calls) == 1
    assert sleeps.delays == []
    assert outcome.retried_records == 0


def test_non_retryable_record_error_is_not_retried(harness: Harness) -> None:
    records = [make_record(i) for i in range(4)]
    code = "KMSDisabledException" if harness.spec.name == "kinesis" else "InvalidArgumentException"
    client = FlakyClient(
        harness.client,
        code,
        fail_entry=lambda call, entry: orjson.loads(entry["Data"])["event_id"] == "evt-000001",
    )
    sleeps = RecordedSleeps()

    outcome = harness.make_sink(client, policy(sleeps)).put(records)

    assert [f.index for f in outcome.failures] == [1]
    assert outcome.failures[0].reason.startswith(code)
    assert len(client.calls) == 1
    assert sleeps.delays == []
    assert harness.landed() == harness.expected([r for i, r in enumerate(records) if i != 1])


# --- service specifics -----------------------------------------------------------------------


def test_kinesis_accepts_a_stream_arn(aws: None) -> None:
    harness = kinesis_harness()
    arn = harness.client.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    client = FlakyClient(harness.client, harness.spec.throttle_code)
    records = [make_record(i, session="s-é") for i in range(3)]

    outcome = KinesisSink(client, arn, policy(RecordedSleeps())).put(records)

    assert outcome.failures == []
    assert client.calls[0]["StreamARN"] == arn
    assert "StreamName" not in client.calls[0]
    assert harness.landed() == harness.expected(records)


def test_kinesis_counts_partition_key_utf8_bytes_in_record_size(aws: None) -> None:
    harness = kinesis_harness()
    session = "é" * 10  # 10 characters, 20 bytes
    record = make_record(0, 1 * MIB - 19, session=session)
    outcome = KinesisSink(harness.client, STREAM, policy(RecordedSleeps())).put([record])

    assert [f.index for f in outcome.failures] == [0]
    assert str(1 * MIB + 1) in outcome.failures[0].reason
    assert harness.landed() == Counter()


def test_firehose_does_not_double_a_trailing_newline(aws: None) -> None:
    harness = firehose_harness()
    plain = make_record(0)
    terminated = SinkRecord("evt-000001", "sess-1", make_record(1).data + b"\n")
    client = FlakyClient(harness.client, harness.spec.throttle_code)

    outcome = FirehoseSink(client, DELIVERY_STREAM, policy(RecordedSleeps())).put(
        [plain, terminated]
    )

    assert outcome.failures == []
    assert [e["Data"] for e in client.calls[0]["Records"]] == [
        plain.data + b"\n",
        terminated.data,
    ]
    assert harness.landed() == Counter({(None, plain.data + b"\n"): 1, (None, terminated.data): 1})
