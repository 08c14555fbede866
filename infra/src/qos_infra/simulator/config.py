"""What one simulation run is: audience size, period, seed, incidents, and delivery settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from qos_infra.simulator.incidents import Incident
from qos_infra.simulator.model import DEFAULT_MODEL, Model
from qos_shared.limits import RequestLimits

MAX_EVENTS_PER_RUN = 5_000_000
# Ingest rejects events older than this (RequestLimits.max_event_age_ms), less a margin.
MAX_PAST_MS = RequestLimits().max_event_age_ms - 3_600_000
_LIMITS = RequestLimits()
# A skewed clock is one ingest corrects: at least twice the tolerance off (so that a request's
# latency cannot bring its offset under it), at most the bound of a correction.
MIN_CLOCK_SKEW_MS = 2 * _LIMITS.clock_tolerance_ms
MAX_CLOCK_SKEW_MS = _LIMITS.max_clock_correction_ms
# Rough events per viewer-minute (summaries, plus attempts, plays, stops, switches, errors).
EVENTS_PER_VIEWER_MINUTE = 1.4


class ConfigError(ValueError):
    """A parameter out of range; the message names it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationConfig:
    """One run. Times: `start_ms` is the epoch ms of simulated time 0; a simulated instant t maps
    to event_time start_ms + t / speed (`speed` > 1 compresses time, payload durations do not)."""

    start_ms: int
    viewers: int = 100
    minutes: float = 10.0
    seed: int = 0
    speed: float = 1.0
    incidents: tuple[Incident, ...] = ()
    model: Model = field(default=DEFAULT_MODEL)
    # the realtime engine's windows, for the per-window truth (`qos up --window-s`)
    window_s: int = 60
    top_n_channels: int = 10
    # views close this long after their last event (`qos up --view-timeout-s`)
    view_timeout_s: int = 180
    # delivery, as the SDK's transport (player/src/transport.js)
    batch_size: int = 20
    batch_interval_ms: int = 5000
    max_retries: int = 5
    retry_base_ms: int = 1000
    retry_max_ms: int = 30_000
    concurrency: int = 8
    # events already in the past when sending starts go in event-time slices of this length
    catch_up_slice_ms: int = 1000
    # the share of viewers whose device clock is off, each by one of `clock_skews_ms` (+ ahead,
    # - behind): their events' event_time and their requests' sent_at read that clock
    clock_skew_share: float = 0.0
    clock_skews_ms: tuple[int, ...] = (600_000, -600_000)
    # the live channels' Amazon IVS stream events (`streams`), sent to ingest's EventBridge
    # endpoint (`/eventbridge`); the CLI turns them on unless --no-ivs-events
    ivs_events: bool = False

    @property
    def duration_ms(self) -> int:
        return round(self.minutes * 60_000)

    @property
    def end_ms(self) -> int:
        """Epoch ms of the run's end (event_time of its last possible event)."""
        return self.start_ms + int(self.duration_ms / self.speed)

    def event_time(self, sim_ms: int) -> int:
        return self.start_ms + int(sim_ms / self.speed)

    def validate(self, *, now_ms: int | None = None) -> None:
        """Raise ConfigError naming the first parameter out of range."""
        if self.viewers < 1:
            raise ConfigError(f"--viewers must be at least 1 (got {self.viewers})")
        if not self.minutes > 0:
            raise ConfigError(f"--minutes must be more than 0 (got {self.minutes:g})")
        if not 0.01 <= self.speed <= 1000:
            raise ConfigError(f"--speed must be between 0.01 and 1000 (got {self.speed:g})")
        estimate = self.viewers * max(self.minutes, 1.0) * EVENTS_PER_VIEWER_MINUTE
        if estimate > MAX_EVENTS_PER_RUN:
            raise ConfigError(
                f"about {estimate:,.0f} events is too many for one run (at most"
                f" {MAX_EVENTS_PER_RUN:,}); lower --viewers or --minutes"
            )
        if self.start_ms < 0:
            raise ConfigError("the start time must be after 1970")
        if now_ms is not None and now_ms - self.start_ms > MAX_PAST_MS:
            raise ConfigError(
                f"the run starts {(now_ms - self.start_ms) / 86_400_000:.1f} days ago; ingest"
                f" refuses events older than {RequestLimits().max_event_age_ms // 86_400_000} days"
            )
        if not 5 <= self.window_s <= 3600:
            raise ConfigError(f"--window-s must be between 5 and 3600 (got {self.window_s})")
        if not 10 <= self.view_timeout_s <= 86_400:
            raise ConfigError(
                f"--view-timeout-s must be between 10 and 86400 (got {self.view_timeout_s})"
            )
        if self.top_n_channels < 1:
            raise ConfigError("--top-n must be at least 1")
        if not 1 <= self.batch_size <= 500:
            raise ConfigError(f"--batch-size must be between 1 and 500 (got {self.batch_size})")
        if self.batch_interval_ms <= 0:
            raise ConfigError("--batch-interval must be more than 0")
        if self.max_retries < 0:
            raise ConfigError("--max-retries must be at least 0")
        if not 1 <= self.concurrency <= 256:
            raise ConfigError(f"--concurrency must be between 1 and 256 (got {self.concurrency})")
        if self.catch_up_slice_ms <= 0 or self.retry_base_ms <= 0 or self.retry_max_ms <= 0:
            raise ConfigError("delivery intervals must be more than 0")
        if not 0.0 <= self.clock_skew_share <= 1.0:
            raise ConfigError(
                f"--skewed-clocks must be a share between 0 and 1 (got {self.clock_skew_share:g})"
            )
        if self.clock_skew_share > 0:
            if not self.clock_skews_ms:
                raise ConfigError("--clock-skews needs at least one skew")
            for skew in self.clock_skews_ms:
                if not MIN_CLOCK_SKEW_MS <= abs(skew) <= MAX_CLOCK_SKEW_MS:
                    raise ConfigError(
                        f"a clock skew of {skew} ms is not one ingest corrects: it must be"
                        f" {MIN_CLOCK_SKEW_MS:,} to {MAX_CLOCK_SKEW_MS:,} ms, ahead (+) or"
                        " behind (-)"
                    )
        for incident in self.incidents:
            if incident.start_ms >= self.duration_ms:
                raise ConfigError(
                    f'incident "{incident.spec}" starts at {incident.start_ms / 60_000:g} min,'
                    f" after the run ends ({self.minutes:g} min)"
                )
