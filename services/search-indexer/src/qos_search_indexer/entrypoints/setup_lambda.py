"""The custom resource's Lambda (behind the CDK `Provider`): set the domain up on Create and Update.

Create and Update run every step of `service.apply_domain_setup` (all idempotent, so an Update
re-applies the whole design whatever property changed). Delete does nothing: the domain goes with
the stack, or is kept with its indices, and either way its setup is right as it stands. A refused
request raises `SetupError`; the Provider framework turns the message (request, HTTP status,
body) into the CloudFormation failure reason.

The saved objects NDJSON is bundled beside the code (`qos-dashboards.ndjson` at the bundle's
root) by the stack's packaging.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from qos_search_indexer.bootstrap import signed_http
from qos_search_indexer.domain.design import SAVED_OBJECTS_FILENAME, SetupError, SetupSettings
from qos_search_indexer.service import Http, apply_domain_setup

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "qos-search-setup"))

HttpFactory = Callable[[str], Http]


def saved_objects_path() -> Path:
    override = os.environ.get("QOS_SEARCH_SAVED_OBJECTS_PATH")
    if override:
        return Path(override)
    root = os.environ.get("LAMBDA_TASK_ROOT") or str(Path(__file__).resolve().parents[2])
    return Path(root) / SAVED_OBJECTS_FILENAME


def read_saved_objects() -> bytes:
    path = saved_objects_path()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SetupError(f"no saved objects at {path}: the bundle was built without them") from None


def physical_id(endpoint: str) -> str:
    return f"qos-search-setup:{endpoint}"


def on_event(
    event: Mapping[str, Any],
    *,
    http_for: HttpFactory = signed_http,
    saved_objects: Callable[[], bytes] = read_saved_objects,
) -> dict[str, Any]:
    """Handle one Provider framework event; returns the resource's id and attributes."""
    request_type = event.get("RequestType")
    if request_type == "Delete":
        logger.info("Delete: nothing to undo", extra={"physical_id": event["PhysicalResourceId"]})
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    if request_type not in ("Create", "Update"):
        raise SetupError(f"unknown RequestType {request_type!r}")
    properties = event.get("ResourceProperties", {})
    endpoint = str(properties.get("DomainEndpoint") or "")
    if not endpoint:
        raise SetupError("the custom resource has no DomainEndpoint property")
    settings = SetupSettings.from_properties(properties)
    logger.info(
        f"{request_type}: setting up {endpoint}",
        extra={
            "shards": settings.shards,
            "replicas": settings.replicas,
            "delete_after_days": settings.delete_after_days,
            "design_sha256": properties.get("DesignSha256"),
            "saved_objects_sha256": properties.get("SavedObjectsSha256"),
        },
    )
    report = apply_domain_setup(http_for(endpoint), settings, saved_objects())
    logger.info("setup applied", extra={"steps": report.steps})
    return {
        "PhysicalResourceId": physical_id(endpoint),
        "Data": {"Steps": len(report.steps), "SavedObjects": report.saved_objects},
    }


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return on_event(event)
