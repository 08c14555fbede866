"""What the benchmarks share: the machine a run was on, rates from counts and times, the report.

The scripts run as `python bench/<name>/run.py` (the `bench` folder is not an installed package):
each puts the repository root on `sys.path` before importing this module as `bench.common`.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """The machine a run was measured on (figures from different machines do not compare)."""
    return {"cpus": os.cpu_count(), "python": platform.python_version()}


def rates(events: int, seconds: float, cpu_seconds: float | None = None) -> dict[str, float]:
    """Events per second of wall time and, when the CPU time is given, per CPU second."""
    figures: dict[str, float] = {"events": events, "seconds": seconds}
    figures["events_per_s"] = events / seconds
    if cpu_seconds is not None:
        figures["cpu_seconds"] = cpu_seconds
        figures["events_per_cpu_s"] = events / cpu_seconds
    return figures


def per_cpu_second(figures: dict[str, Any]) -> str:
    """The CPU-time rate of figures from `rates`, as the reports word it."""
    return f"{figures['events_per_cpu_s']:,.0f} per CPU second"


def print_rate(label: str, events_per_s: float, detail: str, *, width: int) -> None:
    """One figure's line, `  <label> <events/s> events/s (<detail>)`, printed at once."""
    print(f"  {label:<{width}} {events_per_s:>10,.0f} events/s ({detail})", flush=True)


def write_results(folder: Path, name: str, figures: dict[str, Any]) -> Path:
    """The run's figures as JSON in `folder`, named after the benchmark and the local time."""
    folder.mkdir(exist_ok=True)
    out = folder / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(figures, indent=2))
    print(f"  written to {out}")
    return out


class Progress:
    """A long phase's progress on stderr: `  <label>: <done>/<total> (<pct>), <rate>/s, about
    <left> left`, at most every `every_s` seconds (time spent printing is not in the figures:
    a line costs microseconds, and the timed regions never print)."""

    def __init__(self, label: str, total: int, *, unit: str = "events", every_s: float = 5.0):
        self.label = label
        self.total = total
        self.unit = unit
        self.every_s = every_s
        self.started = time.monotonic()
        self._last = self.started

    def __call__(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        line = f"  {self.label}: {done:,}/{self.total:,} {self.unit}"
        if self.total:
            line += f" ({100 * done / self.total:.0f}%)"
        line += f", {rate:,.0f}/s"
        if 0 < done < self.total:
            line += f", about {(self.total - done) / rate:,.0f} s left"
        print(line, file=sys.stderr, flush=True)

    def done(self, done: int) -> None:
        """The phase's last line."""
        self(done, force=True)
