"""The lifecycle Lambda against a recorded MSF: botocore's `Stubber` on a real kinesisanalyticsv2
client.

moto has no StartApplication or StopApplication for kinesisanalyticsv2, so each test queues the
exact calls (operation and parameters) MSF must receive, in order, with the answers it gives; an
unexpected call, or one with other parameters, fails the test, and `assert_no_pending_responses`
proves every expected call was made. The clock is fake: `sleep` moves it, so the waits take no
time and the time-outs are exact. What this cannot prove is MSF's real state machine (how long a
start takes, which statuses it passes through): the statuses are the ones the API reference lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from qos_realtime.adapters.flink_application import MsfApplication
from qos_realtime.bootstrap import build_lifecycle
from qos_realtime.domain.lifecycle import (
    ApplicationMissing,
    ApplicationNotStartable,
    LifecycleError,
    LifecycleTimeout,
)
from qos_realtime.entrypoints.application_lambda import on_event
from qos_realtime.service.lifecycle import ApplicationLifecycle, LifecycleTiming
from qos_realtime.settings import LifecycleSettings

NAME = "qos-test-realtime"
ARN = f"arn:aws:kinesisanalytics:eu-west-1:123456789012:application/{NAME}"
POLL = 10.0


class FakeClock:
    """Monotonic time that moves only when the code sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Msf:
    """A stubbed kinesisanalyticsv2 client and the expectations queued on it."""

    def __init__(self) -> None:
        self.client = boto3.client(
            "kinesisanalyticsv2",
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.stubber = Stubber(self.client)

    def describe(self, status: str) -> Msf:
        detail = {
            "ApplicationARN": ARN,
            "ApplicationName": NAME,
            "RuntimeEnvironment": "FLINK-2_2",
            "ApplicationStatus": status,
            "ApplicationVersionId": 3,
        }
        self.stubber.add_response(
            "describe_application", {"ApplicationDetail": detail}, {"ApplicationName": NAME}
        )
        return self

    def missing(self, operation: str = "describe_application", **params: Any) -> Msf:
        self.stubber.add_client_error(
            operation,
            service_error_code="ResourceNotFoundException",
            service_message=f"Application {NAME} not found",
            http_status_code=400,
            expected_params={"ApplicationName": NAME, **params},
        )
        return self

    def start(self) -> Msf:
        self.stubber.add_response("start_application", {}, {"ApplicationName": NAME})
        return self

    def start_in_use(self) -> Msf:
        self.stubber.add_client_error(
            "start_application",
            service_error_code="ResourceInUseException",
            service_message="Application is updating",
            http_status_code=400,
            expected_params={"ApplicationName": NAME},
        )
        return self

    def stop(self, *, force: bool) -> Msf:
        self.stubber.add_response("stop_application", {}, {"ApplicationName": NAME, "Force": force})
        return self


@pytest.fixture
def msf() -> Iterator[Msf]:
    fake = Msf()
    with fake.stubber:
        yield fake
        fake.stubber.assert_no_pending_responses()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def lifecycle(
    msf: Msf, clock: FakeClock, *, timeout_s: float = 780.0, force_stop_after_s: float = 300.0
) -> ApplicationLifecycle:
    timing = LifecycleTiming(
        poll_s=POLL, timeout_s=timeout_s, force_stop_after_s=force_stop_after_s
    )
    return ApplicationLifecycle(MsfApplication(msf.client), timing, clock=clock, sleep=clock.sleep)


def event(request_type: str) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResourceProperties": {"ApplicationName": NAME, "CodeAssetHash": "abc"},
        "PhysicalResourceId": NAME,
    }


# --- Create / Update: start -----------------------------------------------------------------------


def test_create_starts_a_ready_application_and_waits_for_running(
    msf: Msf, clock: FakeClock
) -> None:
    msf.describe("READY").start().describe("STARTING").describe("STARTING").describe("RUNNING")
    answer = on_event(event("Create"), lifecycle(msf, clock))
    assert answer == {
        "PhysicalResourceId": NAME,
        "Data": {"Status": "RUNNING", "Calls": "start"},
    }
    assert clock.sleeps == [POLL, POLL, POLL]


def test_create_leaves_a_running_application_alone(msf: Msf, clock: FakeClock) -> None:
    msf.describe("RUNNING")  # and no StartApplication: the Stubber refuses an unqueued call
    answer = on_event(event("Create"), lifecycle(msf, clock))
    assert answer["Data"] == {"Status": "RUNNING", "Calls": ""}
    assert clock.sleeps == []


def test_starting_already_is_waited_for_without_a_second_start(msf: Msf, clock: FakeClock) -> None:
    msf.describe("STARTING").describe("RUNNING")
    outcome = lifecycle(msf, clock).start(NAME)
    assert (outcome.status, outcome.calls) == ("RUNNING", [])


def test_update_waits_out_an_update_then_starts_if_ready(msf: Msf, clock: FakeClock) -> None:
    msf.describe("UPDATING").describe("UPDATING").describe("READY").start().describe("RUNNING")
    answer = on_event(event("Update"), lifecycle(msf, clock))
    assert answer["Data"] == {"Status": "RUNNING", "Calls": "start"}
    assert clock.sleeps == [POLL, POLL, POLL]


def test_update_of_an_application_msf_restarted_itself_makes_no_call(
    msf: Msf, clock: FakeClock
) -> None:
    msf.describe("UPDATING").describe("RUNNING")
    answer = on_event(event("Update"), lifecycle(msf, clock))
    assert answer["Data"] == {"Status": "RUNNING", "Calls": ""}


def test_a_start_refused_while_in_use_is_tried_again(msf: Msf, clock: FakeClock) -> None:
    msf.describe("READY").start_in_use().describe("AUTOSCALING").describe("READY").start()
    msf.describe("RUNNING")
    outcome = lifecycle(msf, clock).start(NAME)
    assert (outcome.status, outcome.calls) == ("RUNNING", ["start"])


def test_a_job_that_fails_to_start_is_an_error(msf: Msf, clock: FakeClock) -> None:
    msf.describe("READY").start().describe("STARTING").describe("READY")
    with pytest.raises(ApplicationNotStartable, match="STARTING back to READY"):
        lifecycle(msf, clock).start(NAME)


def test_starting_a_missing_application_is_an_error(msf: Msf, clock: FakeClock) -> None:
    msf.missing()
    with pytest.raises(ApplicationMissing):
        on_event(event("Create"), lifecycle(msf, clock))


def test_start_times_out_with_a_clear_message(msf: Msf, clock: FakeClock) -> None:
    # Polls at 0, 10, 20 and 30 s; at 30 s the wait is over.
    for _ in range(4):
        msf.describe("UPDATING")
    with pytest.raises(LifecycleTimeout) as raised:
        lifecycle(msf, clock, timeout_s=30, force_stop_after_s=20).start(NAME)
    message = str(raised.value)
    assert NAME in message
    assert "still UPDATING after 30 s of waiting for RUNNING" in message
    assert "QOS_REALTIME_LIFECYCLE_TIMEOUT_SECONDS" in message
    assert clock.sleeps == [POLL, POLL, POLL]


def test_other_msf_errors_are_raised_as_they_are(msf: Msf, clock: FakeClock) -> None:
    msf.stubber.add_client_error(
        "describe_application",
        service_error_code="AccessDeniedException",
        http_status_code=403,
        expected_params={"ApplicationName": NAME},
    )
    with pytest.raises(ClientError, match="AccessDenied"):
        lifecycle(msf, clock).start(NAME)


# --- Delete: stop ---------------------------------------------------------------------------------


def test_delete_stops_gracefully_and_waits_for_ready(msf: Msf, clock: FakeClock) -> None:
    msf.describe("RUNNING").stop(force=False).describe("STOPPING").describe("READY")
    answer = on_event(event("Delete"), lifecycle(msf, clock))
    assert answer == {"PhysicalResourceId": NAME, "Data": {"Status": "READY", "Calls": "stop"}}
    assert clock.sleeps == [POLL, POLL]


@pytest.mark.parametrize("status", ["READY", "DELETING"])
def test_delete_of_a_stopped_application_makes_no_call(
    msf: Msf, clock: FakeClock, status: str
) -> None:
    msf.describe(status)
    answer = on_event(event("Delete"), lifecycle(msf, clock))
    assert answer["Data"] == {"Status": status, "Calls": ""}


def test_delete_of_a_missing_application_succeeds(msf: Msf, clock: FakeClock) -> None:
    msf.missing()
    answer = on_event(event("Delete"), lifecycle(msf, clock))
    assert answer == {"PhysicalResourceId": NAME, "Data": {"Status": "DELETED", "Calls": ""}}


def test_an_application_deleted_between_describe_and_stop_is_stopped(
    msf: Msf, clock: FakeClock
) -> None:
    msf.describe("RUNNING").missing("stop_application", Force=False).missing()
    outcome = lifecycle(msf, clock).stop(NAME)
    assert (outcome.status, outcome.calls) == (None, ["stop"])


def test_delete_waits_for_a_start_to_finish_then_stops(msf: Msf, clock: FakeClock) -> None:
    msf.describe("STARTING").describe("RUNNING").stop(force=False).describe("READY")
    outcome = lifecycle(msf, clock).stop(NAME)
    assert (outcome.status, outcome.calls) == ("READY", ["stop"])


def test_a_graceful_stop_that_hangs_is_forced(msf: Msf, clock: FakeClock) -> None:
    # Stop at 0 s; still STOPPING at 10 and 20 s; at 30 s (force after 30 s) it is forced.
    msf.describe("RUNNING").stop(force=False)
    msf.describe("STOPPING").describe("STOPPING").describe("STOPPING").stop(force=True)
    msf.describe("FORCE_STOPPING").describe("READY")
    outcome = lifecycle(msf, clock, force_stop_after_s=30).stop(NAME)
    assert (outcome.status, outcome.calls) == ("READY", ["stop", "force-stop"])
    assert clock.now == 50


def test_stop_times_out_with_a_clear_message(msf: Msf, clock: FakeClock) -> None:
    msf.describe("RUNNING").stop(force=False).describe("STOPPING").describe("STOPPING")
    with pytest.raises(LifecycleTimeout, match="still STOPPING after 20 s of waiting for READY"):
        lifecycle(msf, clock, timeout_s=20, force_stop_after_s=60).stop(NAME)


# --- the handler's routing and the settings ----------------------------------------------------


def test_unknown_request_types_and_missing_names_are_refused(msf: Msf, clock: FakeClock) -> None:
    with pytest.raises(LifecycleError, match="RequestType"):
        on_event({**event("Create"), "RequestType": "Replace"}, lifecycle(msf, clock))
    with pytest.raises(LifecycleError, match="ApplicationName"):
        on_event({"RequestType": "Create", "ResourceProperties": {}}, lifecycle(msf, clock))


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QOS_REALTIME_LIFECYCLE_POLL_SECONDS", "5")
    monkeypatch.setenv("QOS_REALTIME_LIFECYCLE_TIMEOUT_SECONDS", "600")
    monkeypatch.setenv("QOS_REALTIME_LIFECYCLE_FORCE_STOP_AFTER_SECONDS", "120")
    built = build_lifecycle(LifecycleSettings(), client=Msf().client)
    assert built.timing == LifecycleTiming(poll_s=5, timeout_s=600, force_stop_after_s=120)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QOS_REALTIME_LIFECYCLE_TIMEOUT_SECONDS": "900"}, "less than or equal to 840"),
        ({"QOS_REALTIME_LIFECYCLE_POLL_SECONDS": "0"}, "greater than 0"),
        (
            {
                "QOS_REALTIME_LIFECYCLE_TIMEOUT_SECONDS": "100",
                "QOS_REALTIME_LIFECYCLE_FORCE_STOP_AFTER_SECONDS": "100",
            },
            "force_stop_after_seconds must be less than timeout_seconds",
        ),
    ],
)
def test_bad_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=message):
        LifecycleSettings()
