"""Runs the window engine over the local event log, with its own checkpoint, into the store.

Restart-safe without losing or double-counting: the log checkpoint only moves past records that
are accounted for in the store (in a final window, or counted late, and in the views the store
holds); records of windows not yet sealed (open, or closed within the revision horizon) are read
again after a restart and rebuild those windows. The views go into the store with every final
write: the ones closed since the last (and the ids of those reopened, whose records are void),
and the open and kept closed ones as they are at `accounted_through`; after a restart those are
restored and the records after `accounted_through` rebuild the rest. The store keeps, in the same
transaction as the rows, how far records are accounted for (`accounted_through`) and which
windows are closed and sealed, so replayed records are skipped (sealed windows) or kept without
revising (closed ones), never counted twice.

Revisions: a batch with records for closed windows (within the horizon) is written with those
windows' rows computed again, as their next revision (`MetricStore.revisions`). Views reach the
views log (which the lake and the search index read) only once the window of their close time is
sealed, when they can no longer change: so those stores never hold a view that is revised later.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from qos_realtime.adapters.metric_store import MetricStore
from qos_realtime.adapters.window_engine import WindowEngine
from qos_realtime.domain.windows import BatchResult, WindowConfig
from qos_shared.eventlog import EventLog, JoinedRecords, LogEntry, LogRecord

CONSUMER = "realtime"
ACCOUNTED = "accounted_through"
CLOSED_UNTIL = "closed_until"
SEALED_UNTIL = "sealed_until"


@dataclass(frozen=True, slots=True)
class ConsumerTiming:
    batch_size: int = 50_000
    # No record for this long: the wall clock moves the watermark, if the stream is live (the
    # event time its traffic has reached is within `live_lag_s` of the wall clock) ...
    idle_after_s: float = 5.0
    live_lag_s: float = 120.0
    # ... and otherwise (a backfill of past events that pauses) only after this long: a pause
    # does not close the windows the backfill is still filling.
    backfill_idle_after_s: float = 60.0
    flush_interval_s: float = 1.0  # provisional rows of open windows, at most this often
    poll_interval_s: float = 0.2


class RealtimeConsumer:
    def __init__(
        self,
        log: EventLog,
        store: MetricStore,
        config: WindowConfig,
        timing: ConsumerTiming = ConsumerTiming(),
        *,
        clock: Callable[[], float] = time.time,
        spill_dir: Path | None = None,
        views_log: EventLog | None = None,
    ) -> None:
        self.log = log
        self.views_log = views_log
        self.store = store
        self.config = config
        self.timing = timing
        self.clock = clock
        self.engine = WindowEngine(config, spill_dir=spill_dir)
        self.engine.closed_until = store.state(CLOSED_UNTIL)
        # Before this key existed, closing a window sealed it.
        self.engine.sealed_until = store.state(SEALED_UNTIL, self.engine.closed_until)
        self._sealed = self.engine.sealed_until  # as the store has it
        self.accounted = store.state(ACCOUNTED)
        self.position = log.checkpoint(CONSUMER)
        # The views as they were at `accounted`: the open ones, the kept closed ones, and the
        # records of the closed ones whose windows are not sealed (records after `accounted` are
        # read again and rebuild the rest, identically).
        self.engine.views.restore(store.open_views())
        self.engine.views.restore(store.open_views(closed=True), closed=True)
        self.engine.views.prune(self.engine.sealed_until)
        pending = store.views_closing_from(self.engine.sealed_until)
        if pending:
            self.engine.load_view_records(pending, restoring=True)
        self._last_record_at = clock()
        self._last_flush = 0.0
        self._dirty = False

    def poll(self) -> int:
        """Read one batch, close what is due, move the checkpoint; returns records read."""
        batch = self._read()
        now = self.clock()
        late: dict[int, int] = {}
        read = 0
        if batch:
            read, result = self._load(batch)
            late = result.late
            self._last_record_at = now
            self._dirty = self._dirty or result.added > 0
        idle = not read and self._idle(now)
        watermark = self.engine.watermark(idle_now_ms=int(now * 1000) if idle else None)
        # Views first: a view closing at this watermark counts in a window still open.
        if self.engine.close_views(watermark):
            self._dirty = True
        due = self.engine.due_windows(watermark)
        revising = self.engine.take_revising()
        if due or late or revising:
            window_ms = self.config.window_ms
            closed_until = max([self.engine.closed_until, *(w + window_ms for w in due)])
            views = self.engine.take_closed_views()
            retracted = self.engine.take_retracted_views()
            finalised = sorted({*due, *revising})
            self.store.write(
                self.engine.rows(finalised, final=True),
                finalised=finalised,
                revised=revising,
                late=late,
                window_ms=window_ms,
                state={ACCOUNTED: self.position, CLOSED_UNTIL: closed_until},
                views=views,
                retracted_views=retracted,
                open_views=self.engine.views.snapshot(),
                closed_views=self.engine.views.snapshot(closed=True),
            )
            self.engine.close(due)
            self.accounted = self.position
        self._seal(watermark)
        self._commit_checkpoint()
        if self._dirty and now - self._last_flush >= self.timing.flush_interval_s:
            self.store.write(self.engine.rows(self.engine.open_windows(), final=False))
            self._dirty = False
            self._last_flush = now
        return read

    def _seal(self, watermark: int | None) -> None:
        """Seal what the watermark allows, and pass the views that closed in the sealed windows
        to the views log: first the log, then the store's `sealed_until`; if the process dies
        between the two, the views are appended again after the restart, which the log ignores
        (by id)."""
        before = self._sealed
        sealed = self.engine.seal(watermark)
        if sealed <= before:
            return
        if self.views_log is not None:
            views = self.store.views_closing_from(before, until=sealed)
            if views:
                self.views_log.append(
                    [LogRecord(v["event_id"], v["session_id"], orjson.dumps(v)) for v in views]
                )
        self.store.write([], state={SEALED_UNTIL: sealed})
        self._sealed = sealed

    def _idle(self, now: float) -> bool:
        """Whether the wall clock may move the watermark: no record for `idle_after_s` on a live
        stream, for `backfill_idle_after_s` on one of past events."""
        quiet = now - self._last_record_at
        if quiet >= self.timing.backfill_idle_after_s:
            return True
        if quiet < self.timing.idle_after_s:
            return False
        newest = self.engine.bulk_event_time()
        return newest is None or now * 1000 - newest <= self.timing.live_lag_s * 1000

    def _read(self) -> list[LogEntry] | JoinedRecords | None:
        """The next batch of the log: after a restart, while it may hold records already
        accounted for, as entries (the engine judges each by its position); otherwise as the
        log's one newline-joined text, with no Python object per record."""
        if self.position < self.accounted:
            return self.log.read(after=self.position, limit=self.timing.batch_size) or None
        batch = self.log.read_joined(after=self.position, limit=self.timing.batch_size)
        return batch if batch.record_count else None

    def _load(self, batch: list[LogEntry] | JoinedRecords) -> tuple[int, BatchResult]:
        """Into the engine, and `position` past it: (records read, the engine's result)."""
        if isinstance(batch, JoinedRecords):
            result = self.engine.add_joined(batch.data, batch.first_position)
            self.position = batch.last_position
            return batch.record_count, result
        result = self.engine.add(
            [e.data for e in batch],
            [e.position for e in batch],
            accounted_through=self.accounted,
        )
        self.position = batch[-1].position
        return len(batch), result

    def _commit_checkpoint(self) -> None:
        oldest_open = self.engine.min_open_position()
        checkpoint = self.position if oldest_open is None else oldest_open - 1
        # Records after `accounted` may be in views not yet written to the store.
        checkpoint = min(checkpoint, self.accounted)
        if checkpoint != self.log.checkpoint(CONSUMER):
            self.log.commit(CONSUMER, checkpoint)

    def run(self, stop: threading.Event, on_poll: Callable[[int], None] | None = None) -> None:
        """Poll until `stop` is set; `on_poll(records read)` after each poll."""
        while not stop.is_set():
            read = self.poll()
            if on_poll is not None:
                on_poll(read)
            if read < self.timing.batch_size:
                stop.wait(self.timing.poll_interval_s)

    def lag(self) -> int:
        """Records in the log after the ones read (what the engine has still to read)."""
        return max(0, self.log.last_position() - self.position)
