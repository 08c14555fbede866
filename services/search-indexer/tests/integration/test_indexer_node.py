"""The indexer against a real OpenSearch node: documents, geo points, dead letters, and a node
stopped and restarted while events flow."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

import qos_search_node as search_node
from qos_search_indexer.adapters.deadletter_store import DeadLetterStore
from qos_search_indexer.adapters.opensearch import client_for
from qos_search_indexer.bootstrap import apply_index_design, build_indexer
from qos_search_indexer.domain.index import INDEX_PATTERN, geo_point
from qos_search_indexer.service import CONSUMER, IndexerConfig, SearchIndexer
from qos_shared.eventlog import EventLog, LogRecord

T0 = 1_795_000_000_000  # 2026-11-18 UTC


def summary(i: int, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"ev-{i}",
        "session_id": f"s-{i % 7}",
        "metric_type": "PLAYBACK_SUMMARY",
        "event_time": T0 + i * 1000,
        "received_at": T0 + i * 1000 + 40,
        "client_platform": "web",
        "channel_watched": "news",
        "is_live": True,
        "playing_time_ms": 58_000,
        "buffering_time_ms": 2_000,
        "buffering_count": 1,
        "error_count": 0,
        **fields,
    }


def append(log: EventLog, records: list[dict[str, Any]]) -> None:
    log.append([LogRecord(r["event_id"], r["session_id"], json.dumps(r).encode()) for r in records])


@pytest.fixture
def client(opensearch_url: str) -> Iterator[OpenSearch]:
    client = client_for(opensearch_url)
    apply_index_design(client)
    yield client
    client.indices.delete(index=INDEX_PATTERN, ignore_unavailable=True)
    client.close()


def drain(indexer: SearchIndexer) -> None:
    while indexer.poll().read:
        pass


def test_records_become_documents_under_their_event_id(client: OpenSearch, tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.sqlite", synchronous="NORMAL")
    records = [summary(i) for i in range(20)]
    records[3] |= {"viewer_latitude": -23.55, "viewer_longitude": -46.63, "viewer_country": "BR"}
    append(log, records)
    store = DeadLetterStore(tmp_path / "dead.sqlite")
    indexer = build_indexer(log, client, store, IndexerConfig(batch_size=8, refresh=True))
    drain(indexer)
    assert client.count(index=INDEX_PATTERN)["count"] == 20
    doc = client.get(index="qos-events-2026.11.18", id="ev-3")["_source"]
    assert doc["viewer_location"] == {"lat": -23.55, "lon": -46.63}
    assert "viewer_location" not in client.get(index="qos-events-2026.11.18", id="ev-4")["_source"]
    mapping = client.indices.get_mapping(index="qos-events-2026.11.18")
    properties = mapping["qos-events-2026.11.18"]["mappings"]["properties"]
    assert properties["event_time"]["type"] == "date"
    assert properties["viewer_location"]["type"] == "geo_point"
    # Indexing the same records again (a replay) changes nothing.
    log.commit(CONSUMER, 0)
    drain(indexer)
    assert client.count(index=INDEX_PATTERN)["count"] == 20
    assert store.count() == 0


def test_a_mapping_conflict_goes_to_the_dead_letter_store_with_the_reason(
    client: OpenSearch, tmp_path: Path
) -> None:
    log = EventLog(tmp_path / "events.sqlite", synchronous="NORMAL")
    append(log, [summary(0), summary(1, playing_time_ms="a minute"), summary(2)])
    store = DeadLetterStore(tmp_path / "dead.sqlite")
    indexer = build_indexer(log, client, store, IndexerConfig(refresh=True))
    result = indexer.poll()
    assert (result.indexed, result.dead_lettered) == (2, 1)
    [letter] = store.list()
    assert letter.event_id == "ev-1" and letter.status == 400
    assert "mapper_parsing_exception" in letter.reason
    assert "playing_time_ms" in letter.reason
    assert json.loads(letter.document)["playing_time_ms"] == "a minute"
    assert log.checkpoint(CONSUMER) == 3


def test_stopping_the_node_while_events_flow_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """Events keep arriving while the node is down; after its restart the backlog drains and
    every event is indexed exactly once."""
    data = tmp_path / "node"
    node = search_node.start(data)
    port = node.port
    log = EventLog(tmp_path / "events.sqlite", synchronous="NORMAL")
    store = DeadLetterStore(tmp_path / "dead.sqlite")
    client = client_for(node.url, timeout=10)
    apply_index_design(client)
    stop = threading.Event()
    indexer = build_indexer(
        log,
        client,
        store,
        IndexerConfig(batch_size=200, poll_interval_s=0.05, backoff_max_s=1.0),
        stop=stop,
    )
    worker = threading.Thread(target=indexer.run)
    worker.start()
    total = 0
    try:

        def produce(n: int) -> None:
            nonlocal total
            for _ in range(n):
                append(log, [summary(total + k) for k in range(50)])
                total += 50
                time.sleep(0.01)

        produce(20)
        node.stop()
        produce(20)  # the node is down: these pile up in the log
        assert indexer.backlog() > 0
        node = search_node.start(data, port=port)
        produce(20)
        deadline = time.monotonic() + 120
        while indexer.backlog() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert indexer.backlog() == 0
    finally:
        stop.set()
        worker.join(timeout=30)
        node.stop()
    node = search_node.start(data, port=port)
    try:
        check = client_for(node.url)
        check.indices.refresh(index=INDEX_PATTERN)
        assert check.count(index=INDEX_PATTERN)["count"] == total == 3000
        ids = check.search(
            index=INDEX_PATTERN,
            body={
                "size": 0,
                "aggs": {
                    "ids": {"cardinality": {"field": "event_id", "precision_threshold": 40000}}
                },
            },
        )["aggregations"]["ids"]["value"]
        assert ids == total
        assert store.count() == 0
    finally:
        node.stop()


@pytest.mark.parametrize(
    "coordinates",
    [
        {"viewer_latitude": 48.86, "viewer_longitude": 2.35},
        {"viewer_latitude": -33, "viewer_longitude": 151},
        {"viewer_latitude": 48.86},
        {"viewer_latitude": "48.86", "viewer_longitude": 2.35},
        {},
    ],
    ids=["floats", "ints", "latitude-only", "a-string", "none"],
)
def test_the_pipeline_and_the_indexer_make_the_same_point(
    client: OpenSearch, coordinates: dict[str, Any]
) -> None:
    """Firehose's documents get viewer_location from the index's default pipeline; the local
    indexer sets it itself and skips the pipeline. Both must give the same document."""
    record = summary(1, **coordinates)
    client.index(index="qos-events-2026.11.18", id="via-pipeline", body=record, refresh=True)
    piped = client.get(index="qos-events-2026.11.18", id="via-pipeline")["_source"]
    assert piped.get("viewer_location") == geo_point(record)


def test_the_playback_fields_are_indexed_and_aggregatable(
    client: OpenSearch, tmp_path: Path
) -> None:
    """The SDK's playback fields reach the index typed: a long page URL (past the 256
    characters of other keywords) still aggregates, the bandwidth estimate is a number."""
    log = EventLog(tmp_path / "events.sqlite", synchronous="NORMAL")
    long_url = "https://www.example.com/" + "w" * 600
    fields = {
        "playback_id": "pb-1",
        "referrer_host": "news.example.org",
        "sdk_version": "0.2.0",
        "player_version": "hls.js 1.7.4",
    }
    records = [
        summary(0, page_url=long_url, bandwidth_estimate_bps=3_000_000, **fields),
        summary(1, page_url=long_url, bandwidth_estimate_bps=5_000_000, **fields),
        summary(2),  # an old player's record: none of them
    ]
    append(log, records)
    store = DeadLetterStore(tmp_path / "dead.sqlite")
    drain(build_indexer(log, client, store, IndexerConfig(refresh=True)))
    assert store.count() == 0
    result = client.search(
        index=INDEX_PATTERN,
        body={
            "size": 0,
            "aggs": {
                "pages": {"terms": {"field": "page_url"}},
                "ids": {"terms": {"field": "playback_id"}},
                "hosts": {"terms": {"field": "referrer_host"}},
                "bandwidth": {"avg": {"field": "bandwidth_estimate_bps"}},
            },
        },
    )
    aggs = result["aggregations"]
    assert [(b["key"], b["doc_count"]) for b in aggs["pages"]["buckets"]] == [(long_url, 2)]
    assert [(b["key"], b["doc_count"]) for b in aggs["ids"]["buckets"]] == [("pb-1", 2)]
    assert [b["key"] for b in aggs["hosts"]["buckets"]] == ["news.example.org"]
    assert aggs["bandwidth"]["value"] == (3_000_000 + 5_000_000) / 2
    doc = client.get(index="qos-events-2026.11.18", id="ev-0")["_source"]
    assert {name: doc[name] for name in fields} == fields
