"""Delivery: a run's events to ingest over HTTP, batched per viewer as the SDK does, with retries.

Batching (player/src/transport.js): each viewer's events queue up; a batch is sent when
`batch_size` events wait, `batch_interval_ms` after the first waiting one, or when the viewer
leaves (the SDK's flush at page exit). One request carries one viewer's events, with that
viewer's User-Agent and CloudFront viewer headers. The body is the v1 batch `{"events": [...]}`
sent as `text/plain;charset=UTF-8`, the SDK's content type.

A viewer whose device clock is off (`Viewer.clock_skew_ms`) sends its events' event_time as that
clock reads them and, as the SDK does, `sent_at`: the clock at the moment of each attempt (the
run's clock plus the skew; a retry is stamped anew), from which ingest corrects them. Viewers with
a right clock send no `sent_at`, as a client from before the field: their events need no
correction, and so a run's stored times never depend on how long ingest takes to answer (a
loaded machine may take longer than the tolerance). Skewed clocks assume the run's clock is the
server's: `sent_at` from a clock moved ahead (a test's) would be corrected by that much too.

Events whose time is already past when sending starts (`--backfill`, or a start in the past) are
sent at once, in event-time order: in waves of `catch_up_slice_ms` of event time, one request per
viewer and wave, the requests of a wave in parallel, a wave only after the one before it is done.
So no event reaches ingest more than one slice behind an event that is later in event time, which
keeps the realtime engine's windows open for them (its allowed lateness is 5 s by default).
Later events are sent when their time comes (`clock`), `speed` times faster if asked.

Retries (as the SDK): network errors, 5xx, 408 and 429 are retried up to `max_retries` times with
exponential backoff (base x 2^(n-1), capped, half of it random) or the Retry-After header when
longer; other 4xx are final (counted rejected); in a 207, `rejected` items are final and `failed`
items are re-sent (same event_id: ingest's log deduplicates).

The live channels' IVS stream events (`streams`, when the run has them) go to the stream sender
(ingest's `/eventbridge`, beside the events endpoint), as EventBridge would deliver them: each
when its time comes, alone; in a catch-up, those of a wave in one request (a JSON list), sent
with the viewers' requests of that wave (first at one instant when sent in time).
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import orjson

from qos_infra.simulator.audience import Event, Simulation, Viewer
from qos_infra.simulator.config import SimulationConfig

CONTENT_TYPE = "text/plain;charset=UTF-8"
MAX_EVENTS_PER_REQUEST = 500
DEFAULT_ENDPOINT = "http://127.0.0.1:8780/v1/events"


class Clock(Protocol):
    def time(self) -> float:
        """Epoch seconds."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


class Sender(Protocol):
    """Posts one request body; raises OSError when the network fails (no reply)."""

    def send(self, body: bytes, headers: Mapping[str, str]) -> Reply: ...


def normalise_endpoint(endpoint: str) -> str:
    """A base URL (`http://host:port`) means its `/v1/events`; anything else is kept."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the endpoint must be an http(s) URL, got {endpoint!r}")
    if parts.path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/events"
    return endpoint


class HttpSender:
    """Keep-alive connections (one per thread) to the ingest endpoint."""

    def __init__(self, endpoint: str, *, timeout_s: float = 30.0) -> None:
        self.endpoint = normalise_endpoint(endpoint)
        parts = urlsplit(self.endpoint)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout_s
        self._local = threading.local()

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = kind(self._host, self._port, timeout=self._timeout)
        self._local.conn = conn
        return conn, False

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        self._local.conn = None

    def request(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Reply:
        for _ in range(2):
            conn, reused = self._connection()
            try:
                conn.request(method, path, body=body, headers=dict(headers))
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._drop(conn)
                if reused:  # the server closed an idle connection: once more on a new one
                    continue
                raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
            if response.will_close:
                self._drop(conn)
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        raise ConnectionError("the connection closed twice")  # pragma: no cover

    def send(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        return self.request("POST", self._path, body, {**headers, "Content-Type": CONTENT_TYPE})

    def unreachable(self) -> str | None:
        """Why ingest cannot be reached (None when it answers; any HTTP answer will do)."""
        try:
            self.request("GET", "/healthz", None, {})
        except ConnectionError as exc:
            return str(exc)
        return None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._drop(conn)


def eventbridge_endpoint(endpoint: str) -> str:
    """Ingest's EventBridge endpoint beside its events endpoint (`…/v1/events`, `…/streams` or a
    base URL): `…/eventbridge` on the same host."""
    parts = urlsplit(normalise_endpoint(endpoint))
    return f"{parts.scheme}://{parts.netloc}/eventbridge"


@dataclass(slots=True)
class Batch:
    """One request: some of one viewer's events."""

    send_at: int  # epoch ms at which the SDK would send it
    viewer: Viewer
    events: list[Event]
    wave: int | None = None  # catch-up wave (event-time slice), None when sent in time

    def body(self, events: list[Event] | None = None, *, now_ms: int | None = None) -> bytes:
        """The request body of `events` (default: all of the batch's) as the viewer's device
        sends it at true time `now_ms` (default: `send_at`)."""
        viewer = self.viewer
        sent = [viewer.sent(e) for e in (self.events if events is None else events)]
        if not viewer.clock_skew_ms:
            return orjson.dumps({"events": sent})
        now = self.send_at if now_ms is None else now_ms
        return orjson.dumps({"events": sent, "sent_at": now + viewer.clock_skew_ms})


def plan_batches(
    simulation: Simulation, *, catch_up_before: int
) -> tuple[list[Batch], list[Batch]]:
    """(catch-up batches by wave, timed batches by send time) for a run whose sending starts at
    epoch ms `catch_up_before`."""
    config = simulation.config
    catch_up: list[Batch] = []
    timed: list[Batch] = []
    for viewer in simulation.viewers:
        past = [e for e in viewer.events if e["event_time"] < catch_up_before]
        future = viewer.events[len(past) :]
        catch_up.extend(_slices(viewer, past, config))
        timed.extend(_sdk_batches(viewer, future, config))
    order_of = {id(v): i for i, v in enumerate(simulation.viewers)}
    catch_up.sort(key=lambda b: (b.wave or 0, order_of[id(b.viewer)]))
    timed.sort(key=lambda b: (b.send_at, order_of[id(b.viewer)]))
    return catch_up, timed


@dataclass(slots=True)
class StreamBatch:
    """One request of IVS stream events to the stream sender: a JSON list, as EventBridge's."""

    send_at: int  # epoch ms at which EventBridge would deliver it
    events: list[Event]
    wave: int | None = None  # catch-up wave (event-time slice), None when sent in time

    def body(self, events: list[Event] | None = None, *, now_ms: int | None = None) -> bytes:
        return orjson.dumps(self.events if events is None else events)


Request = Batch | StreamBatch


def plan_stream_batches(
    simulation: Simulation, *, catch_up_before: int
) -> tuple[list[StreamBatch], list[StreamBatch]]:
    """The channels' stream events as (catch-up batches by wave, timed batches by send time):
    one request per wave in a catch-up, one per event when its time comes."""
    slice_ms = simulation.config.catch_up_slice_ms
    catch_up: list[StreamBatch] = []
    timed: list[StreamBatch] = []
    for c in simulation.channel_events:
        if c.time_ms >= catch_up_before:
            timed.append(StreamBatch(c.time_ms, [c.event]))
            continue
        wave = c.time_ms // slice_ms
        last = catch_up[-1] if catch_up else None
        if last is None or last.wave != wave or len(last.events) >= MAX_EVENTS_PER_REQUEST:
            catch_up.append(StreamBatch((wave + 1) * slice_ms, [c.event], wave))
        else:
            last.events.append(c.event)
    return catch_up, timed


def _merged(viewers: list[Batch], streams: list[StreamBatch], *, catch_up: bool) -> list[Request]:
    """Both kinds of request in sending order (stable): a wave's (or an instant's) stream events
    first, so a channel's stream starts before its viewers' events."""

    def key(b: Request) -> tuple[int, bool]:
        return ((b.wave or 0) if catch_up else b.send_at, isinstance(b, Batch))

    return sorted([*streams, *viewers], key=key)


def _slices(viewer: Viewer, events: list[Event], config: SimulationConfig) -> list[Batch]:
    slice_ms = config.catch_up_slice_ms
    batches: list[Batch] = []
    for event in events:
        wave = event["event_time"] // slice_ms
        last = batches[-1] if batches else None
        if last is None or last.wave != wave or len(last.events) >= MAX_EVENTS_PER_REQUEST:
            batches.append(Batch((wave + 1) * slice_ms, viewer, [event], wave))
        else:
            last.events.append(event)
    return batches


def _sdk_batches(viewer: Viewer, events: list[Event], config: SimulationConfig) -> list[Batch]:
    batches: list[Batch] = []
    queue: list[Event] = []
    timer: int | None = None
    for event in events:
        t = event["event_time"]
        if timer is not None and t >= timer:
            batches.append(Batch(timer, viewer, queue))
            queue, timer = [], None
        queue.append(event)
        if len(queue) >= config.batch_size:
            batches.append(Batch(t, viewer, queue))
            queue, timer = [], None
        elif timer is None:
            timer = t + config.batch_interval_ms
    if queue:  # the viewer leaves with their last event: the SDK flushes at page exit
        batches.append(Batch(queue[-1]["event_time"], viewer, queue))
    return batches


@dataclass(slots=True)
class DeliveryStats:
    requests: int = 0
    retries: int = 0
    events_sent: int = 0  # events posted at least once
    accepted: int = 0
    rejected: int = 0  # refused by ingest as invalid: never re-sent
    failed: int = 0  # still failing after the last retry
    unsent: int = 0  # not sent: the run was stopped first
    reasons: list[str] = field(default_factory=list)  # the first distinct rejection reasons

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Progress:
    elapsed_s: float
    sim_ms: int  # simulated time reached
    viewers_active: int
    events_total: int
    events_sent: int
    accepted: int
    rejected: int
    failed: int
    rate: float  # events accepted per second, recently
    # "catch-up": sending the events already due (a backfill, a prefill) as fast as ingest
    # takes them; "live": sending each event at its time.
    phase: str = "live"


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


class Delivery:
    """Sends a run's batches; `stop` (set from a signal handler) ends it early."""

    def __init__(
        self,
        simulation: Simulation,
        sender: Sender,
        clock: Clock,
        *,
        stop: threading.Event | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        progress_every_s: float = 0.5,
        on_caught_up: Callable[[], None] | None = None,
        stream_sender: Sender | None = None,
    ) -> None:
        if simulation.channel_events and stream_sender is None:
            raise ValueError("the run has IVS stream events: give a stream_sender for them")
        self.simulation = simulation
        self.config = simulation.config
        self.sender = sender
        self.stream_sender = stream_sender
        self.clock = clock
        self.stop = stop or threading.Event()
        self.on_progress = on_progress
        self.progress_every_s = progress_every_s
        # Called once the events already due at the start are sent (before the timed ones).
        self.on_caught_up = on_caught_up
        self.stats = DeliveryStats()
        self._lock = threading.Lock()
        self._jitter = random.Random(f"qos-sim-jitter:{self.config.seed}")  # noqa: S311
        self._started = 0.0
        self._last_report = -1e9
        self._rate_mark = (0.0, 0)
        self._rate = 0.0
        self._sim_ms = 0
        self._phase = "catch-up"

    # -- sending ------------------------------------------------------------------------------

    def run(self) -> DeliveryStats:
        self._started = self.clock.time()
        before = int(self._started * 1000)
        catch_up, timed = plan_batches(self.simulation, catch_up_before=before)
        stream_catch_up, stream_timed = plan_stream_batches(self.simulation, catch_up_before=before)
        pool = (
            ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="qos-simulate")
            if self.config.concurrency > 1
            else None
        )
        try:
            self._catch_up(_merged(catch_up, stream_catch_up, catch_up=True), pool)
            if catch_up or stream_catch_up:
                self._report(force=True)  # the catch-up's last line
            self._phase = "live"
            if self.on_caught_up is not None:
                self.on_caught_up()
            self._in_time(_merged(timed, stream_timed, catch_up=False), pool)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        self._report(force=True)
        return self.stats

    def _catch_up(self, batches: list[Request], pool: ThreadPoolExecutor | None) -> None:
        i = 0
        while i < len(batches):
            j = i
            while j < len(batches) and batches[j].wave == batches[i].wave:
                j += 1
            wave = batches[i:j]
            self._sim_ms = self._to_sim(wave[0].send_at)
            if self.stop.is_set():
                self._count_unsent(batches[i:])
                return
            if pool is None:
                for batch in wave:
                    self.deliver(batch)
            else:
                for future in [pool.submit(self.deliver, b) for b in wave]:
                    future.result()
            self._report()
            i = j

    def _in_time(self, batches: list[Request], pool: ThreadPoolExecutor | None) -> None:
        futures: list[Future[None]] = []
        for index, batch in enumerate(batches):
            while not self.stop.is_set():
                now_ms = self.clock.time() * 1000
                self._sim_ms = min(self._to_sim(int(now_ms)), self.config.duration_ms)
                self._report()
                wait_s = (batch.send_at - now_ms) / 1000
                if wait_s <= 0:
                    break
                self.clock.sleep(min(wait_s, self.progress_every_s))
            if self.stop.is_set():
                self._count_unsent(batches[index:])
                break
            if pool is None:
                self.deliver(batch)
            else:
                futures.append(pool.submit(self.deliver, batch))
                for done in [f for f in futures if f.done()]:
                    done.result()  # a bug in deliver surfaces here, not silently
                futures = [f for f in futures if not f.done()]
        while futures and not all(f.done() for f in futures):
            self._report()
            self.clock.sleep(0.05)
        for f in futures:
            f.result()
        if not self.stop.is_set():
            self._sim_ms = self.config.duration_ms

    def deliver(self, batch: Request) -> None:
        """Send one batch, retrying what may succeed later; counts the outcome."""
        events = batch.events
        viewer = batch.viewer if isinstance(batch, Batch) else None
        headers = viewer.headers() if viewer is not None else {}
        sender = self.sender if viewer is not None else self.stream_sender
        assert sender is not None, "checked at construction"
        attempt = 0
        first = True
        while events:
            if self.stop.is_set():
                self._add(unsent=len(events))
                return
            retry_after = 0.0
            try:
                self._add(
                    requests=1, retries=0 if first else 1, events_sent=len(events) if first else 0
                )
                first = False
                now_ms = int(self.clock.time() * 1000)
                reply = sender.send(batch.body(events, now_ms=now_ms), headers)
            except OSError:
                pass
            else:
                body = _json(reply.body)
                if reply.status == 207:
                    rejected = {r.get("index") for r in body.get("rejected", [])}
                    again = {f.get("index") for f in body.get("failed", [])}
                    self._add(
                        accepted=len(events) - len(rejected) - len(again),
                        rejected=len(rejected),
                        reasons=[r.get("reason", "") for r in body.get("rejected", [])],
                    )
                    events = [e for i, e in enumerate(events) if i in again]
                    if not events:
                        return
                elif 200 <= reply.status < 300:
                    self._add(accepted=len(events))
                    return
                elif _retryable(reply.status):
                    retry_after = _retry_after(reply.headers.get("retry-after"))
                else:
                    reasons = [r.get("reason", "") for r in body.get("rejected", [])]
                    self._add(
                        rejected=len(events),
                        reasons=reasons or [f"HTTP {reply.status}: {body.get('error', '')}"],
                    )
                    return
            attempt += 1
            if attempt > self.config.max_retries:
                self._add(failed=len(events))
                return
            self._wait(self._backoff(attempt, retry_after))

    def _backoff(self, attempt: int, retry_after_s: float) -> float:
        c = self.config
        cap = min(c.retry_max_ms, c.retry_base_ms * (1 << (attempt - 1))) / 1000
        with self._lock:
            delay = cap / 2 + self._jitter.random() * cap / 2
        return max(delay, min(retry_after_s, c.retry_max_ms / 1000))

    def _wait(self, seconds: float) -> None:
        end = self.clock.time() + seconds
        while not self.stop.is_set():
            left = end - self.clock.time()
            if left <= 0:
                return
            self.clock.sleep(min(left, 0.25))

    # -- accounting ---------------------------------------------------------------------------

    def _add(self, *, reasons: list[str] | None = None, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)
            for reason in reasons or []:
                if reason and reason not in self.stats.reasons and len(self.stats.reasons) < 5:
                    self.stats.reasons.append(reason)

    def _count_unsent(self, batches: list[Request]) -> None:
        self._add(unsent=sum(len(b.events) for b in batches))

    def _to_sim(self, epoch_ms: int) -> int:
        return max(0, int((epoch_ms - self.config.start_ms) * self.config.speed))

    def _report(self, *, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = self.clock.time()
        if not force and now - self._last_report < self.progress_every_s:
            return
        self._last_report = now
        with self._lock:
            s = self.stats
            mark_t, mark_n = self._rate_mark
            if now - mark_t >= 1.0:
                self._rate = (s.accepted - mark_n) / (now - mark_t) if mark_t else 0.0
                self._rate_mark = (now, s.accepted)
            progress = Progress(
                elapsed_s=now - self._started,
                sim_ms=self._sim_ms,
                viewers_active=self.simulation.active_viewers(self._sim_ms),
                events_total=self.simulation.event_count,
                events_sent=s.events_sent,
                accepted=s.accepted,
                rejected=s.rejected,
                failed=s.failed,
                rate=self._rate,
                phase=self._phase,
            )
        self.on_progress(progress)


def _json(body: bytes) -> dict[str, Any]:
    try:
        value: object = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return {}
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value else 0.0
    except ValueError:
        return 0.0
    return seconds if seconds > 0 else 0.0
