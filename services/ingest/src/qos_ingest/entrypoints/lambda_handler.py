"""The Lambda entrypoint behind API Gateway (REST, proxy integration), with Powertools."""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Callable
from typing import Any

import orjson
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from qos_ingest.bootstrap import PseudonymKeyMissing, build_service
from qos_ingest.domain import IngestRequest
from qos_ingest.service import IngestResponse, IngestService
from qos_ingest.settings import IngestSettings

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "qos-ingest"))
tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "qos-ingest"))
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "QoS/Ingest"),
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "qos-ingest"),
)

INGEST_ROUTES = ("/v1/events", "/streams")
# What API Gateway may hand over besides the routes' own methods (OPTIONS is CORS preflight).
OTHER_METHODS = ["GET", "PUT", "DELETE", "PATCH", "HEAD"]


def create_app(service: IngestService, cors_origins: list[str]) -> APIGatewayRestResolver:
    """The routes, bound to one service; tests build their own with a fake or moto-backed sink."""
    origins = cors_origins or ["*"]
    app = APIGatewayRestResolver(
        cors=CORSConfig(
            allow_origin=origins[0],
            extra_origins=origins[1:],
            allow_headers=["Content-Type"],
            max_age=600,
        )
    )

    @tracer.capture_method(capture_response=False)
    def handle(request: IngestRequest) -> IngestResponse:
        return service.handle(request)

    def ingest_route() -> Response[str]:
        event = app.current_event
        raw = event.body or ""
        if event.is_base64_encoded:
            try:
                body = base64.b64decode(raw)
            except (binascii.Error, ValueError):
                body = raw.encode()
        else:
            body = raw.encode()
        request = IngestRequest(
            body=body,
            headers={k.lower(): v for k, v in (event.headers or {}).items()},
            received_at_ms=time.time_ns() // 1_000_000,
            # For the trusted-proxy check only; ingest never stores it.
            source_ip=event.request_context.identity.source_ip,
        )
        reply = handle(request)
        _record(reply)
        return Response(
            status_code=reply.status,
            content_type="application/json",
            body=orjson.dumps(reply.body).decode(),
            headers=reply.headers,
        )

    def not_allowed(allowed: str) -> Callable[[], Response[str]]:
        def route() -> Response[str]:
            method = app.current_event.http_method
            return Response(
                status_code=405,
                content_type="application/json",
                body=orjson.dumps(
                    {"error": f"{method} is not allowed; allowed: {allowed}"}
                ).decode(),
                headers={"Allow": allowed},
            )

        return route

    for path in INGEST_ROUTES:
        app.post(path)(ingest_route)
        app.route(path, method=OTHER_METHODS)(not_allowed("POST, OPTIONS"))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "sink": service.sink.name}

    app.route("/healthz", method=[m for m in OTHER_METHODS if m != "GET"] + ["POST"])(
        not_allowed("GET, OPTIONS")
    )

    return app


def _record(reply: IngestResponse) -> None:
    stats = reply.stats
    metrics.add_metric(name="AcceptedEvents", unit=MetricUnit.Count, value=stats.accepted)
    metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=stats.rejected)
    metrics.add_metric(name="FailedEvents", unit=MetricUnit.Count, value=stats.failed)
    metrics.add_metric(name="SinkRetries", unit=MetricUnit.Count, value=stats.sink_retries)
    if reply.status >= 400:
        logger.info("request not accepted", extra={"status": reply.status, "body": reply.body})


_app: APIGatewayRestResolver | None = None


def _default_app() -> APIGatewayRestResolver:
    # Built on the first invocation, not at import, so that importing this module needs no env.
    global _app
    if _app is None:
        settings = IngestSettings()
        try:
            service = build_service(settings)
        except PseudonymKeyMissing:
            # Refuse every request rather than store a raw user id; the log says what to set.
            logger.exception("ingest is not configured to pseudonymise user ids")
            raise
        _app = create_app(service, settings.cors_origins)
    return _app


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _default_app().resolve(event, context)
