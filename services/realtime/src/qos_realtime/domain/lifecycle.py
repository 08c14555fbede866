"""What to do next with the Flink application, given its status: start it after a deploy, stop it
before it is deleted.

Pure decisions for the stack's lifecycle custom resource (`service.lifecycle` polls, the adapter
calls Managed Service for Apache Flink). The statuses are MSF's `ApplicationStatus`; `None` stands
for an application that does not exist.

- Start: RUNNING is done; READY is started once; a status on its way somewhere (STARTING,
  UPDATING, AUTOSCALING, ...) is waited out, then decided again. READY again after the start
  request had been seen STARTING means the job failed to start: an error, not a wait.
- Stop: READY, a missing application, one being deleted and a rolled-back one are done (there is
  nothing to stop: StopApplication takes RUNNING, or with Force a transient status); RUNNING is
  stopped gracefully (with a snapshot) once, and forced only when the graceful stop has not
  brought it to READY after `force_after_s`; transient statuses are waited out.
"""

from __future__ import annotations

import enum
from collections.abc import Set

RUNNING = "RUNNING"
READY = "READY"
STARTING = "STARTING"
DELETING = "DELETING"
ROLLED_BACK = "ROLLED_BACK"
# On their way to another status: wait, then decide again.
TRANSIENT = frozenset(
    {
        STARTING,
        "STOPPING",
        "UPDATING",
        "AUTOSCALING",
        "FORCE_STOPPING",
        "ROLLING_BACK",
        "MAINTENANCE",
    }
)
# What StopApplication with Force accepts besides RUNNING (MSF's API reference).
FORCE_STOPPABLE = frozenset({STARTING, "UPDATING", "STOPPING", "AUTOSCALING"})


class Step(enum.Enum):
    """The next thing to do."""

    DONE = "done"
    START = "start"
    STOP = "stop"  # graceful: MSF takes a snapshot first
    FORCE_STOP = "force-stop"  # no snapshot
    WAIT = "wait"


class StopRequest(enum.Enum):
    """Which StopApplication call has been made so far."""

    NONE = "none"
    GRACEFUL = "graceful"
    FORCED = "forced"


class LifecycleError(Exception):
    """The application cannot be brought where the stack wants it."""


class ApplicationMissing(LifecycleError):
    """There is no application of that name to start."""


class ApplicationNotStartable(LifecycleError):
    """The application is in a status from which it cannot be started, or failed to start."""


class LifecycleTimeout(LifecycleError):
    """The application did not settle within the bounded wait."""


def start_step(status: str | None, *, requested: bool, seen: Set[str] = frozenset()) -> Step:
    """The next step towards RUNNING; `requested`: StartApplication was called, `seen`: the
    statuses observed since."""
    if status is None:
        raise ApplicationMissing("the Flink application does not exist: nothing to start")
    if status == RUNNING:
        return Step.DONE
    if status == READY:
        if not requested:
            return Step.START
        if STARTING in seen:
            raise ApplicationNotStartable(
                "the Flink application went from STARTING back to READY: the job failed to "
                "start (see the application's CloudWatch log stream)"
            )
        return Step.WAIT  # the start request is not visible yet
    if status in TRANSIENT:
        return Step.WAIT
    raise ApplicationNotStartable(
        f"the Flink application is {status}: it cannot be started from there"
        + (" (its last update was rolled back)" if status == ROLLED_BACK else "")
    )


def stop_step(
    status: str | None, *, requested: StopRequest, waited_s: float, force_after_s: float
) -> Step:
    """The next step towards READY (or gone); `waited_s`: seconds since the graceful stop was
    requested (0 before)."""
    if status is None or status in (READY, DELETING, ROLLED_BACK):
        return Step.DONE
    graceful_overdue = requested is StopRequest.GRACEFUL and waited_s >= force_after_s
    if status == RUNNING:
        if requested is StopRequest.NONE:
            return Step.STOP
        return Step.FORCE_STOP if graceful_overdue else Step.WAIT
    if status in FORCE_STOPPABLE and graceful_overdue:
        return Step.FORCE_STOP
    if status in TRANSIENT:
        return Step.WAIT
    # A status this code does not know: waiting is safe, and the wait is bounded.
    return Step.WAIT
