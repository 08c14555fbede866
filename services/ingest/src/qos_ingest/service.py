"""Ingest's service layer: run the domain, hand accepted records to the sink, shape the reply.

Both entrypoints (the Lambda handler and the local HTTP server) call `IngestService.handle`, so
status codes and response bodies are the same everywhere:

- 200: every event stored. Body `{"accepted": n, "rejected": [], "failed": []}`.
- 207: some events stored, some rejected (bad input) or failed (sink). `rejected` items are
  `{"index", "reason", "errors"}` and must not be re-sent; `failed` items are `{"index", "reason"}`
  and may be re-sent (same event_id, deduplicated downstream).
- 400: the body is unreadable (a bad `sent_at` included) or no event in it is valid. 413: the
  body or event count is over the limit. 503 with Retry-After: nothing could be stored because
  the sink is down (or the origin secret cannot be read).
- 403: an origin secret is configured and the request does not carry it (`x-qos-origin-verify`):
  it did not come through CloudFront. Nothing is read or stored.
- `handle_stream_events` (Amazon IVS's EventBridge events, `domain.stream_events`) replies the
  same way, each event judged alone.
- Any of these bodies may add `warnings` (a list of sentences) about the request as a whole: a
  client clock (`sent_at`) too far off to correct, whose events were judged as sent.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from qos_ingest.adapters import EventSink, SinkRecord
from qos_ingest.domain import (
    BodyTooLarge,
    IngestConfig,
    IngestRequest,
    IngestResult,
    ingest,
    stream_events,
)
from qos_ingest.domain.edge import EdgePolicy, OriginUnverifiable, Verdict
from qos_shared.envelope import BodyError, TooManyEvents

RETRY_AFTER_SECONDS = 5

log = logging.getLogger("qos_ingest.service")


@dataclass(frozen=True, slots=True)
class IngestStats:
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    duplicates: int = 0
    sink_retries: int = 0


@dataclass(frozen=True, slots=True)
class IngestResponse:
    status: int
    body: dict[str, Any]
    stats: IngestStats = field(default_factory=IngestStats)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)} if self.status == 503 else {}


class IngestService:
    def __init__(
        self, config: IngestConfig, sink: EventSink, edge: EdgePolicy | None = None
    ) -> None:
        self.config = config
        self.sink = sink
        self.edge = edge or EdgePolicy()

    def handle(self, request: IngestRequest) -> IngestResponse:
        try:
            verdict = self.edge.judge(request.headers, request.source_ip)
        except OriginUnverifiable as exc:
            log.error("%s", exc)
            return IngestResponse(503, {"error": "the origin cannot be verified; retry later"})
        if verdict is Verdict.FORBIDDEN:
            return IngestResponse(403, {"error": "requests are accepted through the edge only"})
        if request.edge_trusted != (verdict is Verdict.TRUSTED):
            request = dataclasses.replace(request, edge_trusted=verdict is Verdict.TRUSTED)
        try:
            result = ingest(request, self.config)
        except (BodyTooLarge, TooManyEvents) as exc:
            return IngestResponse(413, {"error": str(exc)})
        except BodyError as exc:
            return IngestResponse(400, {"error": str(exc)})
        return self.store(result)

    def handle_stream_events(self, body: bytes, received_at_ms: int) -> IngestResponse:
        """A body of Amazon IVS EventBridge events (one, or a JSON list): each judged alone,
        the same replies as `handle`."""
        try:
            events = stream_events.parse_body(body, self.config.limits)
        except (BodyTooLarge, TooManyEvents) as exc:
            return IngestResponse(413, {"error": str(exc)})
        except BodyError as exc:
            return IngestResponse(400, {"error": str(exc)})
        return self.store_stream_events(events, received_at_ms)

    def store_stream_events(self, events: list[Any], received_at_ms: int) -> IngestResponse:
        """EventBridge events already read (the Lambda's invocation event): as
        `handle_stream_events`."""
        return self.store(stream_events.stream_records(events, received_at_ms, self.config.limits))

    def store(self, result: IngestResult) -> IngestResponse:
        """Put a judged request's accepted records into the sink, and shape the reply."""
        rejected = [r.as_dict() for r in result.rejected]
        warnings = {"warnings": result.warnings} if result.warnings else {}
        if not result.accepted:
            return IngestResponse(
                400,
                {
                    "error": "no valid events in the request",
                    "accepted": 0,
                    "rejected": rejected,
                    "failed": [],
                    **warnings,
                },
                IngestStats(rejected=len(rejected)),
            )

        outcome = self.sink.put(
            [SinkRecord(a.event_id, a.partition_key, a.data) for a in result.accepted]
        )
        failed = [
            {"index": result.accepted[f.index].request_index, "reason": f.reason}
            for f in outcome.failures
        ]
        stored = len(result.accepted) - len(failed)
        stats = IngestStats(
            accepted=stored,
            rejected=len(rejected),
            failed=len(failed),
            duplicates=outcome.duplicates,
            sink_retries=outcome.retried_records,
        )
        body = {"accepted": stored, "rejected": rejected, "failed": failed, **warnings}
        if stored == 0:
            body["error"] = f"the {self.sink.name} sink is unavailable; retry later"
            return IngestResponse(503, body, stats)
        return IngestResponse(200 if not rejected and not failed else 207, body, stats)
