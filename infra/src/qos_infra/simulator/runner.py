"""`simulate`: generate a run, write its ground truth, send its events to ingest."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from qos_infra.simulator.audience import Simulation, generate
from qos_infra.simulator.config import ConfigError, SimulationConfig
from qos_infra.simulator.delivery import (
    Clock,
    Delivery,
    DeliveryStats,
    HttpSender,
    Progress,
    Sender,
    SystemClock,
    eventbridge_endpoint,
)
from qos_infra.simulator.truth import truth_document, update_delivery, write_truth
from qos_shared.activity import every_s_from_env


@dataclass(frozen=True, slots=True)
class SimulationResult:
    config: SimulationConfig
    simulation: Simulation
    truth: dict[str, Any]  # the truth document (as written, before the delivery section)
    delivery: DeliveryStats | None  # None: nothing was sent (no endpoint nor sender)
    truth_path: Path | None
    events_path: Path | None

    @property
    def complete(self) -> bool:
        """Every generated event was accepted by ingest."""
        d = self.delivery
        return d is not None and d.accepted == self.simulation.event_count


def simulate(
    config: SimulationConfig,
    endpoint: str | None = None,
    *,
    clock: Clock | None = None,
    sender: Sender | None = None,
    truth_path: Path | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    stream_sender: Sender | None = None,
) -> SimulationResult:
    """Generate the run, write the truth (when `truth_path` is given) and deliver the events to
    `sender` (default: HTTP to `endpoint`; neither: generate only). Raises ConfigError for a bad
    config. Events already due when delivery starts are sent at once (backfill).

    The whole run is generated before anything is sent, but its truth (every KPI of every
    window, which takes far longer than generating: about 25 s for `qos up --demo`'s 12 hours
    of 150 viewers) is computed and written once the events already due (a backfill, a
    prefill) are sent, while the live ones go on being sent: so the first events reach ingest
    within seconds of the start, and the catch-up does not share the interpreter with that
    computation. The truth file appears once it is complete (written atomically, `delivery`
    null until the run ends); a failure to write it stops the sending and is raised.

    A run with IVS stream events (`config.ivs_events`) sends them to `stream_sender`, by
    default ingest's `/eventbridge` beside an HTTP sender's endpoint; another sender needs one
    given (else ConfigError)."""
    clock = clock or SystemClock()
    own_sender = sender is None and endpoint is not None
    if sender is None and endpoint is not None:
        sender = HttpSender(endpoint)
    config.validate(now_ms=int(clock.time() * 1000) if sender is not None else None)
    own_stream_sender = stream_sender is None and isinstance(sender, HttpSender)
    if config.ivs_events and isinstance(sender, HttpSender) and stream_sender is None:
        stream_sender = HttpSender(eventbridge_endpoint(sender.endpoint))
    if config.ivs_events and sender is not None and stream_sender is None:
        raise ConfigError("a run with IVS stream events needs a stream_sender for them")
    simulation = generate(config)
    if sender is None:
        document = truth_document(simulation)
        events_path = write_truth(truth_path, simulation, document) if truth_path else None
        return SimulationResult(config, simulation, document, None, truth_path, events_path)
    stop = stop if stop is not None else threading.Event()
    truth = _TruthWriter(simulation, truth_path, on_error=stop.set)
    delivery = Delivery(
        simulation,
        sender,
        clock,
        stop=stop,
        on_progress=on_progress,
        on_caught_up=truth.start,
        stream_sender=stream_sender,
    )
    try:
        stats = delivery.run()
    finally:
        if truth.ident is None:  # not started: stopped (or failed) before the catch-up ended
            truth.start()
        truth.join()
        if own_sender and isinstance(sender, HttpSender):
            sender.close()
        if own_stream_sender and isinstance(stream_sender, HttpSender):
            stream_sender.close()
    document, events_path = truth.result()
    if truth_path is not None:
        update_delivery(truth_path, stats.as_dict())
    return SimulationResult(config, simulation, document, stats, truth_path, events_path)


class _TruthWriter(threading.Thread):
    """Computes a run's truth document and writes it (with the events file) beside sending."""

    def __init__(
        self, simulation: Simulation, path: Path | None, *, on_error: Callable[[], None]
    ) -> None:
        super().__init__(name="qos-simulate-truth", daemon=True)
        self.simulation = simulation
        self.path = path
        self.on_error = on_error
        self._document: dict[str, Any] | None = None
        self._events_path: Path | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._document = truth_document(self.simulation)
            if self.path is not None:
                self._events_path = write_truth(self.path, self.simulation, self._document)
        except BaseException as exc:  # re-raised by result(), in the caller's thread
            self._error = exc
            self.on_error()

    def result(self) -> tuple[dict[str, Any], Path | None]:
        """(the truth document, the events file's path); raises what the computation raised."""
        if self._error is not None:
            raise self._error
        assert self._document is not None, "result() before the thread ended"
        return self._document, self._events_path


class ProgressLine:
    """The progress line on stderr: rewritten in place (`\\r`) on a terminal, else one line
    every `every_s` seconds (`QOS_LOG_EVERY_S`, 30 s by default: under `qos up` the simulator
    is one component among others, each with a line per interval), and one when the catch-up
    of the events already due (a prefill, a backfill) ends."""

    def __init__(self, stream: IO[str] | None = None, *, every_s: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every_s = every_s_from_env() if every_s is None else every_s
        self._phase = ""
        self._last = -1e9
        self._width = 0
        self._pending: str | None = None  # the last line not yet written (not a terminal)

    def __call__(self, p: Progress) -> None:
        done = 100 * p.events_sent / p.events_total if p.events_total else 100.0
        line = (
            f"{_clock(p.elapsed_s)}  {p.phase:<8}  sim {_clock(p.sim_ms / 1000)}"
            f"  viewers {p.viewers_active:,}  events {p.events_sent:,}/{p.events_total:,}"
            f" ({done:.0f}%)  accepted {p.accepted:,}  rejected {p.rejected:,}"
            f"  failed {p.failed:,}  {p.rate:,.0f} ev/s"
        )
        ended_phase = bool(self._phase) and p.phase != self._phase
        self._phase = p.phase
        if self.tty:
            if ended_phase:  # keep the catch-up's last line, start the live one below it
                self.stream.write("\n")
                self._width = 0
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
            self.stream.flush()
            return
        if ended_phase and self._pending is not None:  # the catch-up's last line, kept
            self.stream.write(self._pending + "\n")
            self._pending = None
            self._last = p.elapsed_s
        if p.elapsed_s - self._last >= self.every_s:
            self._last = p.elapsed_s
            self._pending = None
            self.stream.write(line + "\n")
        else:
            self._pending = line
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
        elif self._pending is not None:
            self.stream.write(self._pending + "\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    return (
        f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
        if hours
        else f"{rest // 60:02d}:{rest % 60:02d}"
    )
