"""The ingest service's CloudFormation stack: CloudFront (WAF) -> REST API -> Lambda -> Kinesis,
and the hosted demo page.

Players post to the edge (`edge.py`): a CloudFront distribution protected by the web ACL of
`qos-<env>-ingest-waf` (`waf.py`, us-east-1), which forwards the viewer headers and the
origin-verify header to the regional API. Two secrets are generated at deploy time: the HMAC key
that pseudonymizes `user_id`, and the origin-verify value. The function reads both (their ARNs in
its environment) and may do nothing else with them.

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

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from qos_ingest_infra.demo_site import checked_site_dir
from qos_ingest_infra.edge import DemoPage, api_distribution, origin_verify_value
from qos_ingest_infra.stream_events import StreamEvents
from qos_ingest_infra.waf import WebAclArnReader
from qos_shared_cdk import blocks, checkov, ssm
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
# The contract with the function: the ARNs of its two secrets.
PSEUDONYM_KEY_ENV = "QOS_INGEST_PSEUDONYM_KEY_SECRET_ARN"
ORIGIN_SECRET_ENV = "QOS_INGEST_ORIGIN_SECRET_ARN"  # noqa: S105 - a variable name
# The HMAC key: 64 characters from letters and digits (about 380 bits).
PSEUDONYM_KEY_LENGTH = 64
# The origin-verify value: header-safe characters only.
ORIGIN_SECRET_LENGTH = 48
# What the hosted page plays unless told otherwise: Amazon IVS's public test stream.
DEFAULT_DEMO_STREAM_URL = (
    "https://fcc3ddae59ed.us-west-2.playback.live-video.net/api/video/v1/"
    "us-west-2.893648527354.channel.DmumNckWFTqz.m3u8"
)
DEFAULT_DEMO_CHANNEL = "demo"

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
        demo_site_dir: Path,
        cors_allow_origins: Sequence[str] | None = None,
        reserved_concurrency: int | None = 50,
        memory_mib: int = 512,
        stream_shards: int | None = None,
        origin_verify_version: str | None = None,
        demo_stream_url: str = DEFAULT_DEMO_STREAM_URL,
        demo_channel: str = DEFAULT_DEMO_CHANNEL,
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
        cors_allow_origins: the origins whose pages may post events (CORS); None (the default)
            allows the hosted demo page only; `["*"]` allows any page, and only when given.
        reserved_concurrency: the function's reserved concurrency, a cap on its cost and on
            what it takes from the account's pool; None reserves nothing (an account whose
            quota is too small to reserve from).
        memory_mib: the function's memory (CPU grows with it; `qos cost` prices it).
        stream_shards: None (the default) makes the event stream on-demand; a count makes it
            provisioned with that many shards (`qos_shared_cdk.scaling` derives one from an
            expected peak rate).
        origin_verify_version: the origin secret's version the distribution sends; None is
            AWSCURRENT. Set it to the new version id after a rotation (see `edge`).
        manage_api_gateway_account_role: API Gateway writes access logs through one role per
            account and region (`AWS::ApiGateway::Account`). Leave True while this is the
            platform's only REST API; set False where the account already has that role
            configured by someone else, since the last stack to set it wins.
        """
        origins = None if cors_allow_origins is None else _checked_origins(cors_allow_origins)
        blocks.check(
            reserved_concurrency is None or reserved_concurrency > 0,
            "reserved_concurrency must be positive (or None for no reservation)",
        )
        blocks.check(128 <= memory_mib <= 10_240, "memory_mib must be 128-10240")
        blocks.check(
            stream_shards is None or stream_shards >= 1, "stream_shards must be at least 1"
        )
        _check_throttling(throttle_rate_limit, throttle_burst_limit)
        _check_retention(stream_retention_hours)
        asset_dir = _checked_asset_dir(asset_dir)
        demo_site_dir = checked_site_dir(demo_site_dir)
        super().__init__(scope, construct_id, env_name, **options)
        # No fixed name: consumers read it from SSM, and CloudFormation can then replace the
        # stream, or the stack can be recreated next to the retained old stream, without a
        # name clash.
        self.stream = blocks.data_stream(
            self, "EventStream", stream_retention_hours, shards=stream_shards
        )
        self.pseudonym_key = _secret(self, "PseudonymKey", "user_id HMAC key", PSEUDONYM_KEY_LENGTH)
        self.origin_secret = _secret(
            self, "OriginVerifySecret", "CloudFront origin-verify header", ORIGIN_SECRET_LENGTH
        )
        web_acl_arn = WebAclArnReader(
            self, "WebAclArn", env_name=env_name, log_retention=log_retention
        ).arn
        self.demo = DemoPage(self, demo_site_dir, web_acl_arn=web_acl_arn)
        origins = origins or [self.demo.origin]
        self.function = _ingest_function(
            self,
            asset_dir,
            self.stream,
            origins,
            log_retention,
            secrets=(self.pseudonym_key, self.origin_secret),
            reserved_concurrency=reserved_concurrency,
            memory_mib=memory_mib,
        )
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
        self.distribution = api_distribution(
            self,
            self.api,
            origin_verify=origin_verify_value(self.origin_secret, origin_verify_version),
            cors_allow_origins=origins,
            web_acl_arn=web_acl_arn,
        )
        self.edge_url = f"https://{self.distribution.distribution_domain_name}/"
        self.demo.deploy_files(
            self,
            {
                "endpoint": f"{self.edge_url}v1/events",
                "channel": demo_channel,
                "src": demo_stream_url,
            },
            log_retention,
        )
        self._publish()

    def _publish(self) -> None:
        self.publish(
            {
                ssm.INGEST_STREAM_NAME: ("StreamNameParameter", self.stream.stream_name),
                ssm.INGEST_STREAM_ARN: ("StreamArnParameter", self.stream.stream_arn),
                ssm.INGEST_API_URL: ("ApiUrlParameter", self.api.url),
                ssm.INGEST_EDGE_URL: ("EdgeUrlParameter", self.edge_url),
                ssm.INGEST_DEMO_PAGE_URL: ("DemoPageUrlParameter", self.demo.url),
            },
        )
        CfnOutput(
            self,
            "ApiUrl",
            value=self.api.url,
            description="The regional API behind the edge (refuses requests not from it)",
        )
        CfnOutput(self, "EdgeUrl", value=self.edge_url, description="Base URL of the ingest edge")
        CfnOutput(
            self,
            "EventsUrl",
            value=f"{self.edge_url}v1/events",
            description="POST player events here",
        )
        CfnOutput(
            self, "DemoPageUrl", value=self.demo.url, description="The hosted demo player page"
        )
        CfnOutput(self, "StreamName", value=self.stream.stream_name)


def _ingest_function(
    scope: ServiceStack,
    asset_dir: Path,
    stream: kinesis.Stream,
    origins: list[str],
    log_retention: logs.RetentionDays,
    *,
    secrets: tuple[secretsmanager.ISecret, secretsmanager.ISecret],
    reserved_concurrency: int | None,
    memory_mib: int,
) -> lambda_.Function:
    pseudonym_key, origin_secret = secrets
    function = blocks.lambda_function(
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
            ),
            # The values only: no DescribeSecret, no version listing; the AWS-managed key
            # decrypts for Secrets Manager without a kms:* grant.
            iam.PolicyStatement(
                sid="ReadIngestSecrets",
                actions=["secretsmanager:GetSecretValue"],
                resources=[pseudonym_key.secret_arn, origin_secret.secret_arn],
            ),
        ],
        description=scope.describe(does="validate, enrich and forward player events"),
        tracing=True,
        memory_size=memory_mib,
        # API Gateway gives up after 29 s; 15 s leaves room for the sink's retries with backoff
        # while still failing well before the client does.
        timeout=Duration.seconds(15),
        reserved_concurrency=reserved_concurrency,
        environment={
            "QOS_INGEST_SINK": "kinesis",
            "QOS_INGEST_STREAM_NAME": stream.stream_name,
            "QOS_INGEST_CORS_ALLOW_ORIGINS": ",".join(origins),
            "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_METRICS_NAMESPACE,
            PSEUDONYM_KEY_ENV: pseudonym_key.secret_arn,
            ORIGIN_SECRET_ENV: origin_secret.secret_arn,
        },
    )
    checkov.skip(
        function,
        (
            "CKV_AWS_116",
            "invoked synchronously by API Gateway, which returns the error to the client; a DLQ "
            "serves async invokes only",
        ),
    )
    return function


def _secret(
    scope: ServiceStack, construct_id: str, what: str, length: int
) -> secretsmanager.Secret:
    """A generated secret of letters and digits, kept when the stack goes (a lost HMAC key
    would change every pseudonym)."""
    secret = secretsmanager.Secret(
        scope,
        construct_id,
        description=scope.describe(what),
        generate_secret_string=secretsmanager.SecretStringGenerator(
            password_length=length,
            exclude_punctuation=True,
            include_space=False,
        ),
        removal_policy=RemovalPolicy.RETAIN,
    )
    checkov.skip(
        secret,
        (
            "CKV_AWS_149",
            "the AWS-managed Secrets Manager key: one reader (the function's role, by ARN); a "
            "customer key would add a key policy and no reader restriction IAM does not give",
        ),
    )
    return secret


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
        added = _resource_for(api.root, path).add_method(method, integration)
        checkov.skip(
            added,
            (
                "CKV_AWS_59",
                "public by design (browsers post events): the function refuses requests without "
                "the edge's origin-verify header, and WAF guards the edge",
            ),
        )
    checkov.skip(
        api.deployment_stage,
        ("CKV_AWS_120", "every route posts events or checks health: nothing to cache"),
    )
    return api


def _resource_for(root: apigw.IResource, path: str) -> apigw.IResource:
    resource = root
    for part in path.strip("/").split("/"):
        resource = resource.get_resource(part) or resource.add_resource(part)
    return resource


def _access_log_format() -> apigw.AccessLogFormat:
    # JSON so that Logs Insights can query it; the X-Ray trace id links a slow request to its
    # trace, and the integration fields tell an API Gateway error from a Lambda one. No client
    # IP (behind CloudFront it would be an edge's, but a direct caller's would be personal data).
    field = apigw.AccessLogField
    return apigw.AccessLogFormat.custom(
        json.dumps(
            {
                "requestId": field.context_request_id(),
                "requestTime": field.context_request_time_epoch(),
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
