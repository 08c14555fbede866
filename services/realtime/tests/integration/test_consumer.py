"""The engine over a real event log and metric store: lateness, watermarks, restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from qos_realtime.adapters.metric_store import MetricStore, UnknownMetric
from qos_realtime.adapters.window_engine import compute_rows
from qos_realtime.domain.windows import WindowConfig
from qos_realtime.service.consumer import CONSUMER, ConsumerTiming, RealtimeConsumer
from qos_shared.eventlog import EventLog, LogRecord
from qos_shared.views import ViewRules

from ..golden import BASE_MS, expected_rows, generate
from ..unit.test_golden import close

W = 10  # seconds


class Clock:
    def __init__(self) -> None:
        self.now = BASE_MS / 1000

    def __call__(self) -> float:
        return self.now


def play(n: int, at_s: float, **extra: Any) -> dict[str, Any]:
    return {
        "metric_type": "PLAY",
        "session_id": f"s{n}",
        "event_id": f"e{n}",
        "client_platform": "web",
        "channel_watched": "ch",
        "is_live": True,
        "source_format": "v1",
        "event_time": BASE_MS + int(at_s * 1000),
        "startup_latency_ms": 1000 + n,
        **extra,
    }


def append(log: EventLog, *records: dict[str, Any]) -> None:
    log.append([LogRecord(r["event_id"], r["session_id"], orjson.dumps(r)) for r in records])


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    return EventLog(tmp_path / "events.sqlite")


@pytest.fixture
def store(tmp_path: Path) -> MetricStore:
    return MetricStore(tmp_path / "metrics.sqlite")


@pytest.fixture
def clock() -> Clock:
    """The consumer's wall clock, moved by hand; it starts at BASE_MS (event time 0 s)."""
    return Clock()


def consumer(
    log: EventLog,
    store: MetricStore,
    clock: Clock,
    *,
    horizon_s: float = 0.0,
    views_log: EventLog | None = None,
    **timing: Any,
) -> RealtimeConsumer:
    """A consumer of W-second windows, 5 s lateness; `horizon_s`: its revision horizon (0: a
    closed window is final, a record for it late)."""
    return RealtimeConsumer(
        log,
        store,
        WindowConfig(window_s=W, allowed_lateness_s=5, revision_horizon_s=horizon_s),
        ConsumerTiming(**{"flush_interval_s": 0.0, "idle_after_s": 30.0, **timing}),
        clock=clock,
        views_log=views_log,
    )


def value(store: MetricStore, metric: str, window: int, *, final_only: bool = True) -> float | None:
    rows = store.series(
        metric,
        start_ms=BASE_MS + window * W * 1000,
        end_ms=BASE_MS + (window + 1) * W * 1000,
        final_only=final_only,
    )
    assert len(rows) <= 1
    return rows[0].value if rows else None


def test_out_of_order_within_lateness_lands_in_its_window_and_later_is_late(
    log: EventLog, store: MetricStore, clock: Clock
) -> None:
    c = consumer(log, store, clock)
    append(log, play(1, 1), play(2, 9.5), play(3, 12))
    c.poll()  # watermark 12 - 5 = 7 s: window 0 (0-10 s) still open
    assert value(store, "plays", 0) is None
    assert value(store, "plays", 0, final_only=False) == 2  # provisional
    append(log, play(4, 8))  # out of order, within the lateness
    c.poll()
    append(log, play(5, 16), play(7, 16))  # two sessions at 16 s: watermark 11 s, window 0 closes
    c.poll()
    assert value(store, "plays", 0) == 3
    append(log, play(6, 9))  # window 0 is closed: late
    c.poll()
    assert value(store, "plays", 0) == 3
    assert value(store, "late_events", 0) == 1
    assert value(store, "plays", 1) is None  # window 1 (10-20 s) open: watermark is 11 s
    assert store.revisions() == {}


def test_a_record_within_the_revision_horizon_revises_its_closed_window(
    log: EventLog, store: MetricStore, clock: Clock
) -> None:
    c = consumer(log, store, clock, horizon_s=20)
    append(log, play(1, 1), play(2, 9.5), play(5, 16), play(7, 16))
    c.poll()  # watermark 11 s: window 0 (0-10 s) closes with 2 plays
    assert value(store, "plays", 0) == 2
    append(log, play(6, 9, startup_latency_ms=4000))  # after its window closed: a revision
    c.poll()
    assert value(store, "plays", 0) == 3
    assert value(store, "startup_time", 0) == pytest.approx((1001 + 1002 + 4000) / 3000)
    assert value(store, "late_events", 0) is None
    ((window, revision),) = store.revisions().items()
    assert window == BASE_MS and (revision["revision"], revision["records"]) == (1, 1)
    append(log, play(8, 36), play(9, 36))  # watermark 31 s: window 0 ended 21 s before, sealed
    c.poll()
    append(log, play(10, 2))
    c.poll()
    assert value(store, "plays", 0) == 3
    assert value(store, "late_events", 0) == 1
    assert store.revisions()[BASE_MS]["revision"] == 1


def test_windows_close_on_the_watermark_and_on_idleness_not_on_wall_time(
    log: EventLog, store: MetricStore, clock: Clock
) -> None:
    c = consumer(log, store, clock, idle_after_s=30.0)
    append(log, play(1, 1))
    c.poll()
    for i in range(2, 6):  # traffic keeps coming, event time stays in window 0
        clock.now += 100  # wall time runs far ahead of the windows
        append(log, play(i, 2))
        c.poll()
    assert value(store, "plays", 0) is None, "wall time alone must not close a busy window"
    clock.now += 10
    c.poll()  # no record for 10 s < idle_after_s
    assert value(store, "plays", 0) is None
    clock.now += 25
    c.poll()  # idle for 35 s, but the traffic's event time is 400 s behind: a backfill's pause
    assert value(store, "plays", 0) is None
    clock.now += 30
    c.poll()  # idle for 65 s: the backfill is over, the wall clock moves the watermark
    assert value(store, "plays", 0) == 5


def test_restart_rebuilds_open_windows_and_does_not_count_twice(
    log: EventLog, store: MetricStore, tmp_path: Path, clock: Clock
) -> None:
    records = generate(seed=3, sessions=80, span_s=60)
    # arrival out of event-time order, but never by more than the allowed lateness (5 s)
    records.sort(key=lambda r: (r["event_time"] // 4000, r["event_id"]))
    late = [dict(records[0], event_id="late-1", session_id="late", event_time=BASE_MS + 1)]
    append(log, *records)
    first = consumer(log, store, clock, batch_size=97)
    for _ in range(5):
        first.poll()  # part of the log, some windows closed, some open; then it "dies"
    assert 0 < log.checkpoint(CONSUMER) < log.last_position()
    second = consumer(log, store, clock, batch_size=97)
    while second.poll():
        pass
    append(log, *late)
    while second.poll():
        pass
    clock.now += 1000
    second.poll()  # idle for long enough: the wall clock closes the rest
    third = consumer(log, store, clock, batch_size=97)  # a restart after everything was read
    while third.poll():
        pass
    clock.now += 1000
    third.poll()

    expected = {r.key(): r.value for r in compute_rows(records, window_s=W, top_n=10)}
    got = {}
    for window in store.windows(final_only=True):
        for row in store.window(window):
            if row.metric != "late_events":
                got[row.key()] = row.value
    assert set(got) == set(expected)
    assert all(close(got[k], expected[k]) for k in expected)
    (late_row,) = store.series("late_events")
    assert late_row.value == 1
    assert log.checkpoint(CONSUMER) == log.last_position()


def test_store_queries_explain_bad_arguments(store: MetricStore) -> None:
    with pytest.raises(UnknownMetric, match="unknown metric 'startup'; known: attempts"):
        store.series("startup")
    with pytest.raises(ValueError, match="is after end"):
        store.series("plays", start_ms=2, end_ms=1)


def test_a_crash_between_store_write_and_checkpoint_replays_without_double_counting(
    log: EventLog, store: MetricStore, clock: Clock
) -> None:
    a = consumer(log, store, clock)
    append(log, play(1, 1), play(2, 2), play(3, 16), play(5, 16))
    a.poll()  # window 0 closed by the watermark (11 s)
    append(log, play(4, 3))  # late for window 0
    a.poll()
    assert (value(store, "plays", 0), value(store, "late_events", 0)) == (2, 1)
    log.commit(CONSUMER, 0)  # as if the process died before any checkpoint reached the log
    b = consumer(log, store, clock)
    b.poll()
    clock.now += 100
    b.poll()
    assert (value(store, "plays", 0), value(store, "late_events", 0)) == (2, 1)
    assert value(store, "plays", 1) == 2  # window 1 (plays 3, 5) rebuilt from the replay, closed


def test_a_crash_after_a_revision_replays_it_without_revising_again(
    log: EventLog, store: MetricStore, clock: Clock
) -> None:
    a = consumer(log, store, clock, horizon_s=600)
    append(log, play(1, 1), play(2, 2), play(3, 16), play(5, 16))
    a.poll()  # window 0 closed by the watermark (11 s)
    append(log, play(4, 3))  # after window 0 closed: it is revised
    a.poll()
    assert value(store, "plays", 0) == 3
    assert log.checkpoint(CONSUMER) == 0, "window 0's records are held for revisions"
    log.commit(CONSUMER, 0)
    b = consumer(log, store, clock, horizon_s=600)
    b.poll()
    assert value(store, "plays", 0) == 3 and value(store, "late_events", 0) is None
    assert store.revisions()[BASE_MS]["revision"] == 1
    append(log, play(6, 4))  # the restarted consumer holds window 0's records: revision 2
    b.poll()
    assert value(store, "plays", 0) == 4
    assert store.revisions()[BASE_MS] | {"revised_at": 0} == {
        "revision": 2,
        "records": 2,
        "revised_at": 0,
    }


def test_a_record_the_engine_cannot_read_stops_the_consumer_where_it_was(
    log: EventLog, store: MetricStore, clock: Clock
) -> None:
    c = consumer(log, store, clock)
    append(log, play(1, 1), play(2, 16), play(4, 16))
    c.poll()  # window 0 closed by the watermark (11 s); window 1 open
    position, checkpoint = c.position, log.checkpoint(CONSUMER)
    log.append([LogRecord("bad", "pk", b"not json")])
    append(log, play(3, 17))
    with pytest.raises(duckdb.InvalidInputException):
        c.poll()
    assert (c.position, log.checkpoint(CONSUMER)) == (position, checkpoint)
    assert value(store, "plays", 0) == 1
    restarted = consumer(log, store, clock)  # a restart replays up to it, and stops there too
    with pytest.raises(duckdb.InvalidInputException):
        restarted.poll()
    assert log.checkpoint(CONSUMER) == checkpoint


def final_rows(store: MetricStore) -> dict[Any, float | None]:
    return {
        row.key(): row.value
        for window in store.windows(final_only=True)
        for row in store.window(window)
        if row.metric != "late_events"
    }


def test_one_record_an_hour_ahead_moves_no_one_else_s_windows(
    log: EventLog, store: MetricStore, clock: Clock
) -> None:
    """In the middle of normal traffic (out of order within the lateness), one session's record
    an hour ahead (a clock that far off, from a client that sends no `sent_at`): no record of
    anyone else becomes late, and every window, that record's own included, is the oracle's."""
    records = generate(seed=4, sessions=60, span_s=120)
    records.sort(key=lambda r: (r["event_time"] // 3000, r["event_id"]))
    ahead = dict(records[len(records) // 2], event_id="ahead", event_time=BASE_MS + 3_600_000)
    middle = len(records) // 2
    arrival = [*records[:middle], ahead, *records[middle:]]
    c = consumer(log, store, clock, batch_size=50)
    for i in range(0, len(arrival), 50):
        append(log, *arrival[i : i + 50])
        c.poll()
    clock.now += 7200  # idle: the wall clock closes the rest, the hour-ahead window too
    c.poll()
    assert store.series("late_events") == []
    expected = expected_rows([*records, ahead], window_s=W, top_n=10)
    got = final_rows(store)
    assert set(got) == set(expected)
    assert all(close(got[k], expected[k]) for k in expected)


def test_a_backfill_that_pauses_leaves_no_half_filled_window(
    log: EventLog, store: MetricStore, clock: Clock
) -> None:
    """Past events (an hour before the wall clock) replayed with a 10 s pause halfway: the pause
    closes nothing the replay is still filling; a minute without records ends the backfill."""
    clock.now += 3600
    records = generate(seed=6, sessions=60, span_s=120)
    records.sort(key=lambda r: (r["event_time"] // 3000, r["event_id"]))
    half = len(records) // 2
    c = consumer(log, store, clock, batch_size=100_000, idle_after_s=5.0)
    append(log, *records[:half])
    c.poll()
    finals = store.windows(final_only=True)
    clock.now += 10  # the sender pauses
    c.poll()
    assert store.windows(final_only=True) == finals, "a 10 s pause closed windows"
    append(log, *records[half:])
    c.poll()
    clock.now += 61  # no record for a minute: the backfill is over
    c.poll()
    assert store.series("late_events") == []
    expected = expected_rows(records, window_s=W, top_n=10)
    got = final_rows(store)
    assert set(got) == set(expected)
    assert all(close(got[k], expected[k]) for k in expected)


def test_a_live_stream_still_closes_after_a_short_quiet(
    log: EventLog, store: MetricStore, clock: Clock
) -> None:
    c = consumer(log, store, clock, idle_after_s=5.0)
    append(log, play(1, 1), play(2, 2))
    c.poll()
    clock.now += 20  # live: its event time is the wall clock's
    c.poll()
    assert value(store, "plays", 0) == 2


def test_a_late_record_reopens_its_view_and_the_views_log_gets_it_once_sealed(
    log: EventLog, store: MetricStore, clock: Clock, tmp_path: Path
) -> None:
    views_log = EventLog(tmp_path / "views.sqlite")
    config = WindowConfig(
        window_s=W, allowed_lateness_s=5, revision_horizon_s=30, views=ViewRules(timeout_ms=10_000)
    )
    c = RealtimeConsumer(
        log, store, config, ConsumerTiming(flush_interval_s=0.0), clock=clock, views_log=views_log
    )
    attempt = dict(play(1, 1), metric_type="ATTEMPT", event_id="a1")
    del attempt["startup_latency_ms"]
    append(log, attempt, play(2, 20), play(3, 20))
    c.poll()  # watermark 15 s: the view of s1 (an attempt at 1 s) closed at 11 s; window 0 closed
    (before,) = store.views(BASE_MS, BASE_MS + 60_000, client_platform="web", outcome=None)[0][:1]
    assert before["session_id"] == "s1" and before["outcome"] == "exit_before_start"
    append(log, play(1, 8))  # s1's first frame, after its view and window closed
    c.poll()
    assert store.view(before["view_id"]) is None, "the reopened view's record is void"
    assert value(store, "plays", 0) == 1 and store.revisions()[BASE_MS]["revision"] == 1
    assert views_log.last_position() == 0, "no window is sealed yet"
    append(log, play(4, 60), play(5, 60))
    c.poll()  # watermark 55 s: s1's view closes again (at 18 s); windows before 20 s sealed
    logged = [orjson.loads(e.data) for e in views_log.read(after=0, limit=100)]
    assert [(v["session_id"], v["outcome"]) for v in logged] == [("s1", "abandoned")]
    assert store.view(logged[0]["view_id"]) == logged[0]
    assert value(store, "exits_before_video_start", 1) == 0
    views_log.close()
