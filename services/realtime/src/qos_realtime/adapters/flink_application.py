"""The Flink application's status, start and stop, on Managed Service for Apache Flink (boto3's
`kinesisanalyticsv2` client).

MSF answers `ResourceNotFoundException` for an application that does not exist (None / nothing to
stop here) and `ResourceInUseException` when the application is changing status and cannot take
the call now (`ApplicationBusy`: the lifecycle polls again). Every other error is raised as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from botocore.exceptions import ClientError

from qos_realtime.service.lifecycle import ApplicationBusy

NOT_FOUND = "ResourceNotFoundException"
IN_USE = "ResourceInUseException"


class KinesisAnalyticsV2Client(Protocol):
    def describe_application(self, **kwargs: Any) -> Mapping[str, Any]: ...
    def start_application(self, **kwargs: Any) -> Mapping[str, Any]: ...
    def stop_application(self, **kwargs: Any) -> Mapping[str, Any]: ...


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class MsfApplication:
    """`service.lifecycle.FlinkApplication` on an MSF client."""

    def __init__(self, client: KinesisAnalyticsV2Client) -> None:
        self.client = client

    def status(self, name: str) -> str | None:
        try:
            described = self.client.describe_application(ApplicationName=name)
        except ClientError as exc:
            if _code(exc) == NOT_FOUND:
                return None
            raise
        return str(described["ApplicationDetail"]["ApplicationStatus"])

    def start(self, name: str) -> None:
        # No RunConfiguration: MSF restores from the latest snapshot, if there is one.
        self._call(self.client.start_application, ApplicationName=name)

    def stop(self, name: str, *, force: bool) -> None:
        try:
            self._call(self.client.stop_application, ApplicationName=name, Force=force)
        except ClientError as exc:
            if _code(exc) != NOT_FOUND:
                raise

    @staticmethod
    def _call(method: Any, **kwargs: Any) -> None:
        try:
            method(**kwargs)
        except ClientError as exc:
            if _code(exc) == IN_USE:
                raise ApplicationBusy(str(exc)) from exc
            raise
