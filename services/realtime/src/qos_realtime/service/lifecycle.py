"""The Flink application's lifecycle after a deploy: start it and wait for RUNNING, or stop it and
wait for READY, polling its status within a bounded wait.

Each poll describes the application and asks `domain.lifecycle` what to do; the calls to MSF go
through the `FlinkApplication` port (`adapters.flink_application` over boto3). The clock and the
sleep are injectable, so that tests run the waits without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from qos_realtime.domain.lifecycle import (
    READY,
    RUNNING,
    LifecycleTimeout,
    Step,
    StopRequest,
    start_step,
    stop_step,
)


class ApplicationBusy(Exception):
    """MSF refused a start or stop because the application is changing status: poll again."""


class FlinkApplication(Protocol):
    """The calls the lifecycle makes on one MSF application."""

    def status(self, name: str) -> str | None:
        """The application's status, or None when there is no such application."""
        ...

    def start(self, name: str) -> None:
        """StartApplication; raises `ApplicationBusy` when MSF refuses it for now."""
        ...

    def stop(self, name: str, *, force: bool) -> None:
        """StopApplication; a missing application is no error; raises `ApplicationBusy`."""
        ...


@dataclass(frozen=True, slots=True)
class LifecycleTiming:
    """How often to poll and how long to wait in all; a graceful stop still running after
    `force_stop_after_s` is forced."""

    poll_s: float = 10.0
    timeout_s: float = 780.0
    force_stop_after_s: float = 300.0


@dataclass(slots=True)
class Outcome:
    """Where the application ended (None: gone) and the calls made to get there."""

    status: str | None
    calls: list[str] = field(default_factory=list)


class ApplicationLifecycle:
    """Start or stop one application, idempotently (see `domain.lifecycle`)."""

    def __init__(
        self,
        application: FlinkApplication,
        timing: LifecycleTiming,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.application = application
        self.timing = timing
        self.clock = clock
        self.sleep = sleep

    def start(self, name: str) -> Outcome:
        """Bring the application to RUNNING: StartApplication if READY, nothing if RUNNING or
        STARTING already, after waiting out an update. Raises a `LifecycleError`."""
        deadline = self.clock() + self.timing.timeout_s
        outcome = Outcome(status=None)
        requested = False
        seen: set[str] = set()
        while True:
            status = outcome.status = self.application.status(name)
            if requested and status is not None:
                seen.add(status)
            step = start_step(status, requested=requested, seen=seen)
            if step is Step.DONE:
                return outcome
            if step is Step.START:
                try:
                    self.application.start(name)
                except ApplicationBusy:
                    pass  # it is changing status after all: decide again on the next poll
                else:
                    requested = True
                    outcome.calls.append("start")
            self._pause_until(deadline, name, status, RUNNING)

    def stop(self, name: str) -> Outcome:
        """Bring the application to READY (or find it gone): a graceful StopApplication if
        RUNNING, forced if that has not worked after `force_stop_after_s`. Raises a
        `LifecycleError`."""
        deadline = self.clock() + self.timing.timeout_s
        outcome = Outcome(status=None)
        requested = StopRequest.NONE
        requested_at = 0.0
        while True:
            status = outcome.status = self.application.status(name)
            waited = self.clock() - requested_at if requested is StopRequest.GRACEFUL else 0.0
            step = stop_step(
                status,
                requested=requested,
                waited_s=waited,
                force_after_s=self.timing.force_stop_after_s,
            )
            if step is Step.DONE:
                return outcome
            if step in (Step.STOP, Step.FORCE_STOP):
                force = step is Step.FORCE_STOP
                try:
                    self.application.stop(name, force=force)
                except ApplicationBusy:
                    pass
                else:
                    outcome.calls.append("force-stop" if force else "stop")
                    requested = StopRequest.FORCED if force else StopRequest.GRACEFUL
                    requested_at = self.clock()
            self._pause_until(deadline, name, status, READY)

    def _pause_until(self, deadline: float, name: str, status: str | None, target: str) -> None:
        """Sleep one poll interval, or raise if the wait is over."""
        if self.clock() >= deadline:
            raise LifecycleTimeout(
                f"the Flink application {name} is still {status} after "
                f"{self.timing.timeout_s:g} s of waiting for {target} (polled every "
                f"{self.timing.poll_s:g} s; QOS_REALTIME_LIFECYCLE_TIMEOUT_SECONDS sets the wait)"
            )
        self.sleep(min(self.timing.poll_s, max(deadline - self.clock(), 0.0)))
