"""The service layer: status codes and bodies for every outcome, with a fake sink."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from qos_ingest.adapters import PutOutcome, SinkFailure, SinkRecord
from qos_ingest.domain import IngestConfig, IngestRequest
from qos_ingest.service import IngestService
from qos_shared.limits import RequestLimits

from ..events import NOW_MS, batch, summary


class FakeSink:
    """Stores records; fails the positions listed in `fail` (or everything with `fail_all`)."""

    name = "fake"

    def __init__(self, fail: Sequence[int] = (), fail_all: bool = False) -> None:
        self.fail = set(fail)
        self.fail_all = fail_all
        self.stored: list[SinkRecord] = []

    def put(self, records: Sequence[SinkRecord]) -> PutOutcome:
        failures = [
            SinkFailure(i, "throttled")
            for i in range(len(records))
            if self.fail_all or i in self.fail
        ]
        failed = {f.index for f in failures}
        self.stored += [r for i, r in enumerate(records) if i not in failed]
        return PutOutcome(failures=failures, retried_records=2 * len(failures))


def handle(body: bytes, sink: FakeSink, limits: RequestLimits | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    service = IngestService(IngestConfig(limits=limits or RequestLimits()), sink)
    reply = service.handle(IngestRequest(body=body, headers={}, received_at_ms=NOW_MS))
    return reply.status, reply.body


def test_all_valid_is_200() -> None:
    sink = FakeSink()
    status, body = handle(batch(summary(), summary()), sink)
    assert (status, body) == (200, {"accepted": 2, "rejected": [], "failed": []})
    assert len(sink.stored) == 2


def test_some_rejected_is_207_with_indices() -> None:
    sink = FakeSink()
    status, body = handle(batch(summary(), summary(buffering_count="many"), summary()), sink)
    assert status == 207
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1]
    assert body["rejected"][0]["errors"][0]["loc"][-1] == "buffering_count"


def test_none_valid_is_400_and_nothing_is_stored() -> None:
    sink = FakeSink()
    status, body = handle(batch({"metric_type": "PLAY"}, {"x": 1}), sink)
    assert status == 400
    assert [r["index"] for r in body["rejected"]] == [0, 1]
    assert sink.stored == []


def test_sink_failures_are_reported_with_the_request_indices() -> None:
    sink = FakeSink(fail=[1])  # the second *accepted* record, i.e. request index 2
    status, body = handle(batch(summary(), summary(playing_time_ms=-1), summary()), sink)
    assert status == 207
    assert body["accepted"] == 1
    assert body["failed"] == [{"index": 2, "reason": "throttled"}]
    assert [r["index"] for r in body["rejected"]] == [1]


def test_sink_down_is_503_with_retry_after() -> None:
    service = IngestService(IngestConfig(), FakeSink(fail_all=True))
    reply = service.handle(IngestRequest(batch(summary()), {}, NOW_MS))
    assert reply.status == 503
    assert reply.headers == {"Retry-After": "5"}
    assert reply.body["accepted"] == 0 and len(reply.body["failed"]) == 1
    assert reply.stats.sink_retries == 2


def test_limits_are_413_and_bad_json_is_400() -> None:
    small = RequestLimits(max_body_bytes=100, max_events=2)
    assert handle(b"x" * 101, FakeSink(), small)[0] == 413
    assert (
        handle(batch(summary(), summary(), summary()), FakeSink(), RequestLimits(max_events=2))[0]
        == 413
    )
    status, body = handle(b"not json", FakeSink())
    assert status == 400 and "not valid JSON" in body["error"]
    assert orjson.dumps(body)  # always serialisable


def test_without_the_origin_secret_nothing_is_read_or_stored() -> None:
    from qos_ingest.domain.edge import ORIGIN_HEADER, EdgePolicy, OriginSecret

    sink = FakeSink()
    edge = EdgePolicy(OriginSecret(lambda: [b"edge-value"], clock=lambda: 0.0))
    service = IngestService(IngestConfig(), sink, edge)
    for headers in ({}, {ORIGIN_HEADER: "edge-valuE"}):
        reply = service.handle(IngestRequest(batch(summary()), headers, NOW_MS))
        assert reply.status == 403 and reply.body["error"]
    assert sink.stored == []
    headers = {ORIGIN_HEADER: "edge-value", "cloudfront-viewer-country": "NZ"}
    assert service.handle(IngestRequest(batch(summary()), headers, NOW_MS)).status == 200
    assert orjson.loads(sink.stored[0].data)["viewer_country"] == "NZ"


def test_an_unreadable_origin_secret_is_503_and_stores_nothing() -> None:
    from qos_ingest.domain.edge import EdgePolicy, OriginSecret

    def unreachable() -> list[bytes]:
        raise ConnectionError("no route to secrets manager")

    sink = FakeSink()
    service = IngestService(
        IngestConfig(), sink, EdgePolicy(OriginSecret(unreachable, clock=lambda: 0.0))
    )
    reply = service.handle(IngestRequest(batch(summary()), {}, NOW_MS))
    assert reply.status == 503 and sink.stored == []
