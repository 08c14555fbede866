"""Quiet, useful logs for the local processes: one INFO line per interval of what each did.

A local component (ingest, the realtime engine, the lake writer, the search indexer) adds up what
it does in an `IntervalLog` (counts that add, peaks that keep the largest, gauges that keep the
last value) and calls `tick()` as it goes; once an interval (`QOS_LOG_EVERY_S`, 30 s by default)
is over, `tick()` logs one line rendered from the interval's figures, with the rates per second.
What happened batch by batch goes to DEBUG. `configure_logging()` is the processes' logging setup:
the level is `QOS_LOG_LEVEL` (INFO by default), and the HTTP clients' per-request lines (urllib3,
opensearch-py) show only at DEBUG.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable

__all__ = ["DEFAULT_EVERY_S", "Figures", "IntervalLog", "configure_logging", "every_s_from_env"]

DEFAULT_EVERY_S = 30.0
EVERY_ENV = "QOS_LOG_EVERY_S"
LEVEL_ENV = "QOS_LOG_LEVEL"
# Libraries that log a line per request at INFO (or per connection event at WARNING).
_CHATTY = ("urllib3", "opensearch", "opensearchpy")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def every_s_from_env() -> float:
    """`QOS_LOG_EVERY_S` (seconds between two lines of a component, > 0), or the default."""
    text = os.environ.get(EVERY_ENV, "").strip()
    if not text:
        return DEFAULT_EVERY_S
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{EVERY_ENV}={text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{EVERY_ENV}={text!r} must be a positive number of seconds")
    return value


def configure_logging() -> int:
    """The local processes' logging: `QOS_LOG_LEVEL` (DEBUG, INFO, WARNING, ERROR; INFO by
    default), time and logger name on every line; the HTTP clients' own lines only at DEBUG.
    Returns the level."""
    name = os.environ.get(LEVEL_ENV, "").strip().upper() or "INFO"
    if name not in _LEVELS:
        raise ValueError(f"{LEVEL_ENV}={name!r} is not one of {', '.join(_LEVELS)}")
    level = int(getattr(logging, name))
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(message)s")
    for chatty in _CHATTY:
        logging.getLogger(chatty).setLevel(
            logging.DEBUG if level <= logging.DEBUG else logging.ERROR
        )
    return level


class Figures:
    """One interval's figures: `counts` (added up), `peaks` (largest), `gauges` (last value),
    and the interval's length in seconds."""

    def __init__(
        self, counts: dict[str, float], peaks: dict[str, float], gauges: dict[str, float], s: float
    ) -> None:
        self.counts = counts
        self.peaks = peaks
        self.gauges = gauges
        self.seconds = s

    def count(self, name: str) -> float:
        return self.counts.get(name, 0.0)

    def rate(self, name: str) -> float:
        """`name`'s count per second over the interval."""
        return self.count(name) / self.seconds if self.seconds > 0 else 0.0

    @property
    def idle(self) -> bool:
        """Nothing was counted in the interval."""
        return not any(self.counts.values())


class IntervalLog:
    """Figures added up from any thread, one INFO line per interval (`render` returns None for
    an interval not worth a line, e.g. an idle one without backlog)."""

    def __init__(
        self,
        logger: logging.Logger,
        render: Callable[[Figures], str | None],
        every_s: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.render = render
        self.every_s = every_s_from_env() if every_s is None else every_s
        if self.every_s <= 0:
            raise ValueError(f"every_s must be positive, not {self.every_s}")
        self.clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._counts: dict[str, float] = {}
        self._peaks: dict[str, float] = {}
        self._gauges: dict[str, float] = {}

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, n in counts.items():
                self._counts[name] = self._counts.get(name, 0.0) + n

    def peak(self, **values: float) -> None:
        with self._lock:
            for name, v in values.items():
                self._peaks[name] = max(v, self._peaks.get(name, v))

    def gauge(self, **values: float) -> None:
        with self._lock:
            self._gauges.update(values)

    def tick(self) -> bool:
        """Logs the interval's line when the interval is over (True then)."""
        now = self.clock()
        with self._lock:
            if now - self._started < self.every_s:
                return False
            figures = self._take(now)
        self._emit(figures)
        return True

    def flush(self) -> None:
        """Logs what the current, unfinished interval holds (at the process's end)."""
        with self._lock:
            figures = self._take(self.clock())
        self._emit(figures)

    def _take(self, now: float) -> Figures:
        figures = Figures(
            self._counts, self._peaks, dict(self._gauges), max(now - self._started, 1e-9)
        )
        self._counts, self._peaks, self._started = {}, {}, now
        return figures

    def _emit(self, figures: Figures) -> None:
        line = self.render(figures)
        if line is not None:
            self.logger.info(line)

    def run_timer(self, stop: threading.Event, period_s: float = 1.0) -> threading.Thread:
        """A daemon thread that ticks every `period_s` until `stop` is set (for a component
        whose work comes on threads of its own, as a server's requests)."""

        def loop() -> None:
            while not stop.wait(min(period_s, self.every_s)):
                self.tick()

        thread = threading.Thread(target=loop, name="interval-log", daemon=True)
        thread.start()
        return thread
