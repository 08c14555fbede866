"""The indexer Lambda's code path end to end against a real OpenSearch node: Kinesis events as
Lambda delivers them (base64 data, sequence numbers), the handler, the node.

The handler runs as on AWS except for signing: the local node has no security plugin and takes
plain HTTP, so the client is built with `sigv4` off (`IndexerLambdaSettings`); a node that ignored
a signature would prove nothing about it. The signing is the unit tests' (`AWSV4SignerAuth` for
`es` with the role's credentials). Dead letters go to the S3 store's code over an in-memory
bucket.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import orjson
import pytest
from opensearchpy import OpenSearch

from qos_search_indexer.adapters.deadletter_store import S3DeadLetterStore
from qos_search_indexer.adapters.opensearch import OpenSearchCluster, client_for
from qos_search_indexer.bootstrap import apply_index_design, build_stream_indexer
from qos_search_indexer.domain.index import INDEX_PATTERN
from qos_search_indexer.entrypoints.indexer_lambda import handle_batch
from qos_search_indexer.service import StreamConfig, StreamIndexer
from qos_search_indexer.settings import IndexerLambdaSettings
from qos_shared.testing.aws import kinesis_stream_event
from qos_shared.testing.sessions import playback_summary, traffic_day

BATCH = 500
FIRST = 49_610_000_000_000_000_000_000_000_000_000_000_000_000_000_000
T0 = 1_795_000_000_000  # 2026-11-18 UTC


class Bucket:
    """put_object into a dict: the S3 dead-letter store's objects, by key."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.objects[kwargs["Key"]] = json.loads(kwargs["Body"])
        return {}


@pytest.fixture
def client(opensearch_url: str) -> Iterator[OpenSearch]:
    client = client_for(opensearch_url)
    apply_index_design(client)
    yield client
    client.indices.delete(index=INDEX_PATTERN, ignore_unavailable=True)
    client.close()


def golden(n: int, seed: int = 3) -> list[bytes]:
    """n stored records of a generated day, as the ingest stream carries them."""
    (chunk, _times), *_ = traffic_day(date(2026, 11, 18), n, seed).chunks(n)
    return chunk


def lambda_indexer(url: str, bucket: Bucket) -> StreamIndexer:
    settings = IndexerLambdaSettings(url=url, sigv4=False, dead_letter_bucket="failed-documents")
    return build_stream_indexer(
        settings, dead_letters=S3DeadLetterStore(bucket, "failed-documents")
    )


def deliver(
    indexer: StreamIndexer, payloads: list[bytes | str], first: int = FIRST
) -> list[dict[str, Any]]:
    """Every batch of `BATCH` records through the handler; the batches' responses."""
    responses = []
    for lo in range(0, len(payloads), BATCH):
        event = kinesis_stream_event(payloads[lo : lo + BATCH], first_sequence=first + lo)
        responses.append(handle_batch(event, None, indexer))  # type: ignore[arg-type]
    return responses


def all_documents(client: OpenSearch) -> dict[str, dict[str, Any]]:
    client.indices.refresh(index=INDEX_PATTERN)
    found: dict[str, dict[str, Any]] = {}
    response = client.search(
        index=INDEX_PATTERN, body={"query": {"match_all": {}}, "size": 5000}, scroll="1m"
    )
    while hits := response["hits"]["hits"]:
        for hit in hits:
            assert hit["_id"] not in found
            found[hit["_id"]] = hit["_source"]
        response = client.scroll(scroll_id=response["_scroll_id"], scroll="1m")
    return found


def expected_document(record: dict[str, Any]) -> dict[str, Any]:
    """The record, plus viewer_location where both coordinates are numbers."""
    lat, lon = record.get("viewer_latitude"), record.get("viewer_longitude")
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon))
    return {**record, "viewer_location": {"lat": lat, "lon": lon}} if numbers else record


def test_documents_equal_the_events_and_a_redelivery_adds_nothing(
    client: OpenSearch, opensearch_url: str
) -> None:
    payloads: list[bytes | str] = list(golden(2_000))
    records = [orjson.loads(p) for p in payloads]
    bucket = Bucket()
    indexer = lambda_indexer(opensearch_url, bucket)
    responses = deliver(indexer, payloads)
    assert responses == [{"batchItemFailures": []}] * 4
    documents = all_documents(client)
    assert len(documents) == len(records) == 2_000
    assert documents == {r["event_id"]: expected_document(r) for r in records}
    assert any("viewer_location" in d for d in documents.values())
    # The same batches again (a retry, a re-read after a failure): overwritten, not added.
    assert deliver(indexer, payloads) == responses
    assert all_documents(client) == documents
    assert client.count(index=INDEX_PATTERN)["count"] == 2_000
    assert bucket.objects == {}


def test_a_poison_record_in_the_middle_is_dead_lettered_and_the_rest_indexed(
    client: OpenSearch, opensearch_url: str
) -> None:
    records = [playback_summary(i, event_id=f"ev-{i}", event_time=T0 + i * 1000) for i in range(41)]
    records[25]["playing_time_ms"] = "a minute"  # the mapping refuses it (400)
    payloads: list[bytes | str] = [json.dumps(r).encode() for r in records]
    payloads[12] = b'{"event_id": "ev-12", "event_time": '  # cut short: not JSON
    bucket = Bucket()
    (response,) = deliver(lambda_indexer(opensearch_url, bucket), payloads)
    assert response == {"batchItemFailures": []}
    documents = all_documents(client)
    assert set(documents) == {f"ev-{i}" for i in range(41) if i not in (12, 25)}
    assert documents["ev-40"] == records[40]
    assert sorted(bucket.objects) == [f"dead-letters/{FIRST + n}.json" for n in (12, 25)]
    unreadable = bucket.objects[f"dead-letters/{FIRST + 12}.json"]
    assert unreadable["reason"].startswith("not JSON") and unreadable["status"] is None
    assert unreadable["document"] == payloads[12].decode()  # type: ignore[union-attr]
    refused = bucket.objects[f"dead-letters/{FIRST + 25}.json"]
    assert (refused["status"], refused["event_id"]) == (400, "ev-25")
    assert "mapper_parsing_exception" in refused["reason"]
    assert json.loads(refused["document"]) == records[25]


class ThrottlingClient:
    """The node's client, except that the `_bulk` items of the scripted event ids never reach
    the node and are answered 429, as a node whose write queue is full answers them."""

    def __init__(self, client: OpenSearch, throttled: set[str]) -> None:
        self.client = client
        self.throttled = throttled

    def bulk(self, body: bytes, **params: Any) -> dict[str, Any]:
        lines = body.split(b"\n")
        kept = bytearray()
        answers: list[dict[str, Any] | None] = []
        for action, source in zip(lines[0::2], lines[1::2], strict=False):
            doc_id = orjson.loads(action)["index"]["_id"]
            if doc_id in self.throttled:
                answers.append({"index": {"status": 429, "error": {"type": "rejected"}}})
            else:
                kept += action + b"\n" + source + b"\n"
                answers.append(None)
        items = iter(self.client.bulk(body=bytes(kept), **params)["items"] if kept else [])
        merged = [answer or next(items) for answer in answers]
        return {"errors": True, "items": merged}


def test_throttled_items_are_exactly_the_batch_item_failures(
    client: OpenSearch, opensearch_url: str
) -> None:
    payloads: list[bytes | str] = list(golden(BATCH, seed=11))
    ids = [orjson.loads(p)["event_id"] for p in payloads]
    throttled = {ids[7], ids[130], ids[499]}
    bucket = Bucket()
    cluster = OpenSearchCluster(ThrottlingClient(client, throttled))  # type: ignore[arg-type]
    indexer = StreamIndexer(
        cluster, S3DeadLetterStore(bucket, "failed-documents"), StreamConfig(attempts=2)
    )
    (response,) = deliver(indexer, payloads)
    assert sorted(int(f["itemIdentifier"]) for f in response["batchItemFailures"]) == [
        FIRST + 7,
        FIRST + 130,
        FIRST + 499,
    ]
    assert set(all_documents(client)) == set(ids) - throttled
    # Lambda re-delivers from the first failed record on; the node takes them this time.
    retry = lambda_indexer(opensearch_url, bucket)
    assert deliver(retry, payloads[7:], first=FIRST + 7) == [{"batchItemFailures": []}]
    assert set(all_documents(client)) == set(ids)
    assert client.count(index=INDEX_PATTERN)["count"] == BATCH
    assert bucket.objects == {}
