"""The indexer's settle-then-commit rules, against a scripted stand-in for the _bulk API.

The real node's behaviour (mapping conflicts, a node stopped mid-stream) is tested in
tests/integration; here each failure mode is forced exactly, including the ones a real node
produces only under load (429 items, 5xx on the whole request).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opensearchpy.exceptions import ConnectionError as TransportConnectionError
from opensearchpy.exceptions import TransportError

from qos_search_indexer.adapters.deadletter_store import DeadLetterStore
from qos_search_indexer.adapters.opensearch import OpenSearchCluster
from qos_search_indexer.service import CONSUMER, IndexerConfig, SearchIndexer, Stopped
from qos_shared.eventlog import EventLog, LogRecord

DAY_MS = 1_795_000_000_000  # 2026-11-18 UTC


def record(i: int, **extra: Any) -> LogRecord:
    body = {"event_id": f"e{i}", "event_time": DAY_MS + i, "metric_type": "PLAY", **extra}
    return LogRecord(f"e{i}", f"s{i}", json.dumps(body).encode())


Answer = Callable[[list[dict[str, Any]]], dict[str, Any]]


class FakeBulk:
    """Answers each _bulk call with the next scripted answer (an exception or a function of
    the request's actions); remembers what was sent."""

    def __init__(self, *answers: Answer | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[list[dict[str, Any]]] = []
        self.kwargs: list[dict[str, Any]] = []

    def bulk(self, body: bytes, **kwargs: Any) -> dict[str, Any]:
        self.kwargs.append(kwargs)
        lines = body.decode().splitlines()
        actions = [
            {"meta": json.loads(a)["index"], "doc": json.loads(d)}
            for a, d in zip(lines[::2], lines[1::2], strict=True)
        ]
        self.requests.append(actions)
        answer = self.answers.pop(0) if self.answers else ok
        if isinstance(answer, Exception):
            raise answer
        return answer(actions)


def ok(actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"errors": False, "items": [{"index": {"status": 201}} for _ in actions]}


def statuses(*codes: int) -> Answer:
    def answer(actions: list[dict[str, Any]]) -> dict[str, Any]:
        items = []
        for action, code in zip(actions, codes, strict=True):
            item: dict[str, Any] = {"status": code}
            if code >= 300:
                item["error"] = {"type": f"e{code}", "reason": f"refused {action['meta']['_id']}"}
            items.append({"index": item})
        return {"errors": True, "items": items}

    return answer


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    return EventLog(tmp_path / "events.sqlite", synchronous="NORMAL")


@pytest.fixture
def store(tmp_path: Path) -> DeadLetterStore:
    return DeadLetterStore(tmp_path / "dead.sqlite")


def indexer(log: EventLog, store: DeadLetterStore, fake: FakeBulk, **config: Any) -> SearchIndexer:
    config.setdefault("concurrent_requests", 1)  # scripted answers come in request order
    settings = IndexerConfig(backoff_initial_s=0.001, backoff_max_s=0.004, **config)
    return SearchIndexer(log, OpenSearchCluster(fake), store, settings)  # type: ignore[arg-type]


def test_a_batch_becomes_one_bulk_request_with_event_ids_and_daily_indices(
    log: EventLog, store: DeadLetterStore
) -> None:
    log.append([record(i) for i in range(3)])
    fake = FakeBulk()
    result = indexer(log, store, fake).poll()
    assert (result.read, result.indexed, result.dead_lettered) == (3, 3, 0)
    [sent] = fake.requests
    assert [a["meta"]["_id"] for a in sent] == ["e0", "e1", "e2"]
    assert {a["meta"]["_index"] for a in sent} == {"qos-events-2026.11.18"}
    assert sent[1]["doc"]["event_time"] == DAY_MS + 1
    assert log.checkpoint(CONSUMER) == 3


def test_items_refused_with_429_or_5xx_are_resent_alone_until_indexed(
    log: EventLog, store: DeadLetterStore
) -> None:
    log.append([record(i) for i in range(4)])
    fake = FakeBulk(statuses(201, 429, 503, 201), statuses(201, 429), ok)
    result = indexer(log, store, fake).poll()
    assert [[a["meta"]["_id"] for a in r] for r in fake.requests] == [
        ["e0", "e1", "e2", "e3"],
        ["e1", "e2"],
        ["e2"],
    ]
    assert (result.indexed, result.dead_lettered, result.retries) == (4, 0, 2)
    assert log.checkpoint(CONSUMER) == 4


def test_items_refused_for_good_are_parked_with_the_reason_and_the_rest_goes_on(
    log: EventLog, store: DeadLetterStore
) -> None:
    log.append([record(i) for i in range(3)])
    fake = FakeBulk(statuses(201, 400, 201))
    result = indexer(log, store, fake).poll()
    assert (result.indexed, result.dead_lettered) == (2, 1)
    [letter] = store.list()
    assert (letter.position, letter.event_id, letter.status) == (2, "e1", 400)
    assert letter.reason == "e400: refused e1"
    assert letter.index_name == "qos-events-2026.11.18"
    assert json.loads(letter.document)["event_id"] == "e1"
    assert log.checkpoint(CONSUMER) == 3


def test_unreadable_records_are_parked_without_being_sent(
    log: EventLog, store: DeadLetterStore
) -> None:
    log.append(
        [
            record(0),
            LogRecord("bad-json", "p", b"{not json"),
            LogRecord("no-time", "p", b'{"event_id": "no-time"}'),
            LogRecord("array", "p", b"[1, 2]"),
            record(4),
        ]
    )
    fake = FakeBulk()
    result = indexer(log, store, fake).poll()
    assert [a["meta"]["_id"] for a in fake.requests[0]] == ["e0", "e4"]
    assert result.dead_lettered == 3
    reasons = {d.event_id: d.reason for d in store.list()}
    assert reasons["bad-json"].startswith("not JSON")
    assert reasons["no-time"] == "event_time missing or not an integer"
    assert reasons["array"] == "not a JSON object"


def test_records_without_a_usable_event_time_are_parked(
    log: EventLog, store: DeadLetterStore
) -> None:
    # Usable: an integer in [0, 10000-01-01T00:00:00Z); the first and last such milliseconds
    # are indexed under their UTC day, the next ones either side are parked.
    last_ms = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
    times = {"first": 0, "last": last_ms, "before": -1, "after": last_ms + 1, "flag": True}
    log.append(
        [
            LogRecord(name, "p", json.dumps({"event_id": name, "event_time": t}).encode())
            for name, t in times.items()
        ]
    )
    fake = FakeBulk()
    result = indexer(log, store, fake).poll()
    sent = {a["meta"]["_id"]: a["meta"]["_index"] for a in fake.requests[0]}
    assert sent == {"first": "qos-events-1970.01.01", "last": "qos-events-9999.12.31"}
    assert result.dead_lettered == 3
    reasons = {d.event_id: d.reason for d in store.list()}
    assert reasons == {
        "before": "event_time out of range: -1",
        "after": f"event_time out of range: {last_ms + 1}",
        "flag": "event_time missing or not an integer",
    }
    assert log.checkpoint(CONSUMER) == 5


@pytest.mark.parametrize(
    "failure",
    [
        TransportConnectionError("N/A", "connection refused", None),
        TransportError(503, "unavailable", {}),
        TransportError(429, "too many requests", {}),
    ],
    ids=["unreachable", "503", "429"],
)
def test_a_failed_request_is_retried_and_the_checkpoint_waits(
    log: EventLog, store: DeadLetterStore, failure: Exception
) -> None:
    log.append([record(i) for i in range(2)])
    fake = FakeBulk(failure, failure, failure, ok)
    result = indexer(log, store, fake).poll()
    assert len(fake.requests) == 4
    assert (result.indexed, result.retries) == (2, 3)
    assert log.checkpoint(CONSUMER) == 2


def test_a_stop_while_retrying_leaves_the_batch_for_the_next_start(
    log: EventLog, store: DeadLetterStore
) -> None:
    log.append([record(i) for i in range(2)])
    down = TransportConnectionError("N/A", "connection refused", None)
    fake = FakeBulk(*[down] * 1000)
    stop = threading.Event()
    config = IndexerConfig(backoff_initial_s=0.01, backoff_max_s=0.02, concurrent_requests=1)
    worker = SearchIndexer(log, OpenSearchCluster(fake), store, config, stop=stop)  # type: ignore[arg-type]
    timer = threading.Timer(0.1, stop.set)
    timer.start()
    with pytest.raises(Stopped):
        worker.poll()
    assert log.checkpoint(CONSUMER) == 0
    assert worker.backlog() == 2
    # The next start sends the same records, under the same ids.
    fresh = FakeBulk()
    assert indexer(log, store, fresh).poll().indexed == 2
    assert [a["meta"]["_id"] for a in fresh.requests[0]] == ["e0", "e1"]


def test_a_request_refused_as_a_whole_parks_every_record(
    log: EventLog, store: DeadLetterStore
) -> None:
    log.append([record(i) for i in range(2)])
    fake = FakeBulk(TransportError(403, "forbidden", {}))
    result = indexer(log, store, fake).poll()
    assert result.dead_lettered == 2
    assert all(d.reason.startswith("bulk request refused: 403") for d in store.list())
    assert log.checkpoint(CONSUMER) == 2


def test_a_replayed_batch_parks_each_record_once(log: EventLog, store: DeadLetterStore) -> None:
    log.append([record(0)])
    indexer(log, store, FakeBulk(statuses(400))).poll()
    log.commit(CONSUMER, 0)  # as if the process died between parking and the commit
    indexer(log, store, FakeBulk(statuses(400))).poll()
    assert store.count() == 1


def test_documents_with_newlines_are_sent_as_one_line(
    log: EventLog, store: DeadLetterStore
) -> None:
    pretty = json.dumps({"event_id": "p", "event_time": DAY_MS}, indent=2).encode()
    log.append([LogRecord("p", "p", pretty)])
    fake = FakeBulk()
    assert indexer(log, store, fake).poll().indexed == 1
    assert fake.requests[0][0]["doc"] == {"event_id": "p", "event_time": DAY_MS}


def test_the_indexer_adds_the_viewer_location_and_skips_the_pipeline(
    log: EventLog, store: DeadLetterStore
) -> None:
    log.append([record(0, viewer_latitude=48.86, viewer_longitude=2.35), record(1)])
    fake = FakeBulk()
    indexer(log, store, fake).poll()
    first, second = fake.requests[0]
    assert first["doc"]["viewer_location"] == {"lat": 48.86, "lon": 2.35}
    assert first["doc"]["viewer_latitude"] == 48.86
    assert "viewer_location" not in second["doc"]
    assert fake.kwargs[0]["pipeline"] == "_none"


def test_a_batch_goes_out_as_concurrent_requests_and_a_failed_one_is_resent(
    log: EventLog, store: DeadLetterStore
) -> None:
    log.append([record(i) for i in range(10)])
    lock = threading.Lock()
    calls: list[list[str]] = []

    class HalfDown(FakeBulk):
        def bulk(self, body: bytes, **kwargs: Any) -> dict[str, Any]:
            ids = [json.loads(line)["index"]["_id"] for line in body.decode().splitlines()[::2]]
            with lock:
                calls.append(ids)
                first_call_with_e0 = "e0" in ids and sum("e0" in c for c in calls) == 1
            if first_call_with_e0:
                raise TransportConnectionError("N/A", "reset", None)
            return ok([{}] * len(ids))

    result = indexer(log, store, HalfDown(), concurrent_requests=2).poll()
    assert result.indexed == 10 and result.retries == 1
    first_round = sorted(calls[:2])
    assert first_round == [["e0", "e1", "e2", "e3", "e4"], ["e5", "e6", "e7", "e8", "e9"]]
    # Only the failed request's documents go again (split again across the requests).
    assert sorted(i for c in calls[2:] for i in c) == ["e0", "e1", "e2", "e3", "e4"]
    assert log.checkpoint(CONSUMER) == 10


def test_the_location_is_added_to_pretty_and_compact_records_alike(
    log: EventLog, store: DeadLetterStore
) -> None:
    fields = {"event_time": DAY_MS, "viewer_latitude": 1.5, "viewer_longitude": -2}
    pretty = json.dumps({"event_id": "p", **fields}, indent=2).encode()
    compact = json.dumps({"event_id": "c", **fields}, separators=(",", ":")).encode() + b"  "
    log.append([LogRecord("p", "p", pretty), LogRecord("c", "c", compact)])
    fake = FakeBulk()
    assert indexer(log, store, fake).poll().indexed == 2
    for sent in fake.requests[0]:
        assert sent["doc"]["viewer_location"] == {"lat": 1.5, "lon": -2}
        assert sent["doc"]["viewer_longitude"] == -2


def test_full_batches_are_read_ahead_and_every_record_is_sent_once_in_order(
    log: EventLog, store: DeadLetterStore
) -> None:
    log.append([record(i) for i in range(10)])
    reads: list[int] = []
    read_ahead = {4: threading.Event(), 8: threading.Event()}
    read = log.read

    def counted(**kwargs: Any) -> list[Any]:
        reads.append(kwargs["after"])
        if kwargs["after"] in read_ahead:
            read_ahead[kwargs["after"]].set()
        return read(**kwargs)

    overlapped: list[bool] = []

    def waiting_for(after: int) -> Answer:
        """Answers only once the next batch has been read (or 5 s have gone by): the read
        happens while the request is with OpenSearch, not after it."""

        def answer(actions: list[dict[str, Any]]) -> dict[str, Any]:
            overlapped.append(read_ahead[after].wait(5))
            return ok(actions)

        return answer

    fake = FakeBulk(waiting_for(4), waiting_for(8))
    worker = indexer(log, store, fake, batch_size=4)
    log.read = counted  # type: ignore[method-assign, assignment]
    assert [worker.poll().read for _ in range(4)] == [4, 4, 2, 0]
    worker.close()
    assert overlapped == [True, True]
    sent = [a["meta"]["_id"] for request in fake.requests for a in request]
    assert sent == [f"e{i}" for i in range(10)]
    # Each batch is read once; after the short one nothing is read ahead.
    assert reads == [0, 4, 8, 10]
    assert log.checkpoint(CONSUMER) == 10


def test_records_appended_after_a_short_read_ahead_are_not_missed(
    log: EventLog, store: DeadLetterStore
) -> None:
    log.append([record(i) for i in range(4)])
    fake = FakeBulk()
    worker = indexer(log, store, fake, batch_size=2)
    assert worker.poll().read == 2
    assert worker.poll().read == 2  # the batch read ahead while the first was sent
    log.append([record(i) for i in range(4, 6)])  # after the read-ahead of an empty batch
    assert worker.poll().read == 2
    assert [a["meta"]["_id"] for a in fake.requests[-1]] == ["e4", "e5"]
    worker.close()


def test_a_batch_read_ahead_of_an_unsettled_batch_is_dropped(
    log: EventLog, store: DeadLetterStore
) -> None:
    log.append([record(i) for i in range(4)])
    down = TransportConnectionError("N/A", "connection refused", None)
    stop = threading.Event()
    config = IndexerConfig(
        batch_size=2, backoff_initial_s=0.01, backoff_max_s=0.02, concurrent_requests=1
    )
    cluster = OpenSearchCluster(FakeBulk(*[down] * 1000))  # type: ignore[arg-type]
    worker = SearchIndexer(log, cluster, store, config, stop=stop)
    threading.Timer(0.1, stop.set).start()
    with pytest.raises(Stopped):
        worker.poll()  # e0, e1 unsettled; e2, e3 were read ahead meanwhile
    assert log.checkpoint(CONSUMER) == 0
    stop.clear()
    cluster.client = fresh = FakeBulk()  # type: ignore[assignment]
    assert worker.poll().read == 2
    assert [a["meta"]["_id"] for a in fresh.requests[0]] == ["e0", "e1"]
    assert worker.poll().read == 2
    assert [a["meta"]["_id"] for a in fresh.requests[1]] == ["e2", "e3"]
    worker.close()


def test_a_large_batch_goes_out_as_requests_of_bounded_size_a_few_at_a_time(
    log: EventLog, store: DeadLetterStore
) -> None:
    log.append([record(i) for i in range(23)])
    lock = threading.Lock()
    sizes: list[int] = []
    running = 0
    most = 0

    class Counting(FakeBulk):
        def bulk(self, body: bytes, **kwargs: Any) -> dict[str, Any]:
            nonlocal running, most
            ids = [json.loads(line)["index"]["_id"] for line in body.decode().splitlines()[::2]]
            with lock:
                sizes.append(len(ids))
                running += 1
                most = max(most, running)
            time.sleep(0.02)
            with lock:
                running -= 1
            return ok([{}] * len(ids))

    result = indexer(
        log, store, Counting(), concurrent_requests=2, request_docs=5, batch_size=100
    ).poll()
    assert result.indexed == 23
    assert len(sizes) == 5 and max(sizes) <= 5 and sum(sizes) == 23  # ceil(23 / 5) requests
    assert most <= 2
