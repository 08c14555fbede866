"""The Flink application's lifecycle decisions: status (and what was asked already) -> next step.

Expected steps are written out per status from MSF's state machine as the API reference describes
it, not derived from the module's sets.
"""

from __future__ import annotations

import pytest

from qos_realtime.domain.lifecycle import (
    ApplicationMissing,
    ApplicationNotStartable,
    Step,
    StopRequest,
    start_step,
    stop_step,
)

WAITED_OUT = ["STARTING", "STOPPING", "UPDATING", "AUTOSCALING", "FORCE_STOPPING", "MAINTENANCE"]


@pytest.mark.parametrize(
    ("status", "requested", "expected"),
    [
        ("READY", False, Step.START),
        ("RUNNING", False, Step.DONE),  # idempotent: a running job is left alone
        ("RUNNING", True, Step.DONE),
        ("READY", True, Step.WAIT),  # the request is not visible yet
        *[(status, False, Step.WAIT) for status in WAITED_OUT],
        ("ROLLING_BACK", False, Step.WAIT),
        ("STARTING", True, Step.WAIT),
    ],
)
def test_start_step(status: str, requested: bool, expected: Step) -> None:
    assert start_step(status, requested=requested) is expected


def test_start_never_starts_twice() -> None:
    """Once requested, READY is a wait (or a failure), never a second StartApplication."""
    assert start_step("READY", requested=True, seen={"READY"}) is Step.WAIT


def test_ready_again_after_starting_is_a_failed_start() -> None:
    with pytest.raises(ApplicationNotStartable, match="failed to start"):
        start_step("READY", requested=True, seen={"STARTING", "READY"})


def test_a_missing_application_cannot_be_started() -> None:
    with pytest.raises(ApplicationMissing, match="does not exist"):
        start_step(None, requested=False)


@pytest.mark.parametrize(("status", "why"), [("DELETING", "DELETING"), ("ROLLED_BACK", "rolled")])
def test_statuses_a_start_cannot_leave_are_errors(status: str, why: str) -> None:
    with pytest.raises(ApplicationNotStartable, match=why):
        start_step(status, requested=False)


@pytest.mark.parametrize(
    ("status", "requested", "waited_s", "expected"),
    [
        ("RUNNING", StopRequest.NONE, 0, Step.STOP),
        ("READY", StopRequest.NONE, 0, Step.DONE),  # idempotent: stopped already
        (None, StopRequest.NONE, 0, Step.DONE),  # gone already
        ("DELETING", StopRequest.NONE, 0, Step.DONE),
        ("ROLLED_BACK", StopRequest.NONE, 0, Step.DONE),
        ("READY", StopRequest.GRACEFUL, 20, Step.DONE),
        ("STOPPING", StopRequest.GRACEFUL, 20, Step.WAIT),
        ("RUNNING", StopRequest.GRACEFUL, 20, Step.WAIT),  # not visible yet: no second stop
        ("RUNNING", StopRequest.GRACEFUL, 300, Step.FORCE_STOP),  # the graceful stop hangs
        ("STOPPING", StopRequest.GRACEFUL, 301, Step.FORCE_STOP),
        ("RUNNING", StopRequest.FORCED, 500, Step.WAIT),  # forced once, then waited for
        ("FORCE_STOPPING", StopRequest.FORCED, 500, Step.WAIT),
        ("UPDATING", StopRequest.NONE, 0, Step.WAIT),  # stopped once the update is done
        ("STARTING", StopRequest.NONE, 0, Step.WAIT),
        ("MAINTENANCE", StopRequest.GRACEFUL, 400, Step.WAIT),  # Force does not take it
        ("SOMETHING_NEW", StopRequest.NONE, 0, Step.WAIT),
    ],
)
def test_stop_step(
    status: str | None, requested: StopRequest, waited_s: float, expected: Step
) -> None:
    assert stop_step(status, requested=requested, waited_s=waited_s, force_after_s=300) is expected
