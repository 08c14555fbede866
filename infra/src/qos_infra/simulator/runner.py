"""`simulate`: generate a run, write its ground truth, send its events to ingest."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from qos_infra.simulator.audience import Simulation, generate
from qos_infra.simulator.config import SimulationConfig
from qos_infra.simulator.delivery import (
    Clock,
    Delivery,
    DeliveryStats,
    HttpSender,
    Progress,
    Sender,
    SystemClock,
)
from qos_infra.simulator.truth import truth_document, update_delivery, write_truth


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
) -> SimulationResult:
    """Generate the run, write the truth (when `truth_path` is given) and deliver the events to
    `sender` (default: HTTP to `endpoint`; neither: generate only). Raises ConfigError for a bad
    config. Events already due when delivery starts are sent at once (backfill)."""
    clock = clock or SystemClock()
    own_sender = sender is None and endpoint is not None
    if sender is None and endpoint is not None:
        sender = HttpSender(endpoint)
    config.validate(now_ms=int(clock.time() * 1000) if sender is not None else None)
    simulation = generate(config)
    document = truth_document(simulation)
    events_path = write_truth(truth_path, simulation, document) if truth_path else None
    stats = None
    if sender is not None:
        stats = Delivery(simulation, sender, clock, stop=stop, on_progress=on_progress).run()
        if truth_path is not None:
            update_delivery(truth_path, stats.as_dict())
        if own_sender and isinstance(sender, HttpSender):
            sender.close()
    return SimulationResult(config, simulation, document, stats, truth_path, events_path)


class ProgressLine:
    """The progress line on stderr: rewritten in place (`\\r`) on a terminal, else one line
    every `every_s` seconds."""

    def __init__(self, stream: IO[str] | None = None, *, every_s: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every_s = every_s
        self._last = -1e9
        self._width = 0
        self._pending: str | None = None  # the last line not yet written (not a terminal)

    def __call__(self, p: Progress) -> None:
        line = (
            f"{_clock(p.elapsed_s)}  sim {_clock(p.sim_ms / 1000)}  viewers {p.viewers_active:,}"
            f"  events {p.events_sent:,}/{p.events_total:,}  accepted {p.accepted:,}"
            f"  rejected {p.rejected:,}  failed {p.failed:,}  {p.rate:,.0f} ev/s"
        )
        if self.tty:
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        elif p.elapsed_s - self._last >= self.every_s:
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
