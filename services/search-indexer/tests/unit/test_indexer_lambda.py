"""The indexer Lambda's decisions on a Kinesis batch, against a scripted cluster and dead-letter
sink: what is indexed under which id, what is parked, what goes back to the stream."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

import pytest

from qos_search_indexer.adapters.deadletter_store import S3DeadLetterStore
from qos_search_indexer.bootstrap import build_stream_indexer
from qos_search_indexer.domain.deadletter import DeadLetter
from qos_search_indexer.domain.documents import BulkOutcome, Doc, rejected_letter
from qos_search_indexer.entrypoints.indexer_lambda import entries, handle_batch
from qos_search_indexer.service import StreamConfig, StreamIndexer
from qos_search_indexer.settings import IndexerLambdaSettings
from qos_shared.testing.aws import FAKE_CREDENTIALS, RecordedSleeps, kinesis_stream_event

T0 = 1_795_000_000_000  # 2026-11-18 UTC
FIRST = 49_600_000_000_000_000_000_000_000_000_000_000_000_000_000_000


def event_json(i: int, **fields: Any) -> bytes:
    record = {
        "event_id": f"ev-{i}",
        "session_id": "s-1",
        "metric_type": "PLAY",
        "event_time": T0 + i,
        **fields,
    }
    return json.dumps(record).encode()


class ScriptedCluster:
    """Answers each document by its event_id: a list of item statuses, one per attempt (the
    last repeats); unscripted ids are indexed (201). `whole` fails whole requests: None (the
    request failed and may succeed again) or an HTTP status for every item."""

    def __init__(
        self, script: dict[str, list[int]] | None = None, whole: list[int | None] | None = None
    ) -> None:
        self.script = script or {}
        self.whole = list(whole or [])
        self.requests: list[list[tuple[str, str]]] = []  # (index, id) per request
        self.sources: dict[str, dict[str, Any]] = {}

    def send_bulk(self, docs: list[Doc], *, refresh: bool) -> BulkOutcome | None:
        self.requests.append([(d.index, d.entry.event_id) for d in docs])
        attempt = len(self.requests) - 1
        if self.whole:
            status = self.whole.pop(0)
            if status is None:
                return None
            return BulkOutcome(parked=[rejected_letter(d, status, "refused") for d in docs])
        outcome = BulkOutcome()
        for doc in docs:
            statuses = self.script.get(doc.entry.event_id, [201])
            status = statuses[min(attempt, len(statuses) - 1)]
            if status < 300:
                outcome.indexed += 1
                self.sources[doc.entry.event_id] = json.loads(doc.source)
            elif status == 429 or status >= 500:
                outcome.retry.append(doc)
            else:
                outcome.parked.append(rejected_letter(doc, status, f"refused with {status}"))
        return outcome

    def put_pipeline(self, name: str, body: dict[str, Any]) -> None:  # pragma: no cover
        raise AssertionError("not used")

    def put_index_template(self, name: str, body: dict[str, Any]) -> None:  # pragma: no cover
        raise AssertionError("not used")


class Sink:
    def __init__(self, fails: bool = False) -> None:
        self.letters: list[DeadLetter] = []
        self.fails = fails

    def park(self, letters: Iterable[DeadLetter]) -> int:
        if self.fails:
            raise OSError("S3 is unreachable")
        parked = list(letters)
        self.letters += parked
        return len(parked)


def run(
    payloads: list[bytes | str], cluster: ScriptedCluster, sink: Sink, attempts: int = 3
) -> tuple[dict[str, Any], RecordedSleeps]:
    sleeps = RecordedSleeps()
    indexer = StreamIndexer(cluster, sink, StreamConfig(attempts=attempts), sleep=sleeps)
    event = kinesis_stream_event(payloads, first_sequence=FIRST)
    return handle_batch(event, None, indexer), sleeps  # type: ignore[arg-type]


def failed_sequences(response: dict[str, Any]) -> list[int]:
    return [int(item["itemIdentifier"]) for item in response["batchItemFailures"]]


def test_every_record_is_indexed_under_its_event_id_in_its_days_index() -> None:
    cluster, sink = ScriptedCluster(), Sink()
    payloads: list[bytes | str] = [event_json(i) for i in range(5)]
    payloads.append(event_json(5, event_time=T0 + 86_400_000, viewer_latitude=1.5))
    payloads[2] = event_json(2, viewer_latitude=48.5, viewer_longitude=2.25)
    response, sleeps = run(payloads, cluster, sink)
    assert response == {"batchItemFailures": []}
    assert cluster.requests == [
        [(f"qos-events-2026.11.{18 if i < 5 else 19}", f"ev-{i}") for i in range(6)]
    ]
    assert cluster.sources["ev-2"]["viewer_location"] == {"lat": 48.5, "lon": 2.25}
    assert "viewer_location" not in cluster.sources["ev-5"]  # a latitude alone is no point
    assert sink.letters == [] and sleeps.delays == []


def test_poison_records_are_parked_and_not_reported_and_the_rest_is_indexed() -> None:
    cluster, sink = ScriptedCluster({"ev-4": [400]}), Sink()
    payloads: list[bytes | str] = [
        event_json(0),
        b"not json",
        "%%% not base64 %%%",
        b"[1, 2]",
        event_json(4),  # refused by the mapping (400)
        event_json(5, event_time="yesterday"),
        json.dumps({"event_time": T0}).encode(),  # no event_id: no id to index it under
        event_json(7),
    ]
    response, _ = run(payloads, cluster, sink)
    assert response == {"batchItemFailures": []}
    assert cluster.requests == [[("qos-events-2026.11.18", f"ev-{i}") for i in (0, 4, 7)]]
    by_position = {letter.position - FIRST: letter for letter in sink.letters}
    assert sorted(by_position) == [1, 2, 3, 4, 5, 6]
    assert by_position[1].reason.startswith("not JSON") and by_position[1].document == b"not json"
    assert by_position[2].reason.startswith("not JSON") and by_position[2].status is None
    assert by_position[3].reason == "not a JSON object"
    assert (by_position[4].status, by_position[4].event_id) == (400, "ev-4")
    assert by_position[4].index_name == "qos-events-2026.11.18"
    assert by_position[5].reason == "event_time missing or not an integer"
    assert by_position[6].reason == "event_id missing or not a string"
    assert set(cluster.sources) == {"ev-0", "ev-7"}


def test_items_still_throttled_after_the_attempts_are_exactly_the_batch_item_failures() -> None:
    script = {"ev-1": [429], "ev-3": [503, 201], "ev-6": [429, 429, 429]}
    cluster, sink = ScriptedCluster(script), Sink()
    response, sleeps = run([event_json(i) for i in range(8)], cluster, sink, attempts=3)
    assert failed_sequences(response) == [FIRST + 1, FIRST + 6]
    # Each attempt sends only what the previous one left; a jittered, doubling wait between.
    assert [[i for _, i in r] for r in cluster.requests] == [
        [f"ev-{i}" for i in range(8)],
        ["ev-1", "ev-3", "ev-6"],
        ["ev-1", "ev-6"],
    ]
    assert len(sleeps.delays) == 2
    assert 0.1 <= sleeps.delays[0] <= 0.2 and 0.2 <= sleeps.delays[1] <= 0.4
    assert sink.letters == []


def test_a_request_that_fails_as_a_whole_returns_every_document_but_parks_the_poison() -> None:
    cluster, sink = ScriptedCluster(whole=[None, None]), Sink()
    response, _ = run([event_json(0), b"{", event_json(2)], cluster, sink, attempts=2)
    assert failed_sequences(response) == [FIRST, FIRST + 2]
    assert [letter.position for letter in sink.letters] == [FIRST + 1]


def test_a_throttled_request_that_recovers_reports_nothing() -> None:
    cluster, sink = ScriptedCluster(whole=[None]), Sink()
    response, sleeps = run([event_json(i) for i in range(3)], cluster, sink)
    assert response == {"batchItemFailures": []}
    assert len(cluster.requests) == 2 and len(sleeps.delays) == 1
    assert set(cluster.sources) == {"ev-0", "ev-1", "ev-2"}


@pytest.mark.parametrize("status", [401, 403])
def test_an_authorization_refusal_is_retried_never_dead_lettered(status: int) -> None:
    cluster, sink = ScriptedCluster(whole=[status, status]), Sink()
    response, _ = run([event_json(0), event_json(1)], cluster, sink, attempts=2)
    assert failed_sequences(response) == [FIRST, FIRST + 1]
    assert sink.letters == []


def test_a_dead_letter_that_cannot_be_stored_sends_its_record_back() -> None:
    cluster, sink = ScriptedCluster(), Sink(fails=True)
    response, _ = run([event_json(0), b"oops", event_json(2)], cluster, sink)
    assert failed_sequences(response) == [FIRST + 1]
    assert set(cluster.sources) == {"ev-0", "ev-2"}


def test_the_same_event_twice_in_a_batch_goes_under_one_id() -> None:
    cluster, sink = ScriptedCluster(), Sink()
    response, _ = run([event_json(0), event_json(1), event_json(0)], cluster, sink)
    assert response == {"batchItemFailures": []}
    ids = [i for _, i in cluster.requests[0]]
    assert ids == ["ev-0", "ev-1", "ev-0"] and len(set(ids)) == 2


def test_entries_carry_the_sequence_number_the_partition_key_and_the_decoded_data() -> None:
    event = kinesis_stream_event([b"abc", "!!"], first_sequence=FIRST, partition_keys=["a", "b"])
    first, second = entries(event)
    assert (first.position, first.partition_key, first.data) == (FIRST, "a", b"abc")
    assert first.event_id == ""  # read from the JSON by the indexer
    assert (second.position, second.data) == (FIRST + 1, b"\x00")


class Objects:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put_object(self, **kwargs: Any) -> Any:
        assert kwargs["ContentType"] == "application/json"
        self.objects[(kwargs["Bucket"], kwargs["Key"])] = kwargs["Body"]
        return {}


def test_the_s3_store_writes_one_object_per_letter_under_its_sequence_number() -> None:
    s3 = Objects()
    store = S3DeadLetterStore(s3, "failed-docs", "dead-letters/")
    letters = [
        DeadLetter(FIRST + 3, "ev-3", "qos-events-2026.11.18", 400, "mapper_parsing", b'{"a":1}'),
        DeadLetter(FIRST + 4, "", None, None, "not JSON", b"\xff\x00"),
    ]
    assert store.park(letters) == 2
    assert store.park(letters[:1]) == 1  # delivered again: the same key, still one object
    assert sorted(s3.objects) == [
        ("failed-docs", f"dead-letters/{FIRST + 3}.json"),
        ("failed-docs", f"dead-letters/{FIRST + 4}.json"),
    ]
    rejected = json.loads(s3.objects[("failed-docs", f"dead-letters/{FIRST + 3}.json")])
    assert rejected["document"] == '{"a":1}' and rejected["status"] == 400
    assert rejected["position"] == str(FIRST + 3) and rejected["index"] == "qos-events-2026.11.18"
    unreadable = json.loads(s3.objects[("failed-docs", f"dead-letters/{FIRST + 4}.json")])
    assert base64.b64decode(unreadable["document_base64"]) == b"\xff\x00"
    assert "document" not in unreadable and unreadable["reason"] == "not JSON"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QOS_SEARCH_URL", "https://search-qos.example.com")
    monkeypatch.setenv("QOS_SEARCH_DEAD_LETTER_BUCKET", "failed-docs")
    monkeypatch.setenv("QOS_SEARCH_ITEM_ATTEMPTS", "2")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    settings = IndexerLambdaSettings()
    assert (settings.url, settings.sigv4, settings.region) == (
        "https://search-qos.example.com",
        True,
        "eu-west-1",
    )
    assert (settings.dead_letter_bucket, settings.dead_letter_prefix) == (
        "failed-docs",
        "dead-letters/",
    )
    assert settings.item_attempts == 2
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(ValueError, match="AWS_REGION"):
        build_stream_indexer(IndexerLambdaSettings(), dead_letters=Sink())


def test_requests_are_signed_for_es_unless_signing_is_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opensearchpy import AWSV4SignerAuth

    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    signed = IndexerLambdaSettings(
        url="https://search-qos.example.com", region="eu-west-1", dead_letter_bucket="x"
    )
    auth = build_stream_indexer(signed, dead_letters=Sink()).cluster.client.transport.kwargs[  # type: ignore[attr-defined]
        "http_auth"
    ]
    assert isinstance(auth, AWSV4SignerAuth)
    assert (auth.signer.region, auth.signer.service) == ("eu-west-1", "es")
    local = IndexerLambdaSettings(url="http://127.0.0.1:9200", sigv4=False, dead_letter_bucket="x")
    plain = build_stream_indexer(local, dead_letters=Sink()).cluster.client.transport.kwargs  # type: ignore[attr-defined]
    assert plain.get("http_auth") is None


VIEWS_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/qos-test-views"
EVENTS_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/qos-test-events"


def test_a_views_stream_batch_parks_its_dead_letters_under_the_views_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One function on two streams: the batch's event source picks the dead letters' prefix
    (two streams' sequence numbers are not one key space)."""
    from qos_search_indexer.entrypoints import indexer_lambda

    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("QOS_SEARCH_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("QOS_SEARCH_SIGV4", "false")
    monkeypatch.setenv("QOS_SEARCH_DEAD_LETTER_BUCKET", "failed-docs")
    monkeypatch.setenv("QOS_SEARCH_VIEWS_STREAM_ARN", VIEWS_ARN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setattr(indexer_lambda, "_settings", None)
    monkeypatch.setattr(indexer_lambda, "_indexers", {})

    def batch(arn: str) -> dict[str, Any]:
        return {"Records": [{"eventSourceARN": arn, "kinesis": {}}]}

    assert indexer_lambda.is_views_batch(batch(VIEWS_ARN), VIEWS_ARN)
    assert not indexer_lambda.is_views_batch(batch(EVENTS_ARN), VIEWS_ARN)
    assert not indexer_lambda.is_views_batch(batch(VIEWS_ARN), "")
    assert not indexer_lambda.is_views_batch({"Records": []}, VIEWS_ARN)
    views = indexer_lambda._default_indexer(batch(VIEWS_ARN))
    events = indexer_lambda._default_indexer(batch(EVENTS_ARN))
    assert isinstance(views.dead_letters, S3DeadLetterStore)
    assert isinstance(events.dead_letters, S3DeadLetterStore)
    assert views.dead_letters.prefix == "dead-letters/views/"
    assert events.dead_letters.prefix == "dead-letters/"
    assert views.dead_letters.bucket == events.dead_letters.bucket == "failed-docs"
    # Built once each, then reused.
    assert indexer_lambda._default_indexer(batch(VIEWS_ARN)) is views
