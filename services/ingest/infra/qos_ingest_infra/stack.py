"""The ingest service's CloudFormation stack: REST API -> Lambda -> Kinesis Data Stream.

Other services find the stream and the API through SSM parameters named
`/qos/<env>/ingest/<resource>` (never CloudFormation exports), so this stack deploys, updates
and is destroyed on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Unpack

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from qos_ingest_infra.stream_events import StreamEvents
from qos_shared_cdk import blocks, ssm
from qos_shared_cdk.blocks import Options, ServiceStack

SERVICE = ssm.INGEST
# The one name this stack takes from the service's code: the function's entry point.
HANDLER = "qos_ingest.entrypoints.lambda_handler.handler"
POWERTOOLS_SERVICE_NAME = "qos-ingest"
POWERTOOLS_METRICS_NAMESPACE = "QoS/Ingest"

# Routes served by the one Lambda (Powertools resolves them inside the function); API Gateway
# still declares each so that anything else is a 403/404 at the edge, never an invocation.
ROUTES: tuple[tuple[str, str], ...] = (
    ("POST", "/v1/events"),
    ("POST", "/streams"),
    ("GET", "/healthz"),
)
# Must match what the handler's own CORS config allows on the real responses.
CORS_ALLOW_HEADERS = ("Content-Type",)
CORS_MAX_AGE = Duration.minutes(10)

_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")
# Kinesis' own bounds for the retention period.
_MIN_RETENTION_HOURS, _MAX_RETENTION_HOURS = 24, 8760


class IngestStack(ServiceStack):
    """Public ingest API for player events, writing to an on-demand Kinesis stream."""

    service = SERVICE
    label = "ingest"
    summary = "REST API, Lambda, Kinesis"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        asset_dir: Path,
        cors_allow_origins: Sequence[str],
        throttle_rate_limit: float = 500.0,
        throttle_burst_limit: int = 1000,
        stream_retention_hours: int = 24,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        manage_api_gateway_account_role: bool = True,
        **options: Unpack[Options],
    ) -> None:
        """Args beyond the obvious:

        throttle_rate_limit / throttle_burst_limit: stage-wide steady requests per second and
            burst; each request carries a batch of events, so this bounds Lambda concurrency
            and cost, not the event rate.
        manage_api_gateway_account_role: API Gateway writes access logs through one role per
            account and region (`AWS::ApiGateway::Account`). Leave True while this is the
            platform's only REST API; set False where the account already has that role
            configured by someone else, since the last stack to set it wins.
        """
        origins = _checked_origins(cors_allow_origins)
        _check_throttling(throttle_rate_limit, throttle_burst_limit)
        _check_retention(stream_retention_hours)
        asset_dir = _checked_asset_dir(asset_dir)
        super().__init__(scope, construct_id, env_name, **options)
        # No fixed name: consumers read it from SSM, and CloudFormation can then replace the
        # stream, or the stack can be recreated next to the retained old stream, without a
        # name clash.
        self.stream = blocks.on_demand_stream(self, "EventStream", stream_retention_hours)
        self.function = _ingest_function(self, asset_dir, self.stream, origins, log_retention)
        self.stream_events = StreamEvents(
            self,
            "StreamEvents",
            asset_dir=asset_dir,
            stream=self.stream,
            log_retention=log_retention,
        )
        self.api = _rest_api(
            self,
            env_name,
            self.function,
            origins,
            throttle_rate_limit=throttle_rate_limit,
            throttle_burst_limit=throttle_burst_limit,
            log_retention=log_retention,
            manage_account_role=manage_api_gateway_account_role,
        )
        self._publish()

    def _publish(self) -> None:
        self.publish(
            {
                ssm.INGEST_STREAM_NAME: ("StreamNameParameter", self.stream.stream_name),
                ssm.INGEST_STREAM_ARN: ("StreamArnParameter", self.stream.stream_arn),
                ssm.INGEST_API_URL: ("ApiUrlParameter", self.api.url),
            },
        )
        CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the ingest API")
        CfnOutput(
            self,
            "EventsUrl",
            value=self.api.url_for_path("/v1/events"),
            description="POST player events here",
        )
        CfnOutput(self, "StreamName", value=self.stream.stream_name)


def _ingest_function(
    scope: ServiceStack,
    asset_dir: Path,
    stream: kinesis.Stream,
    origins: list[str],
    log_retention: logs.RetentionDays,
) -> lambda_.Function:
    return blocks.lambda_function(
        scope,
        "Handler",
        (HANDLER, asset_dir),
        log_retention=log_retention,
        role_description=scope.describe("handler"),
        # PutRecords only: the sink never creates, describes or reads the stream. The
        # AWS-managed Kinesis key needs no kms:* grant from producers.
        statements=[
            iam.PolicyStatement(
                sid="PutEventsOnIngestStream",
                actions=["kinesis:PutRecords"],
                resources=[stream.stream_arn],
            )
        ],
        description=scope.describe(does="validate, enrich and forward player events"),
        tracing=True,
        memory_size=512,
        # API Gateway gives up after 29 s; 15 s leaves room for the sink's retries with backoff
        # while still failing well before the client does.
        timeout=Duration.seconds(15),
        environment={
            "QOS_INGEST_SINK": "kinesis",
            "QOS_INGEST_STREAM_NAME": stream.stream_name,
            "QOS_INGEST_CORS_ALLOW_ORIGINS": ",".join(origins),
            "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_METRICS_NAMESPACE,
        },
    )


def _rest_api(
    scope: ServiceStack,
    env_name: str,
    function: lambda_.IFunction,
    origins: list[str],
    *,
    throttle_rate_limit: float,
    throttle_burst_limit: int,
    log_retention: logs.RetentionDays,
    manage_account_role: bool,
) -> apigw.RestApi:
    access_logs = blocks.log_group(scope, "ApiAccessLogs", log_retention)
    api = apigw.RestApi(
        scope,
        "Api",
        rest_api_name=scope.resource_name,
        description=scope.describe(does="player events in"),
        # Regional: a CDN or custom domain in front is a separate decision, and edge-optimized
        # would hide one behind an AWS-owned CloudFront distribution we can't configure.
        endpoint_types=[apigw.EndpointType.REGIONAL],
        cloud_watch_role=manage_account_role,
        deploy_options=apigw.StageOptions(
            stage_name=env_name,
            throttling_rate_limit=throttle_rate_limit,
            throttling_burst_limit=throttle_burst_limit,
            tracing_enabled=True,
            metrics_enabled=True,
            access_log_destination=apigw.LogGroupLogDestination(access_logs),
            access_log_format=_access_log_format(),
        ),
        default_cors_preflight_options=apigw.CorsOptions(
            allow_origins=origins,
            allow_methods=sorted({method for method, _ in ROUTES} | {"OPTIONS"}),
            allow_headers=list(CORS_ALLOW_HEADERS),
            max_age=CORS_MAX_AGE,
        ),
    )
    # No test-invoke permission: the console's "Test" button isn't worth a second invoke grant.
    integration = apigw.LambdaIntegration(function, allow_test_invoke=False)
    for method, path in ROUTES:
        _resource_for(api.root, path).add_method(method, integration)
    return api


def _resource_for(root: apigw.IResource, path: str) -> apigw.IResource:
    resource = root
    for part in path.strip("/").split("/"):
        resource = resource.get_resource(part) or resource.add_resource(part)
    return resource


def _access_log_format() -> apigw.AccessLogFormat:
    # JSON so that Logs Insights can query it; the X-Ray trace id links a slow request to its
    # trace, and the integration fields tell an API Gateway error from a Lambda one.
    field = apigw.AccessLogField
    return apigw.AccessLogFormat.custom(
        json.dumps(
            {
                "requestId": field.context_request_id(),
                "requestTime": field.context_request_time_epoch(),
                "sourceIp": field.context_identity_source_ip(),
                "userAgent": field.context_identity_user_agent(),
                "httpMethod": field.context_http_method(),
                "resourcePath": field.context_resource_path(),
                "status": field.context_status(),
                "responseLength": field.context_response_length(),
                "responseLatency": field.context_response_latency(),
                "integrationStatus": field.context_integration_status(),
                "integrationLatency": field.context_integration_latency(),
                "integrationError": field.context_integration_error_message(),
                "errorMessage": field.context_error_message(),
                "xrayTraceId": field.context_xray_trace_id(),
            }
        )
    )


def _checked_origins(origins: Sequence[str]) -> list[str]:
    if isinstance(origins, str):
        raise TypeError("cors_allow_origins must be a list of origins, not one string")
    cleaned = [origin.strip() for origin in origins if origin.strip()]
    if not cleaned:
        raise ValueError("cors_allow_origins is empty: give origins, or ['*'] to allow any")
    if "*" in cleaned and len(cleaned) > 1:
        raise ValueError("cors_allow_origins: '*' already allows every origin; list it alone")
    bad = [origin for origin in cleaned if origin != "*" and not _ORIGIN.fullmatch(origin)]
    if bad:
        raise ValueError(
            f"cors_allow_origins: {bad} are not origins (scheme://host[:port], no path or slash)"
        )
    return cleaned


def _check_throttling(rate_limit: float, burst_limit: int) -> None:
    if rate_limit <= 0 or burst_limit <= 0:
        raise ValueError("throttle_rate_limit and throttle_burst_limit must be positive")


def _check_retention(hours: int) -> None:
    if not _MIN_RETENTION_HOURS <= hours <= _MAX_RETENTION_HOURS:
        raise ValueError(
            f"stream_retention_hours must be between {_MIN_RETENTION_HOURS} and "
            f"{_MAX_RETENTION_HOURS}, got {hours}"
        )


def _checked_asset_dir(asset_dir: Path) -> Path:
    asset_dir = asset_dir.resolve()
    if not (asset_dir / "qos_ingest").is_dir():
        raise FileNotFoundError(
            f"{asset_dir} holds no Lambda bundle (no qos_ingest/ in it); build it first with "
            "`python -m qos_ingest_infra.packaging --out <dir>`"
        )
    return asset_dir
