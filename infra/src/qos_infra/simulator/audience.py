"""Generation: seats of viewers, their sessions, and every event the player SDK would send.

Deterministic: each seat draws from its own RNG seeded by (seed, seat), so a run is the same for
the same seed and parameters, and an incident changes only the seats whose viewers it touches.
Ids (user, session, event) come from a second RNG per seat seeded by (seed, start time, seat):
UUID layout, never `uuid4`, so they repeat with the run but not across runs started at different
times (ingest's event log drops an event_id it already holds). Whether a viewer's device clock
is off, and by how much, comes from a third RNG per seat, so a share of skewed clocks changes
nothing else of the run.

Events hold true times. A viewer with a skewed clock (`clock_skew_ms`) sends them as its clock
stamps them (`Viewer.sent`): event_time plus the skew, and its requests carry `sent_at` from the
same clock (delivery.py); the truth holds what ingest stores after correcting them.

The events follow the SDK (player/src/monitor.js, session.js) field for field: ATTEMPT at play
intent; PLAY with startup_latency_ms at the first frame; PLAYBACK_SUMMARY every 60 s after PLAY
(when playing or stalled, or when the interval counted anything) and a final one (is_final);
QUALITY_CHANGED on rendition switches after the first; ERROR (fatal or not, phase startup or
playback; a fatal one ends the session); STOP with exit_before_start.
"""

from __future__ import annotations

import bisect
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeVar

from qos_infra.simulator.config import SimulationConfig
from qos_infra.simulator.incidents import Incident
from qos_infra.simulator.model import (
    PLAYBACK_FAILURES,
    RECOVERABLE_ERRORS,
    START_FAILURES,
    Channel,
    City,
    Country,
    Device,
    LogNormal,
    Model,
    Platform,
)
from qos_infra.simulator.streams import ChannelEvent, channel_events
from qos_shared.events import SCHEMA_VERSION

# The SDK's version (player/src/version.js); a test keeps the two equal.
SDK_VERSION = "0.1.0"
_DEVICE_HEADERS = {
    "desktop": "CloudFront-Is-Desktop-Viewer",
    "mobile": "CloudFront-Is-Mobile-Viewer",
    "tablet": "CloudFront-Is-Tablet-Viewer",
    "smarttv": "CloudFront-Is-SmartTV-Viewer",
}

Event = dict[str, Any]
T = TypeVar("T")
Outcome = Literal["played", "exit_before_start", "start_failure"]


@dataclass(slots=True, eq=False)
class Viewer:
    """One person on one device: the visit's requests carry this viewer's headers."""

    user_id: str
    seat: int
    platform: Platform
    device: Device
    country: Country
    city: City
    bandwidth_mbps: float
    joined_ms: int  # simulated ms since the start
    left_ms: int = 0
    events: list[Event] = field(default_factory=list)
    clock_skew_ms: int = 0  # the device clock minus the true time (+: ahead)

    def sent(self, event: Event) -> Event:
        """The event as this viewer's device sends it: event_time read from its clock."""
        if not self.clock_skew_ms:
            return event
        return {**event, "event_time": event["event_time"] + self.clock_skew_ms}

    def headers(self) -> dict[str, str]:
        """What CloudFront and the browser put on the viewer's requests."""
        headers = {
            "User-Agent": self.device.user_agent,
            "CloudFront-Viewer-Country": self.country.code,
            "CloudFront-Viewer-Country-Name": self.country.name,
            "CloudFront-Viewer-Country-Region-Name": self.city.region,
            "CloudFront-Viewer-City": self.city.name,
            "CloudFront-Viewer-Latitude": f"{self.city.latitude:.2f}",
            "CloudFront-Viewer-Longitude": f"{self.city.longitude:.2f}",
        }
        for device_class, header in _DEVICE_HEADERS.items():
            headers[header] = "true" if device_class == self.device.device_class else "false"
        return headers

    def enrichment(self) -> dict[str, Any]:
        """The fields ingest derives from `headers()` (qos_ingest.domain.enrichment), but not the
        User-Agent ones, which no KPI reads."""
        return {
            "viewer_country": self.country.code,
            "viewer_country_name": self.country.name,
            "viewer_region": self.city.region,
            "viewer_city": self.city.name,
            "viewer_latitude": round(self.city.latitude, 2),
            "viewer_longitude": round(self.city.longitude, 2),
            "device_class": self.device.device_class,
        }

    def as_dict(self, config: SimulationConfig) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "seat": self.seat,
            "client_platform": self.platform.name,
            "country": self.country.code,
            "city": self.city.name,
            "device_class": self.device.device_class,
            "user_agent": self.device.user_agent,
            "bandwidth_mbps": round(self.bandwidth_mbps, 3),
            "joined_at": config.event_time(self.joined_ms),
            "left_at": config.event_time(self.left_ms),
            "events": len(self.events),
            "clock_skew_ms": self.clock_skew_ms,
        }


@dataclass(slots=True)
class SessionRecord:
    """The truth about one session (times are event_time, epoch ms)."""

    session_id: str
    user_id: str
    client_platform: str
    country: str
    channel_watched: str
    is_live: bool
    attempt_at: int
    outcome: Outcome
    startup_latency_ms: int | None
    ended_at: int
    ended_by: str  # left, content_ended, fatal_error, start_failure, exit_before_start, run_ended
    incidents: list[int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Simulation:
    """A generated run: its viewers (each with their events, in time order) and sessions."""

    config: SimulationConfig
    viewers: list[Viewer]
    sessions: list[SessionRecord]
    #: The live channels' IVS stream events (`streams`), when the run has them
    #: (`SimulationConfig.ivs_events`).
    channel_events: list[ChannelEvent] = field(default_factory=list)
    _joined: list[int] = field(init=False, repr=False)
    _left: list[int] = field(init=False, repr=False)

    def events(self) -> list[Event]:
        """Every event, by event_time (ties: viewer order, then emission order)."""
        merged = [e for v in self.viewers for e in v.events]
        merged.sort(key=lambda e: e["event_time"])
        return merged

    def sent_events(self) -> list[Event]:
        """Every event as sent (a skewed clock's event_time), in the order of `events()`."""
        merged = [(e["event_time"], v.sent(e)) for v in self.viewers for e in v.events]
        merged.sort(key=lambda pair: pair[0])
        return [e for _, e in merged]

    def event_pairs(self) -> Iterator[tuple[Viewer, Event]]:
        for viewer in self.viewers:
            for event in viewer.events:
                yield viewer, event

    @property
    def event_count(self) -> int:
        """The viewers' events and the channels' stream events."""
        return sum(len(v.events) for v in self.viewers) + len(self.channel_events)

    def active_viewers(self, sim_ms: int) -> int:
        """Viewers present at a simulated instant."""
        joined = bisect.bisect_right(self._joined, sim_ms)
        left = bisect.bisect_right(self._left, sim_ms)
        return joined - left

    def __post_init__(self) -> None:
        self._joined = sorted(v.joined_ms for v in self.viewers)
        self._left = sorted(v.left_ms for v in self.viewers)


def generate(config: SimulationConfig) -> Simulation:
    """Every viewer, session and event of a run (validated config assumed)."""
    viewers: list[Viewer] = []
    sessions: list[SessionRecord] = []
    for seat in range(config.viewers):
        _Seat(config, seat, viewers, sessions).run()
    viewers.sort(key=lambda v: (v.joined_ms, v.seat))
    sessions.sort(key=lambda s: (s.attempt_at, s.session_id))
    streams: list[ChannelEvent] = []
    if config.ivs_events:
        live = [e for v in viewers for e in v.events if e["is_live"]]
        streams = channel_events(config.seed, live)
    return Simulation(config, viewers, sessions, streams)


class _Seat:
    """One seat: viewer after viewer until the run ends."""

    def __init__(
        self,
        config: SimulationConfig,
        seat: int,
        viewers: list[Viewer],
        sessions: list[SessionRecord],
    ) -> None:
        self.config = config
        self.model = config.model
        self.seat = seat
        self.rng = random.Random(f"qos-simulator:{config.seed}:{seat}")  # noqa: S311 (a model)
        self.ids = random.Random(f"qos-simulator-ids:{config.seed}:{config.start_ms}:{seat}")  # noqa: S311
        self.clocks = random.Random(f"qos-simulator-clocks:{config.seed}:{seat}")  # noqa: S311
        self.viewers = viewers
        self.sessions = sessions
        self.run_ms = config.duration_ms

    # -- draws ------------------------------------------------------------------------------------

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.ids.getrandbits(128), version=4))

    def lognormal(self, dist: LogNormal) -> float:
        return self.rng.lognormvariate(math.log(dist.median), dist.sigma)

    def exp_ms(self, mean_s: float) -> int:
        return round(self.rng.expovariate(1.0 / (mean_s * 1000)))

    def pick(self, items: tuple[T, ...], weights: list[float]) -> T:
        return self.rng.choices(items, weights=weights)[0]

    # -- the seat ---------------------------------------------------------------------------------

    def run(self) -> None:
        ramp_ms = min(self.model.ramp_s * 1000, self.run_ms)
        t = round(self.rng.uniform(0, ramp_ms))
        while t < self.run_ms:
            viewer = self.new_viewer(t)
            left = self.visit(viewer, t)
            viewer.left_ms = left
            if viewer.events:
                self.viewers.append(viewer)
            t = left + max(1, self.exp_ms(self.model.seat_gap_s))

    def new_viewer(self, t: int) -> Viewer:
        m = self.model
        platform = self.pick(m.platforms, [p.weight for p in m.platforms])
        device = self.pick(platform.devices, [d.weight for d in platform.devices])
        country = self.pick(m.countries, [c.weight for c in m.countries])
        city = self.pick(country.cities, [1.0] * len(country.cities))
        factor = m.mobile_bandwidth_factor if device.device_class == "mobile" else 1.0
        bandwidth = self.lognormal(LogNormal(country.bandwidth_mbps * factor, m.bandwidth_sigma))
        viewer = Viewer(self.uuid(), self.seat, platform, device, country, city, bandwidth, t)
        c = self.config
        if c.clock_skew_share > 0 and self.clocks.random() < c.clock_skew_share:
            viewer.clock_skew_ms = self.clocks.choice(c.clock_skews_ms)
        return viewer

    def visit(self, viewer: Viewer, t: int) -> int:
        """Sessions one after another; returns when the viewer leaves (simulated ms)."""
        m = self.model
        channel = self.pick(m.channels, [c.weight for c in m.channels])
        while True:
            end, ended_by = _Session(self, viewer, channel, t).run()
            if ended_by == "run_ended" or end >= self.run_ms:
                return min(end, self.run_ms)
            u = self.rng.random()
            if ended_by in ("fatal_error", "start_failure"):
                if u >= m.retry_after_failure_p:
                    return end
                t = end + max(500, self.exp_ms(m.retry_gap_s))
            else:
                if u >= m.zap_p:
                    return end
                others = tuple(c for c in m.channels if c is not channel)
                channel = self.pick(others, [c.weight for c in others])
                t = end + max(500, self.exp_ms(m.zap_gap_s))
            if t >= self.run_ms:
                return end


class _Session:
    """One playback session: from play intent to STOP."""

    def __init__(self, seat: _Seat, viewer: Viewer, channel: Channel, t0: int) -> None:
        self.seat = seat
        self.model: Model = seat.model
        self.config = seat.config
        self.rng = seat.rng
        self.viewer = viewer
        self.channel = channel
        self.t0 = t0
        self.run_ms = seat.run_ms
        self.session_id = seat.uuid()
        self.incidents: list[tuple[int, Incident]] = [
            (i, inc)
            for i, inc in enumerate(self.config.incidents)
            if inc.matches(viewer.country.code, viewer.platform.name, channel.name)
            and inc.start_ms < inc.end_ms(self.run_ms)
        ]
        self.touched: set[int] = set()
        self.position_ms = 0.0
        self.content_ms: float | None = None  # on-demand content length

    # -- events -----------------------------------------------------------------------------------

    def emit(self, sim_ms: int, metric_type: str, fields: dict[str, Any]) -> None:
        viewer = self.viewer
        event: Event = {
            "metric_type": metric_type,
            "session_id": self.session_id,
            "user_id": viewer.user_id,
            "client_platform": viewer.platform.name,
            "is_live": self.channel.is_live,
            "channel_watched": self.channel.name,
            "event_time": self.config.event_time(sim_ms),
            "event_id": self.seat.uuid(),
            "schema_version": SCHEMA_VERSION,
            "sdk_version": SDK_VERSION,
            "player_version": viewer.device.player_version,
        }
        for key, value in fields.items():
            if value is not None:
                event[key] = value
        viewer.events.append(event)

    def error(self, sim_ms: int, kind: tuple[str, str, str], *, fatal: bool, phase: str) -> None:
        code, error_type, message = kind
        self.emit(
            sim_ms,
            "ERROR",
            {
                "error_code": code,
                "error_type": error_type,
                "fatal": fatal,
                "phase": phase,
                "error_message": message,
            },
        )

    def stop(self, sim_ms: int, *, exit_before_start: bool) -> None:
        self.emit(
            sim_ms,
            "STOP",
            {
                "end_playback_position_sec": round(self.position_ms / 1000, 3),
                "exit_before_start": exit_before_start,
            },
        )

    def active(self, sim_ms: int) -> list[tuple[int, Incident]]:
        return [
            (i, inc)
            for i, inc in self.incidents
            if inc.start_ms <= sim_ms < inc.end_ms(self.run_ms)
        ]

    # -- startup ----------------------------------------------------------------------------------

    def run(self) -> tuple[int, str]:
        m, rng, viewer, t0 = self.model, self.rng, self.viewer, self.t0
        hidden = rng.random() < m.hidden_p
        autoplay = rng.random() < m.autoplay_p
        startup = self.seat.lognormal(
            LogNormal(
                viewer.platform.startup.median * viewer.country.startup_factor,
                viewer.platform.startup.sigma,
            )
        )
        if hidden:
            startup *= m.hidden_startup_factor
        # Drawn whatever the outcome, so an incident does not shift the seat's other draws.
        u_fail, fail_after = rng.random(), self.seat.lognormal(m.start_failure_after_ms)
        u_quick, u_quick_at = rng.random(), rng.random()
        patience = self.seat.lognormal(m.patience_ms)
        u_error, u_error_at = rng.random(), rng.random()
        kind = rng.randrange(len(START_FAILURES))

        at_intent = self.active(t0)
        fail_p = m.start_failure_p
        for i, inc in at_intent:
            self.touched.add(i)
            startup = startup * inc.startup_factor + inc.startup_add_ms
            fail_p += inc.vsf_pp / 100
        startup_ms = round(min(max(startup, m.startup_min_ms), m.startup_max_ms))
        if self.channel.content_ms is not None:
            self.content_ms = self.seat.lognormal(self.channel.content_ms)
            if rng.random() < m.resume_p:
                self.position_ms = float(round(rng.uniform(0.05, 0.6) * self.content_ms))

        self.emit(
            t0,
            "ATTEMPT",
            {"visibility_state": "hidden" if hidden else "visible", "autoplay": autoplay},
        )
        if u_fail < fail_p:
            outcome: Outcome = "start_failure"
            end = t0 + max(100, round(fail_after))
        elif u_quick < m.quick_exit_p:
            outcome = "exit_before_start"
            end = t0 + round(200 + u_quick_at * max(0, startup_ms - 200))
        elif startup_ms > patience:
            outcome = "exit_before_start"
            end = t0 + round(patience)
        else:
            outcome = "played"
            end = t0 + startup_ms
        ended_by: str = outcome
        if end >= self.run_ms:  # the page closes with the run
            outcome, ended_by, end = "exit_before_start", "run_ended", self.run_ms
        pending_errors = 0
        error_at = t0 + round(u_error_at * (end - t0))
        if u_error < m.startup_error_p and error_at < end:
            self.error(error_at, RECOVERABLE_ERRORS[0], fatal=False, phase="startup")
            pending_errors = 1

        if outcome == "start_failure":
            self.error(end, START_FAILURES[kind], fatal=True, phase="startup")
            self.stop(end, exit_before_start=False)
        elif outcome == "exit_before_start":
            self.stop(end, exit_before_start=True)
        else:
            self.emit(
                end,
                "PLAY",
                {
                    "startup_latency_ms": startup_ms,
                    "start_playback_position_sec": round(self.position_ms / 1000, 3),
                    "visibility_state": "hidden" if hidden else "visible",
                },
            )
            end, ended_by = _Playback(self, end, pending_errors).run()
        self.seat.sessions.append(
            SessionRecord(
                session_id=self.session_id,
                user_id=viewer.user_id,
                client_platform=viewer.platform.name,
                country=viewer.country.code,
                channel_watched=self.channel.name,
                is_live=self.channel.is_live,
                attempt_at=self.config.event_time(t0),
                outcome=outcome,
                startup_latency_ms=startup_ms if outcome == "played" else None,
                ended_at=self.config.event_time(end),
                ended_by=ended_by,
                incidents=sorted(self.touched),
            )
        )
        return end, ended_by


_INF = math.inf


class _Playback:
    """A started session: the SDK's phases, counters and summary timer, driven by the model's
    competing processes (stalls, seeks, pauses, errors, bandwidth dips, rendition steps)."""

    def __init__(self, session: _Session, t_play: int, pending_errors: int) -> None:
        self.s = session
        self.m = session.model
        self.rng = session.rng
        self.live = session.channel.is_live
        viewer = session.viewer
        m = self.m
        # phases and the current summary interval (session.js)
        self.t = t_play
        self.phase = "playing"
        self.playing_ms = 0
        self.buffering_ms = 0
        self.buffering_count = 0
        self.error_count = pending_errors
        self.next_summary = t_play + m.summary_interval_ms
        # renditions
        cap = m.max_rung.get(viewer.device.device_class, len(m.ladder) - 1)
        usable = [
            i
            for i, r in enumerate(m.ladder)
            if r.bitrate_bps <= m.abr_headroom * viewer.bandwidth_mbps * 1e6
        ]
        self.sustainable = min(cap, max(usable, default=0))
        self.target = self.sustainable
        self.rung = min(self.sustainable, m.start_rung)
        self.next_up = self.schedule_up(t_play)
        self.dip_end = _INF
        # the session's own draws
        self.watch_end = t_play + round(
            min(max(session.seat.lognormal(m.watch_ms), m.watch_min_ms), m.watch_max_ms)
        )
        self.content_ms = session.content_ms
        if self.content_ms is not None:
            self.content_ms = max(self.content_ms, session.position_ms + 60_000)
        self.latency_ms = session.seat.lognormal(m.live_latency_ms) if self.live else 0.0
        stall_rate = viewer.platform.stall_rate_per_min * viewer.country.stall_factor / 60_000
        self.rates = {
            "stall": stall_rate,
            "seek": m.seek_rate_per_min[0 if self.live else 1] / 60_000,
            "pause": m.pause_rate_per_min[0 if self.live else 1] / 60_000,
            "error": m.recoverable_error_rate_per_min / 60_000,
            "fatal": m.fatal_error_rate_per_min / 60_000,
            "dip": m.dip_rate_per_min / 60_000,
        }
        # stall time per playing ms without incidents (for the rebuffer incidents' extra stalls)
        self.base_stall_load = stall_rate * m.stall_ms.mean
        self.fatal_at = self.incident_failure(t_play)

    # -- the SDK's session state ------------------------------------------------------------------

    def credit(self, now: int) -> None:
        delta = max(0, now - self.t)
        if self.phase == "playing":
            self.playing_ms += delta
            if self.content_ms is not None or self.live:
                self.s.position_ms += delta
        elif self.phase == "stalled":
            self.buffering_ms += delta
        self.t = max(self.t, now)

    def advance(self, until: int) -> None:
        """Let time pass in the current phase, sending the summaries whose timer fires."""
        while self.next_summary < until:
            self.credit(self.next_summary)
            running = self.phase in ("playing", "stalled")
            if running or self.playing_ms or self.buffering_ms or self.error_count:
                self.summary(self.next_summary, final=False)
            self.next_summary += self.m.summary_interval_ms
        self.credit(until)

    def enter(self, phase: str, now: int) -> None:
        self.advance(now)
        self.phase = phase

    def summary(self, now: int, *, final: bool) -> None:
        rendition = self.m.ladder[self.rung]
        latency = None
        if self.live:
            jitter = abs(self.rng.gauss(0, self.m.live_latency_jitter_ms))
            latency = round(self.latency_ms + jitter + self.buffering_ms / 2)
        self.s.emit(
            now,
            "PLAYBACK_SUMMARY",
            {
                "playing_time_ms": self.playing_ms,
                "buffering_time_ms": self.buffering_ms,
                "buffering_count": self.buffering_count,
                "error_count": self.error_count,
                "rendition_name": rendition.name,
                "rendition_height": rendition.height,
                "bitrate_bps": rendition.bitrate_bps,
                "live_latency_ms": latency,
                "is_final": final,
            },
        )
        self.playing_ms = self.buffering_ms = self.buffering_count = self.error_count = 0

    def switch(self, now: int, rung: int) -> None:
        if rung == self.rung:
            return
        before, after = self.m.ladder[self.rung], self.m.ladder[rung]
        self.s.emit(
            now,
            "QUALITY_CHANGED",
            {
                "from_rendition_name": before.name,
                "to_rendition_name": after.name,
                "from_bitrate": before.bitrate_bps,
                "to_bitrate": after.bitrate_bps,
                "step_direction": "UP" if after.bitrate_bps > before.bitrate_bps else "DOWN",
            },
        )
        self.rung = rung

    # -- the model --------------------------------------------------------------------------------

    def schedule_up(self, now: int) -> float:
        if self.rung >= self.target:
            return _INF
        low, high = self.m.abr_up_step_s
        return now + round(self.rng.uniform(low, high) * 1000)

    def incident_failure(self, t_play: int) -> float:
        """The moment an `errors=` incident makes this session fail, if it does."""
        first = _INF
        for i, inc in self.s.incidents:
            if not inc.errors_pct:
                continue
            lo = max(t_play, inc.start_ms)
            hi = min(inc.end_ms(self.s.run_ms), self.watch_end)
            u, at = self.rng.random(), self.rng.random()
            if hi > lo and u < inc.errors_pct / 100:
                self.s.touched.add(i)
                first = min(first, lo + round(at * (hi - lo)))
        return first

    def extra_stall_rate(self, now: int) -> float:
        """Extra stalls per playing ms from active rebuffer incidents: with base stall load a
        (stall ms per playing ms), the ratio a/(1+a) must rise by delta, so the load becomes
        R/(1-R) with R = a/(1+a) + delta; the extra load is carried by stalls of the incident's
        mean duration."""
        delta = 0.0
        for i, inc in self.s.active(now):
            if inc.rebuffer_pp:
                delta += inc.rebuffer_pp / 100
                self.s.touched.add(i)
        if not delta:
            return 0.0
        a = self.base_stall_load
        ratio = min(a / (1 + a) + delta, 0.95)
        return (ratio / (1 - ratio) - a) / self.m.incident_stall_ms.mean

    def next_boundary(self, now: int) -> float:
        times = [
            edge
            for _, inc in self.s.incidents
            for edge in (inc.start_ms, inc.end_ms(self.s.run_ms))
            if edge > now
        ]
        return min(times, default=_INF)

    def run(self) -> tuple[int, str]:
        rng = self.rng
        hard_end = min(self.watch_end, self.s.run_ms)
        while True:
            now = self.t
            content_end = (
                now + max(0, round(self.content_ms - self.s.position_ms))
                if self.content_ms is not None
                else _INF
            )
            stop_at = min(hard_end, content_end, self.fatal_at)
            rates = dict(self.rates)
            rates["incident_stall"] = self.extra_stall_rate(now)
            total = sum(rates.values())
            gap = rng.expovariate(total) if total > 0 else _INF
            fixed = max(now, min(stop_at, self.next_up, self.dip_end, self.next_boundary(now)))
            if now + max(1, round(gap)) < fixed:
                at = now + max(1, round(gap))
                self.advance(at)
                ended = self.happen(self.pick(rates, total), at, hard_end)
                if ended is not None:
                    return ended
                continue
            at = int(fixed)
            self.advance(at)
            if at >= stop_at:
                return self.end(at, stop_at, hard_end, content_end)
            if at >= self.dip_end:
                self.dip_end = _INF
                self.target = self.sustainable
                self.next_up = self.schedule_up(at) if self.next_up == _INF else self.next_up
            if at >= self.next_up:
                if self.rung < self.target:
                    self.switch(at, self.rung + 1)
                self.next_up = self.schedule_up(at)

    def pick(self, rates: dict[str, float], total: float) -> str:
        """Which process fired, in proportion to its rate."""
        left = self.rng.random() * total
        chosen = "stall"
        for kind, rate in rates.items():
            if rate <= 0:
                continue
            chosen = kind
            left -= rate
            if left < 0:
                break
        return chosen

    def end(self, at: int, stop_at: float, hard_end: int, content_end: float) -> tuple[int, str]:
        if at >= self.fatal_at:
            return self.fail(at)
        reason = "content_ended" if at >= content_end else "left"
        if at >= self.s.run_ms:
            reason = "run_ended"
        self.summary(at, final=True)
        self.s.stop(at, exit_before_start=False)
        return at, reason

    def fail(self, at: int) -> tuple[int, str]:
        self.error_count += 1
        self.s.error(
            at,
            PLAYBACK_FAILURES[self.rng.randrange(len(PLAYBACK_FAILURES))],
            fatal=True,
            phase="playback",
        )
        self.summary(at, final=True)
        self.s.stop(at, exit_before_start=False)
        return at, "fatal_error"

    def happen(self, kind: str, at: int, hard_end: int) -> tuple[int, str] | None:
        """One event of a competing process at `at`; a result when it ended the session."""
        m, rng = self.m, self.rng
        if kind in ("stall", "incident_stall"):
            dist = m.stall_ms if kind == "stall" else m.incident_stall_ms
            duration = round(min(max(self.s.seat.lognormal(dist), 100), m.stall_max_ms))
            self.enter("stalled", at)
            self.buffering_count += 1
            return self.hold(at + duration, hard_end, after_stall=True)
        if kind == "seek":
            duration = max(50, round(self.s.seat.lognormal(m.seek_ms)))
            self.enter("seeking", at)
            if self.content_ms is not None:
                self.s.position_ms = float(round(rng.uniform(0, 0.95) * self.content_ms))
            return self.hold(at + duration, hard_end)
        if kind == "pause":
            duration = max(500, round(self.s.seat.lognormal(m.pause_ms)))
            self.enter("paused", at)
            return self.hold(at + duration, hard_end)
        if kind == "error":
            self.error_count += 1
            self.s.error(
                at,
                RECOVERABLE_ERRORS[rng.randrange(len(RECOVERABLE_ERRORS))],
                fatal=False,
                phase="playback",
            )
            return None
        if kind == "fatal":
            return self.fail(at)
        # a bandwidth dip: one or two rungs down for a while
        self.target = max(0, self.sustainable - rng.choice((1, 2)))
        self.dip_end = at + round(self.s.seat.lognormal(m.dip_ms))
        if self.rung > self.target:
            self.switch(at, self.target)
        self.next_up = self.schedule_up(at)
        return None

    def hold(
        self, until: int, hard_end: int, *, after_stall: bool = False
    ) -> tuple[int, str] | None:
        """Stay in the current phase (stalled, seeking, paused) until `until`, then play again;
        the viewer may leave (or the run end) first."""
        if until >= hard_end or until >= self.fatal_at:
            at = int(min(hard_end, self.fatal_at))
            self.advance(at)
            if at >= self.fatal_at:
                return self.fail(at)
            self.summary(at, final=True)
            self.s.stop(at, exit_before_start=False)
            return at, "run_ended" if at >= self.s.run_ms else "left"
        self.enter("playing", until)
        if after_stall and self.rung > 0 and self.rng.random() < self.m.down_after_stall_p:
            self.switch(until, self.rung - 1)
            self.next_up = self.schedule_up(until)
        return None
