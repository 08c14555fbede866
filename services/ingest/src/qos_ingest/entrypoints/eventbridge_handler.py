"""The Lambda entrypoint of the EventBridge rule for Amazon IVS stream events, with Powertools.

EventBridge invokes it asynchronously with one event ("IVS Stream State Change" or "IVS Stream
Health Change"); it becomes a stored record (`domain.stream_events`) put into the ingest stream
through the same sink as the API's events. What happens to an event that cannot be stored:

- an event that is not a valid IVS stream event is rejected: logged with its reason and counted
  (`RejectedEvents`), not retried (it would fail the same way again);
- a record the sink could not take raises `StreamEventNotStored`, so Lambda's asynchronous retries
  send the event again, and after the last one its on-failure destination (a queue) keeps it.
  The record's event id is derived from the EventBridge id, so a retried event is one record.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from qos_ingest.bootstrap import build_stream_event_service
from qos_ingest.service import IngestResponse, IngestService
from qos_ingest.settings import IngestSettings

_SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "qos-ingest-stream-events")
logger = Logger(service=_SERVICE_NAME)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "QoS/Ingest"), service=_SERVICE_NAME
)


class StreamEventNotStored(RuntimeError):
    """The sink did not take the event's record: raised so that the invocation is retried."""


def handle(service: IngestService, event: Any, received_at_ms: int) -> IngestResponse:
    """Store one invocation's event (a list of events is taken too); raise when the sink failed.
    Tests call this with their own service."""
    events = event if isinstance(event, list) else [event]
    reply = service.store_stream_events(events, received_at_ms)
    stats = reply.stats
    metrics.add_metric(name="AcceptedStreamEvents", unit=MetricUnit.Count, value=stats.accepted)
    metrics.add_metric(name="RejectedStreamEvents", unit=MetricUnit.Count, value=stats.rejected)
    metrics.add_metric(name="FailedStreamEvents", unit=MetricUnit.Count, value=stats.failed)
    if reply.body.get("rejected"):
        logger.warning("stream event rejected", extra={"rejected": reply.body["rejected"]})
    if stats.failed or reply.status >= 500:
        raise StreamEventNotStored(f"the sink did not store the event: {reply.body}")
    return reply


_service: IngestService | None = None


def _default_service() -> IngestService:
    # Built on the first invocation, not at import, so that importing this module needs no env.
    global _service
    if _service is None:
        _service = build_stream_event_service(IngestSettings())
    return _service


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    reply = handle(_default_service(), event, time.time_ns() // 1_000_000)
    return {"status": reply.status, **reply.body}
