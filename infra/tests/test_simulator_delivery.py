"""The simulator's delivery rules against a scripted HTTP server (stdlib, in a thread): what is
retried (network errors, 5xx, 408, 429, a 207's failed items; Retry-After honoured), what is not
(other 4xx, a 207's rejected items), and the pacing of a live run on a fake clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from qos_infra.simulator import (
    Batch,
    HttpSender,
    Reply,
    SimulationConfig,
    generate,
    simulate,
)
from qos_infra.simulator.config import ConfigError
from qos_infra.simulator.delivery import CONTENT_TYPE, Delivery, SystemClock

START = 1_699_999_980_000


@dataclass
class Seen:
    at: float
    headers: dict[str, str]
    events: list[dict[str, Any]]


# A step answers one request: (status, JSON body or None, extra headers), or "drop" to close the
# connection without a reply (a network error for the client).
Step = tuple[int, dict[str, Any] | None, dict[str, str]] | str


@dataclass
class Script:
    steps: list[Step]
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self) -> Step:
        with self.lock:
            return self.steps.pop(0) if self.steps else (200, {"accepted": 0}, {})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        script = self.server.script
        with script.lock:
            script.seen.append(
                Seen(time.monotonic(), dict(self.headers.items()), orjson.loads(body)["events"])
            )
        step = script.next()
        if step == "drop":
            self.close_connection = True
            self.connection.close()
            return
        assert not isinstance(step, str)
        status, payload, headers = step
        data = orjson.dumps(payload or {})
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    script: Script


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.script = Script([])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.script
    finally:
        httpd.shutdown()
        httpd.server_close()


def _delivery(url: str, **overrides: Any) -> tuple[Delivery, Batch]:
    config = SimulationConfig(
        start_ms=START,
        viewers=3,
        minutes=2,
        seed=1,
        retry_base_ms=20,
        retry_max_ms=2000,
        max_retries=3,
        concurrency=1,
        **overrides,
    )
    simulation = generate(config)
    viewer = simulation.viewers[0]
    batch = Batch(START, viewer, viewer.events[:3])
    return Delivery(simulation, HttpSender(url), SystemClock()), batch


def test_a_503_is_retried_after_its_retry_after(server: tuple[str, Script]) -> None:
    url, script = server
    script.steps += [
        (503, {"error": "sink down"}, {"Retry-After": "1"}),
        (200, {"accepted": 3}, {}),
    ]
    delivery, batch = _delivery(url)
    delivery.deliver(batch)
    assert len(script.seen) == 2
    assert script.seen[1].at - script.seen[0].at >= 0.95  # Retry-After, not the 20 ms backoff
    assert script.seen[1].events == script.seen[0].events == batch.events
    s = delivery.stats
    assert (s.accepted, s.rejected, s.failed, s.requests, s.retries) == (3, 0, 0, 2, 1)


@pytest.mark.parametrize("status", [500, 502, 408, 429])
def test_retryable_statuses_are_retried_until_the_limit(
    server: tuple[str, Script], status: int
) -> None:
    url, script = server
    script.steps += [(status, {"error": "no"}, {})] * 10
    delivery, batch = _delivery(url)
    delivery.deliver(batch)
    assert len(script.seen) == 1 + 3  # max_retries = 3
    assert (delivery.stats.failed, delivery.stats.accepted) == (3, 0)


@pytest.mark.parametrize("status", [400, 404, 413])
def test_other_4xx_are_final(server: tuple[str, Script], status: int) -> None:
    url, script = server
    script.steps += [(status, {"error": "bad body", "rejected": []}, {})]
    delivery, batch = _delivery(url)
    delivery.deliver(batch)
    assert len(script.seen) == 1
    assert (delivery.stats.rejected, delivery.stats.failed) == (3, 0)
    assert delivery.stats.reasons == [f"HTTP {status}: bad body"]


def test_a_207_resends_failed_items_only(server: tuple[str, Script]) -> None:
    url, script = server
    reply = {
        "accepted": 1,
        "rejected": [{"index": 0, "reason": "event_time: too old"}],
        "failed": [{"index": 2, "reason": "sink"}],
    }
    script.steps += [(207, reply, {}), (200, {"accepted": 1}, {})]
    delivery, batch = _delivery(url)
    delivery.deliver(batch)
    assert len(script.seen) == 2
    assert script.seen[1].events == [batch.events[2]]  # same event, same event_id
    s = delivery.stats
    assert (s.accepted, s.rejected, s.failed) == (2, 1, 0)
    assert s.reasons == ["event_time: too old"]


def test_a_network_error_is_retried(server: tuple[str, Script]) -> None:
    url, script = server
    script.steps += ["drop", (200, {"accepted": 3}, {})]
    delivery, batch = _delivery(url)
    delivery.deliver(batch)
    assert len(script.seen) == 2
    assert delivery.stats.accepted == 3


def test_requests_carry_the_viewer_headers_and_the_sdk_content_type(
    server: tuple[str, Script],
) -> None:
    url, script = server
    delivery, batch = _delivery(url)
    delivery.deliver(batch)
    (seen,) = script.seen
    assert seen.headers["Content-Type"] == CONTENT_TYPE
    for name, value in batch.viewer.headers().items():
        assert seen.headers[name] == value


def test_a_backfill_sends_every_event_once_in_event_time_waves(server: tuple[str, Script]) -> None:
    url, script = server
    config = SimulationConfig(
        start_ms=int(time.time() * 1000) - 180_000, viewers=20, minutes=3, seed=2
    )
    result = simulate(config, url)
    assert result.delivery is not None and result.complete
    sent = [e for s in script.seen for e in s.events]
    assert sorted(e["event_id"] for e in sent) == sorted(
        e["event_id"] for e in result.simulation.events()
    )
    newest = 0
    for seen in script.seen:  # no request holds an event a whole slice older than one sent before
        assert min(e["event_time"] for e in seen.events) > newest - config.catch_up_slice_ms
        newest = max(newest, *(e["event_time"] for e in seen.events))


class FakeClock:
    """Time moves only when someone sleeps."""

    def __init__(self, now_s: float) -> None:
        self.now = now_s

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


@dataclass
class RecordingSender:
    clock: FakeClock
    sent: list[tuple[float, list[dict[str, Any]]]] = field(default_factory=list)
    answer: Callable[[], Reply] = lambda: Reply(200, {}, b'{"accepted": 1}')

    def send(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        self.sent.append((self.clock.time(), orjson.loads(body)["events"]))
        return self.answer()


def test_a_live_run_sends_each_batch_when_the_sdk_would() -> None:
    clock = FakeClock(START / 1000)
    sender = RecordingSender(clock)
    config = SimulationConfig(start_ms=START, viewers=30, minutes=3, seed=4, concurrency=1, speed=2)
    progress: list[Any] = []
    result = simulate(config, clock=clock, sender=sender, on_progress=progress.append)
    assert result.complete
    assert sum(len(events) for _, events in sender.sent) == result.simulation.event_count
    for at, events in sender.sent:
        newest = max(e["event_time"] for e in events)
        assert newest <= at * 1000 < newest + config.batch_interval_ms + 600
    assert clock.now * 1000 <= config.end_ms + 1000  # 3 simulated minutes in 90 s at speed 2
    assert progress and progress[-1].accepted == result.simulation.event_count
    assert max(p.viewers_active for p in progress) > 20


@dataclass
class StreamRecordingSender:
    """What reaches the EventBridge endpoint: lists of EventBridge events."""

    clock: FakeClock
    sent: list[tuple[float, list[dict[str, Any]]]] = field(default_factory=list)

    def send(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        self.sent.append((self.clock.time(), orjson.loads(body)))
        return Reply(200, {}, b'{"accepted": 1}')


def test_the_channels_stream_events_go_to_the_stream_sender_each_when_it_happens() -> None:
    clock = FakeClock(START / 1000)
    sender, streams = RecordingSender(clock), StreamRecordingSender(clock)
    config = SimulationConfig(
        start_ms=START, viewers=30, minutes=3, seed=4, concurrency=1, ivs_events=True
    )
    result = simulate(config, clock=clock, sender=sender, stream_sender=streams)
    assert result.complete
    channel_events = result.simulation.channel_events
    viewer_events = [e for _, events in sender.sent for e in events]
    assert len(viewer_events) + len(channel_events) == result.simulation.event_count
    # Every stream event once, alone, when its time (whole seconds) comes.
    assert [events for _, events in streams.sent] == [[c.event] for c in channel_events]
    for (at, (event,)), c in zip(streams.sent, channel_events, strict=True):
        assert c.time_ms <= at * 1000 < c.time_ms + 1000
        assert event["source"] == "aws.ivs"
    # One stream per live channel: started at its first live viewer event, ended at its last.
    live: dict[str, list[int]] = {}
    for e in viewer_events:
        if e["is_live"]:
            live.setdefault(e["channel_watched"], []).append(e["event_time"])
    for channel, times in live.items():
        mine = [c for c in channel_events if c.event["resources"][0].endswith(f"/{channel}")]
        names = [c.event["detail"]["event_name"] for c in mine]
        assert names[:2] == ["Session Created", "Stream Start"]
        assert names[-2:] == ["Stream End", "Session Ended"]
        assert "Stream Starvation Start" in names
        assert mine[0].time_ms == min(times) // 1000 * 1000
        assert mine[-1].time_ms == max(times) // 1000 * 1000
        assert len({c.event["detail"]["stream_id"] for c in mine}) == 1
    assert {c.event["resources"][0].rsplit("/", 1)[1] for c in channel_events} == set(live)


def test_a_run_with_stream_events_needs_a_stream_sender() -> None:
    clock = FakeClock(START / 1000)
    config = SimulationConfig(start_ms=START, viewers=3, minutes=1, seed=4, ivs_events=True)
    with pytest.raises(ConfigError, match="stream_sender"):
        simulate(config, clock=clock, sender=RecordingSender(clock))


def test_stop_ends_a_run_and_counts_what_was_not_sent() -> None:
    clock = FakeClock(START / 1000)
    stop = threading.Event()
    sender = RecordingSender(clock)

    def answer() -> Reply:
        if len(sender.sent) >= 5:
            stop.set()
        return Reply(200, {}, b"{}")

    sender.answer = answer
    config = SimulationConfig(start_ms=START, viewers=30, minutes=3, seed=4, concurrency=1)
    result = simulate(config, clock=clock, sender=sender, stop=stop)
    assert result.delivery is not None
    d = result.delivery
    assert len(sender.sent) == 5
    assert d.accepted + d.unsent == result.simulation.event_count
    assert d.unsent > 0 and not result.complete


def test_the_truth_is_written_while_the_live_run_is_still_sending(tmp_path: Path) -> None:
    """The events already due go first (a prefill), then the truth is computed and written
    beside the live sending: a long live run (`qos up --demo`) has its truth file within
    seconds, not at its end, and the first events are not held back by computing it."""
    clock = FakeClock(START / 1000)
    truth_path = tmp_path / "run.truth.json"
    config = SimulationConfig(
        start_ms=START - 60_000, viewers=30, minutes=4, seed=6, concurrency=1, speed=2
    )
    seen_truth: list[tuple[int, bool]] = []
    sender = RecordingSender(clock)

    def answer() -> Reply:
        # The first live request (event times after the clock's start) waits for the file.
        newest = max(e["event_time"] for e in sender.sent[-1][1])
        if newest >= START and not seen_truth:
            deadline = time.monotonic() + 60
            while not truth_path.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            seen_truth.append((len(sender.sent), truth_path.exists()))
        return Reply(200, {}, b"{}")

    sender.answer = answer
    result = simulate(config, clock=clock, sender=sender, truth_path=truth_path)
    assert result.complete
    (requests_before, written) = seen_truth[0]
    assert written, "no truth file while the live part was being sent"
    assert requests_before < len(sender.sent), "the truth was written only at the end"
    truth = orjson.loads(truth_path.read_bytes())
    assert truth["delivery"]["accepted"] == truth["event_count"] == result.simulation.event_count
    assert truth["windows"] == result.truth["windows"]
    assert (tmp_path / truth["events_file"]).is_file()


def test_a_truth_that_cannot_be_written_stops_the_sending(tmp_path: Path) -> None:
    clock = FakeClock(START / 1000)
    sender = RecordingSender(clock)
    stop = threading.Event()

    def answer() -> Reply:
        stop.wait(60)  # the truth's failure stops the run
        return Reply(200, {}, b"{}")

    sender.answer = answer
    (tmp_path / "a-file").write_text("not a directory")
    config = SimulationConfig(start_ms=START, viewers=30, minutes=30, seed=4, concurrency=1)
    with pytest.raises((FileExistsError, NotADirectoryError)):
        simulate(
            config,
            clock=clock,
            sender=sender,
            stop=stop,
            truth_path=tmp_path / "a-file" / "t.truth.json",
        )
    assert stop.is_set()
    assert sum(len(events) for _, events in sender.sent) < generate(config).event_count


@dataclass
class ClockSender:
    """Answers from a script of statuses (then 200) and records every body with its time."""

    clock: FakeClock
    statuses: list[int] = field(default_factory=list)
    bodies: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def send(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        self.bodies.append((self.clock.time(), orjson.loads(body)))
        status = self.statuses.pop(0) if self.statuses else 200
        return Reply(status, {}, b"{}")


def test_a_skewed_clock_stamps_sent_at_on_every_attempt() -> None:
    """A viewer whose clock is 10 minutes behind sends its events and its sent_at from that
    clock, re-stamped on each retry; a right clock sends no sent_at."""
    skew = -600_000
    clock = FakeClock(START / 1000 + 3600)
    config = SimulationConfig(
        start_ms=START,
        viewers=8,
        minutes=2,
        seed=1,
        retry_base_ms=1000,
        max_retries=3,
        concurrency=1,
        clock_skew_share=0.5,
        clock_skews_ms=(skew,),
    )
    simulation = generate(config)
    skewed = next(v for v in simulation.viewers if v.clock_skew_ms)
    right = next(v for v in simulation.viewers if not v.clock_skew_ms)
    sender = ClockSender(clock, [503, 500])
    delivery = Delivery(simulation, sender, clock)
    delivery.deliver(Batch(START, skewed, skewed.events[:3]))
    assert len(sender.bodies) == 3
    stamps = [body["sent_at"] for _, body in sender.bodies]
    assert stamps == [int(at * 1000) + skew for at, _ in sender.bodies]
    assert stamps[0] < stamps[1] < stamps[2]  # the retries waited, and were stamped anew
    for _, body in sender.bodies:
        assert [e["event_time"] for e in body["events"]] == [
            e["event_time"] + skew for e in skewed.events[:3]
        ]
    delivery.deliver(Batch(START, right, right.events[:2]))
    assert list(sender.bodies[-1][1]) == ["events"]
    assert sender.bodies[-1][1]["events"] == right.events[:2]
