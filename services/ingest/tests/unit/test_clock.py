"""Client clocks corrected at ingest: a request's `sent_at` against the server's receive time.

Every receive time is injected, so the expected event times are exact: a client whose clock is
`skew` ms off stamps an event that truly happened at T with T + skew and sends the request at
true time R with `sent_at` R + skew; received at R, the event must be stored at T.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from qos_ingest.domain import IngestConfig, IngestRequest, ingest
from qos_ingest.service import IngestService
from qos_shared.events import StoredEvent
from qos_shared.limits import RequestLimits

from ..events import NOW_MS, summary
from .test_service import FakeSink

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
DEFAULTS = RequestLimits()
# True event times (ms before the receive time) of the events of one request.
AGES = (0, 1, 999, 30_000, 59_999, 5 * MINUTE, 6 * HOUR)


def body(events: list[dict[str, Any]], sent_at: Any = None, **extra: Any) -> bytes:
    document: dict[str, Any] = {"events": events, **extra}
    if sent_at is not None:
        document["sent_at"] = sent_at
    return orjson.dumps(document)


def skewed_events(skew: int, received: int = NOW_MS) -> tuple[list[dict[str, Any]], list[int]]:
    """Events that truly happened AGES before `received`, stamped by a clock `skew` ms off, and
    their true times."""
    truth = [received - age for age in AGES]
    return [summary(event_time=t + skew) for t in truth], truth


def records(
    data: bytes, received: int = NOW_MS, limits: RequestLimits = DEFAULTS
) -> list[dict[str, Any]]:
    result = ingest(IngestRequest(data, {}, received), IngestConfig(limits=limits))
    assert result.rejected == []
    out = [orjson.loads(a.data) for a in result.accepted]
    for record in out:
        StoredEvent.from_record(record)  # every stored record reads back under the contract
    return out


@pytest.mark.parametrize("skew", [10 * MINUTE, -10 * MINUTE, 3 * HOUR, -20 * HOUR, 2_000, -2_000])
def test_a_wrong_clock_gives_the_times_of_a_right_one(skew: int) -> None:
    events, truth = skewed_events(skew)
    stored = records(body(events, sent_at=NOW_MS + skew))
    assert [r["event_time"] for r in stored] == truth
    assert {r["event_time_source"] for r in stored} == {"corrected"}
    assert {r["clock_offset_ms"] for r in stored} == {-skew}
    assert {r["received_at"] for r in stored} == {NOW_MS}


def test_only_client_stamped_times_move() -> None:
    events, truth = skewed_events(10 * MINUTE)
    unstamped = summary()
    del unstamped["event_time"]
    stored = records(body([*events, unstamped], sent_at=NOW_MS + 10 * MINUTE))
    assert [r["event_time"] for r in stored] == [*truth, NOW_MS]
    assert stored[-1]["event_time_source"] == "server"
    assert "clock_offset_ms" not in stored[-1]


def test_the_correction_holds_with_unknown_fields_too() -> None:
    """An event with fields outside the contract takes the other serialisation path."""
    event = summary(event_time=NOW_MS - 5_000 - 10 * MINUTE, custom_field="x")
    (record,) = records(body([event], sent_at=NOW_MS - 10 * MINUTE))
    assert record["event_time"] == NOW_MS - 5_000
    assert (record["event_time_source"], record["clock_offset_ms"]) == ("corrected", 10 * MINUTE)
    assert record["extra_fields"] == {"custom_field": "x"}


@pytest.mark.parametrize("offset", [0, 1, -1, 1_999, -1_999])
def test_under_the_tolerance_nothing_changes(offset: int) -> None:
    """A request's latency is not a wrong clock: its events keep the times they were sent with."""
    sent = [NOW_MS - 1_000, NOW_MS - 40_000]
    stored = records(body([summary(event_time=t) for t in sent], sent_at=NOW_MS - offset))
    assert [r["event_time"] for r in stored] == sent
    assert {r["event_time_source"] for r in stored} == {"client"}
    assert all("clock_offset_ms" not in r for r in stored)


def test_the_tolerance_is_a_setting() -> None:
    limits = RequestLimits(clock_tolerance_ms=10_000)
    sent = NOW_MS - 20_000
    (kept,) = records(body([summary(event_time=sent)], sent_at=NOW_MS - 9_999), limits=limits)
    assert (kept["event_time"], kept["event_time_source"]) == (sent, "client")
    (moved,) = records(body([summary(event_time=sent)], sent_at=NOW_MS - 10_000), limits=limits)
    assert (moved["event_time"], moved["event_time_source"]) == (sent + 10_000, "corrected")


def test_beyond_the_bound_events_are_judged_as_sent_and_the_reply_says_why() -> None:
    # A clock 25 hours slow: its events look 25 hours old, within the 7 days, kept as sent.
    sent = NOW_MS - 25 * HOUR - 1_000
    sink = FakeSink()
    service = IngestService(IngestConfig(), sink)
    reply = service.handle(
        IngestRequest(body([summary(event_time=sent)], sent_at=NOW_MS - 25 * HOUR), {}, NOW_MS)
    )
    assert (reply.status, reply.body["accepted"]) == (200, 1)
    (warning,) = reply.body["warnings"]
    assert "25.0 hours behind the server clock" in warning
    assert "bounded to 24 hours" in warning
    record = orjson.loads(sink.stored[0].data)
    assert (record["event_time"], record["event_time_source"]) == (sent, "client")
    assert "clock_offset_ms" not in record

    # A clock 25 hours fast: its events are ahead of the server, clamped as before.
    ahead = ingest(
        IngestRequest(
            body([summary(event_time=NOW_MS + 25 * HOUR - 5)], NOW_MS + 25 * HOUR), {}, NOW_MS
        ),
        IngestConfig(),
    )
    assert "25.0 hours ahead of the server clock" in ahead.warnings[0]
    record = orjson.loads(ahead.accepted[0].data)
    assert (record["event_time"], record["event_time_source"]) == (NOW_MS, "clamped")


def test_the_bound_is_a_setting_and_inclusive() -> None:
    limits = RequestLimits(max_clock_correction_ms=HOUR)
    event = [summary(event_time=NOW_MS - 1_000 - HOUR)]
    (at_bound,) = records(body(event, sent_at=NOW_MS - HOUR), limits=limits)
    assert (at_bound["event_time"], at_bound["event_time_source"]) == (NOW_MS - 1_000, "corrected")
    over = ingest(
        IngestRequest(body(event, sent_at=NOW_MS - HOUR - 1), {}, NOW_MS), IngestConfig(limits)
    )
    assert "bounded to 1 hours" in over.warnings[0]
    assert orjson.loads(over.accepted[0].data)["event_time_source"] == "client"


def test_a_correct_clock_gives_no_warning() -> None:
    service = IngestService(IngestConfig(), FakeSink())
    reply = service.handle(IngestRequest(body([summary()], sent_at=NOW_MS - 30), {}, NOW_MS))
    assert reply.body == {"accepted": 1, "rejected": [], "failed": []}


def test_a_retry_with_a_new_sent_at_keeps_the_event_ids_and_the_times() -> None:
    """The client sends no event_id: ids are derived from the events as sent. The retry goes 30 s
    later with a new sent_at; the same events must get the same ids (so the copy is dropped) and
    the same corrected times. An event clamped as impossibly late keeps its id as well."""
    skew = 10 * MINUTE
    events, truth = skewed_events(skew)
    late = summary(event_time=NOW_MS + skew + HOUR)  # an hour after its request was sent
    for event in (*events, late):
        del event["event_id"]
    first = records(body([*events, late], sent_at=NOW_MS + skew), received=NOW_MS)
    retry = records(body([*events, late], sent_at=NOW_MS + 30_000 + skew), received=NOW_MS + 30_000)
    assert [r["event_id"] for r in retry] == [r["event_id"] for r in first]
    assert len({r["event_id"] for r in first}) == len(first)
    assert [r["event_time"] for r in first[:-1]] == [r["event_time"] for r in retry[:-1]] == truth
    assert (first[-1]["event_time_source"], retry[-1]["event_time_source"]) == ("clamped",) * 2


def test_one_event_an_hour_ahead_of_a_correct_clock_is_clamped() -> None:
    right = [NOW_MS - 2_000, NOW_MS - 500]
    events = [
        summary(event_time=right[0]),
        summary(event_time=NOW_MS + HOUR),
        summary(event_time=right[1]),
    ]
    stored = records(body(events, sent_at=NOW_MS - 40))
    assert [(r["event_time"], r["event_time_source"]) for r in stored] == [
        (right[0], "client"),
        (NOW_MS, "clamped"),
        (right[1], "client"),
    ]


def test_with_sent_at_one_event_minutes_ahead_of_a_correct_clock_is_clamped_too() -> None:
    """Within the old five-minute allowance, but stamped after its request was sent: with
    `sent_at` that cannot be right, so it cannot move any engine's watermark by four minutes."""
    tolerance = DEFAULTS.clock_tolerance_ms
    ahead = [NOW_MS + 4 * MINUTE, NOW_MS + tolerance, NOW_MS + tolerance + 1]
    stored = records(body([summary(event_time=t) for t in ahead], sent_at=NOW_MS - 40))
    assert [(r["event_time"], r["event_time_source"]) for r in stored] == [
        (NOW_MS, "clamped"),
        (NOW_MS + tolerance, "client"),
        (NOW_MS, "clamped"),
    ]
    # Without sent_at (older clients), the old allowance: four minutes ahead is kept.
    (kept,) = records(body([summary(event_time=ahead[0])]))
    assert (kept["event_time"], kept["event_time_source"]) == (ahead[0], "client")


def test_after_correction_a_time_ahead_of_the_request_by_more_than_the_tolerance_is_clamped() -> (
    None
):
    """A clock 10 minutes slow: an event stamped after the request was sent cannot be right."""
    skew = -10 * MINUTE
    sent_at = NOW_MS + skew
    tolerance = DEFAULTS.clock_tolerance_ms
    events = [summary(event_time=sent_at + tolerance), summary(event_time=sent_at + tolerance + 1)]
    stored = records(body(events, sent_at=sent_at))
    assert [(r["event_time"], r["event_time_source"]) for r in stored] == [
        (NOW_MS + tolerance, "corrected"),
        (NOW_MS, "clamped"),
    ]
    assert "clock_offset_ms" not in stored[1]


def test_the_age_rule_applies_after_correction() -> None:
    limit = DEFAULTS.max_event_age_ms
    # Sent 7 days and an hour ago by a clock 2 hours slow: truly 7 days less an hour ago, kept.
    slow = [summary(event_time=NOW_MS - limit - HOUR)]
    (kept,) = records(body(slow, sent_at=NOW_MS - 2 * HOUR))
    assert (kept["event_time"], kept["event_time_source"]) == (NOW_MS - limit + HOUR, "corrected")
    # Sent 7 days less an hour ago by a clock 2 hours fast: truly older than 7 days, rejected.
    fast = [summary(event_time=NOW_MS - limit + HOUR)]
    result = ingest(
        IngestRequest(body(fast, sent_at=NOW_MS + 2 * HOUR), {}, NOW_MS), IngestConfig()
    )
    assert result.accepted == []
    assert "7.0 days before the server clock" in result.rejected[0].reason


def test_legacy_requests_are_untouched() -> None:
    """The original envelope has no sent_at: one sent beside `Records` is not read."""
    data = {**summary(event_time=NOW_MS - 10 * MINUTE)}
    envelope = {"Records": [{"Data": data}], "sent_at": NOW_MS - 10 * MINUTE}
    (record,) = records(orjson.dumps(envelope))
    assert record["source_format"] == "legacy"
    assert (record["event_time"], record["event_time_source"]) == (NOW_MS - 10 * MINUTE, "client")
    assert "clock_offset_ms" not in record


def test_without_sent_at_the_old_rules_hold() -> None:
    """A v1 body from a client that sends no clock: times as sent, clamped 5 minutes ahead."""
    skew = DEFAULTS.max_future_skew_ms
    events = [
        summary(event_time=NOW_MS - 10 * MINUTE),
        summary(event_time=NOW_MS + skew),
        summary(event_time=NOW_MS + skew + 1),
    ]
    stored = records(body(events))
    assert [(r["event_time"], r["event_time_source"]) for r in stored] == [
        (NOW_MS - 10 * MINUTE, "client"),
        (NOW_MS + skew, "client"),
        (NOW_MS, "clamped"),
    ]


@pytest.mark.parametrize(
    ("sent_at", "why"),
    [
        ("1733580000000", "'sent_at' must be an integer"),
        (1_733_580_000_000.5, "'sent_at' must be an integer"),
        (True, "'sent_at' must be an integer"),
        (-5, "'sent_at' must be epoch milliseconds"),
    ],
)
def test_a_bad_sent_at_is_a_400_that_says_why(sent_at: Any, why: str) -> None:
    sink = FakeSink()
    service = IngestService(IngestConfig(), sink)
    reply = service.handle(IngestRequest(body([summary()], sent_at=sent_at), {}, NOW_MS))
    assert reply.status == 400
    assert why in reply.body["error"]
    assert sink.stored == []
