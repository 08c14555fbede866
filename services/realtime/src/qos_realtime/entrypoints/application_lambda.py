"""The Flink application's lifecycle Lambda, behind the stack's custom resource
(`Custom::QosFlinkApplicationLifecycle`, through the CDK `Provider` framework).

Create and Update start the application (`ApplicationLifecycle.start`: nothing to do when it is
RUNNING or STARTING already; an update in progress is waited out) and return when it is RUNNING;
Delete stops it (`ApplicationLifecycle.stop`) and returns when it is READY or gone, so that the
application's own deletion, which CloudFormation runs next, never races a running job. A failure
raises a `LifecycleError`; the Provider framework turns its message into the CloudFormation
failure reason. The resource's physical id is the application's name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from qos_realtime.bootstrap import build_lifecycle
from qos_realtime.domain.lifecycle import LifecycleError
from qos_realtime.service.lifecycle import ApplicationLifecycle

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "qos-realtime-lifecycle"))


def on_event(event: Mapping[str, Any], lifecycle: ApplicationLifecycle) -> dict[str, Any]:
    """Handle one Provider framework event; returns the resource's id and attributes."""
    request_type = event.get("RequestType")
    properties = event.get("ResourceProperties") or {}
    name = str(properties.get("ApplicationName") or "")
    if not name:
        raise LifecycleError("the custom resource has no ApplicationName property")
    if request_type in ("Create", "Update"):
        logger.info(
            f"{request_type}: starting {name}", extra={"code": properties.get("CodeAssetHash")}
        )
        outcome = lifecycle.start(name)
    elif request_type == "Delete":
        logger.info(f"Delete: stopping {name}")
        outcome = lifecycle.stop(name)
    else:
        raise LifecycleError(f"unknown RequestType {request_type!r}")
    logger.info(f"{name} is {outcome.status}", extra={"calls": outcome.calls})
    return {
        "PhysicalResourceId": name,
        "Data": {"Status": outcome.status or "DELETED", "Calls": ",".join(outcome.calls)},
    }


_lifecycle: ApplicationLifecycle | None = None


def _default_lifecycle() -> ApplicationLifecycle:
    # Built on the first invocation, not at import, so that importing this module needs no env.
    global _lifecycle
    if _lifecycle is None:
        _lifecycle = build_lifecycle()
    return _lifecycle


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return on_event(event, _default_lifecycle())
