"""The building blocks every service stack repeats: its base class, roles, buckets, statements.

Each block creates its resources in the scope it is given, under the construct id it is given
(nothing is nested in a wrapper construct), so a stack that moves to a block keeps every logical
ID, and an update replaces nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Required, TypedDict, Unpack

from aws_cdk import Aspects, CustomResource, Duration, Environment, RemovalPolicy, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import custom_resources as cr
from constructs import Construct

from qos_shared_cdk import checkov
from qos_shared_cdk.ssm import Parameter, check_env_name

# What a consumer of a Kinesis stream needs (Firehose, Flink); no Put.
STREAM_READ_ACTIONS = (
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
)


def check(ok: bool, message: str) -> None:
    """Refuse a setting before synthesis (a ValueError naming it), never half-way through."""
    if not ok:
        raise ValueError(message)


class Options(TypedDict, total=False):
    """What every service stack takes besides its settings (as `aws_cdk.Stack` does)."""

    env: Environment | None
    stack_name: str | None
    description: str | None


class ServiceStack(Stack):
    """A service's stack: named `qos-<env>-<service>`, tagged, wired to others through SSM only.

    A subclass names its `service` (as in the SSM names), its `label` (as in descriptions) and a
    one-line `summary` (the default stack description). `read` resolves another stack's SSM
    parameter at deploy time and remembers it (`reads`), so the standalone app can check, before
    deploying, that the writer was deployed first, and the composed app can order the stacks.
    """

    service: str
    label: str
    summary: str

    def __init__(
        self, scope: Construct, id: str, env_name: str, **options: Unpack[Options]
    ) -> None:
        check_env_name(env_name)
        super().__init__(
            scope,
            id,
            env=options.get("env"),
            stack_name=options.get("stack_name"),
            description=options.get("description")
            or f"QoS {self.label} ({env_name}): {self.summary}",
        )
        Tags.of(self).add("qos:env", env_name)
        Tags.of(self).add("qos:service", self.service)
        Aspects.of(self).add(checkov.Platform())
        self.env_name = env_name
        self.reads: list[Parameter] = []

    def describe(self, what: str = "", *, does: str = "") -> str:
        """A description in the platform's one style: `QoS <label> (<env>)`, then what the
        resource is (`QoS lake (dev) queries`) and/or, after a colon, what it does
        (`QoS realtime (dev): event-time window KPIs`)."""
        text = f"QoS {self.label} ({self.env_name})"
        if what:
            text += f" {what}"
        return f"{text}: {does}" if does else text

    @property
    def resource_name(self) -> str:
        """`qos-<env>-<label>`: the name of the stack's main resources (API, delivery stream,
        workgroup, application, dashboard)."""
        return f"qos-{self.env_name}-{self.label}"

    def read(self, parameter: Parameter) -> str:
        """The parameter's value (a CloudFormation parameter resolved at deploy time)."""
        self.reads.append(parameter)
        return ssm.StringParameter.value_for_string_parameter(self, parameter.name(self.env_name))

    def publish(self, published: Mapping[Parameter, tuple[str, str]]) -> None:
        """One SSM parameter per `parameter: (construct id, value)`; each must be this
        service's own (`/qos/<env>/<service>/<resource>`)."""
        for parameter, (construct_id, value) in published.items():
            check(parameter.service == self.service, f"{parameter} is not {self.service}'s")
            ssm.StringParameter(
                self,
                construct_id,
                parameter_name=parameter.name(self.env_name),
                string_value=value,
                description=self.describe(does=parameter.resource),
            )


class LambdaRole(iam.Role):
    """A function's role that may write to its own log group only.

    An explicit role instead of CDK's default one, which attaches AWSLambdaBasicExecutionRole
    (logs on every log group in the account).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        log_group: logs.ILogGroup | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
        )
        if log_group is not None:
            log_group.grant_write(self)


class FirehoseDeliveryRole(iam.Role):
    """The role a Firehose delivery stream assumes, for this account's streams only."""

    def __init__(self, scope: Construct, construct_id: str, *, description: str) -> None:
        super().__init__(
            scope,
            construct_id,
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com",
                conditions={"StringEquals": {"sts:ExternalId": Stack.of(scope).account}},
            ),
            description=description,
        )


def log_group(scope: Construct, construct_id: str, retention: logs.RetentionDays) -> logs.LogGroup:
    """A log group with a retention (never a LogRetention custom resource)."""
    return logs.LogGroup(scope, construct_id, retention=retention)


class FunctionSettings(TypedDict, total=False):
    """A function's own settings; X-Ray tracing is off unless `tracing` is true, and nothing of
    the account's concurrency is reserved unless `reserved_concurrency` says how much."""

    description: Required[str]
    memory_size: Required[int]
    timeout: Required[Duration]
    environment: Required[Mapping[str, str]]
    tracing: bool
    reserved_concurrency: int | None


def python_function(
    scope: Construct,
    construct_id: str,
    code: tuple[str, Path],
    role: iam.IRole,
    log_group: logs.ILogGroup,
    **settings: Unpack[FunctionSettings],
) -> lambda_.Function:
    """A Python 3.12 x86_64 function running `code` (handler, bundle directory built by
    `qos_shared_cdk.packaging`) as `role`, logging to `log_group`."""
    handler, asset_dir = code
    return lambda_.Function(
        scope,
        construct_id,
        description=settings["description"],
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=lambda_.Architecture.X86_64,
        handler=handler,
        code=lambda_.Code.from_asset(str(asset_dir)),
        role=role,
        log_group=log_group,
        tracing=lambda_.Tracing.ACTIVE if settings.get("tracing") else None,
        memory_size=settings["memory_size"],
        timeout=settings["timeout"],
        environment=dict(settings["environment"]),
        reserved_concurrent_executions=settings.get("reserved_concurrency"),
    )


def lambda_function(
    scope: Construct,
    construct_id: str,
    code: tuple[str, Path],
    *,
    log_retention: logs.RetentionDays,
    role_description: str,
    statements: Sequence[iam.PolicyStatement] = (),
    **settings: Unpack[FunctionSettings],
) -> lambda_.Function:
    """A function with its own log group (`<id>Logs`) and a role (`<id>Role`) that may write
    there and do what `statements` allow, nothing else (`LambdaRole`)."""
    logs_ = log_group(scope, f"{construct_id}Logs", log_retention)
    role = LambdaRole(scope, f"{construct_id}Role", description=role_description, log_group=logs_)
    for statement in statements:
        role.add_to_policy(statement)
    return python_function(scope, construct_id, code, role, logs_, **settings)


def custom_resource(
    scope: Construct,
    construct_id: str,
    on_event: lambda_.IFunction,
    *,
    resource_type: str,
    properties: Mapping[str, Any],
    log_retention: logs.RetentionDays,
    depends_on: Sequence[Construct] = (),
) -> CustomResource:
    """A custom resource (`construct_id`) of `resource_type` whose Create, Update and Delete run
    `on_event` through the CDK `Provider` framework (`<id>Provider`, logging to its own group
    `<id>ProviderLogs`), created after everything in `depends_on`.

    The framework's function answers CloudFormation, so a handler returns or raises and never
    sends the response itself; a raised error's message becomes the failure reason.
    """
    provider = cr.Provider(
        scope,
        f"{construct_id}Provider",
        on_event_handler=on_event,
        log_group=log_group(scope, f"{construct_id}ProviderLogs", log_retention),
    )
    resource = CustomResource(
        scope,
        construct_id,
        service_token=provider.service_token,
        resource_type=resource_type,
        properties=dict(properties),
    )
    for dependency in depends_on:
        resource.node.add_dependency(dependency)
    framework = provider.node.try_find_child("framework-onEvent")
    for function in (on_event, framework):
        if isinstance(function, lambda_.Function):
            checkov.skip(function, *checkov.DEPLOY_TIME)
    return resource


def failure_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    """A queue that keeps what a function could not process (failed batches' ARNs, dead
    letters): SSE-SQS, TLS only, kept 14 days, SQS's longest."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    checkov.skip(queue, checkov.SSE_SQS_QUEUE)
    return queue


def on_demand_stream(
    scope: Construct, construct_id: str, retention_hours: int = 24
) -> kinesis.Stream:
    """An on-demand Kinesis stream encrypted with the AWS-managed key.

    On-demand: no shards to size before a traffic peak. The AWS-managed key gives encryption at
    rest with no key policy to maintain and no kms:* grants for producers or consumers.
    """
    return data_stream(scope, construct_id, retention_hours)


def data_stream(
    scope: Construct, construct_id: str, retention_hours: int = 24, *, shards: int | None = None
) -> kinesis.Stream:
    """A Kinesis stream encrypted with the AWS-managed key: on-demand without `shards`, else
    provisioned with that many (cheaper under a steady, known rate: docs/cost.md)."""
    check(shards is None or shards >= 1, "shards must be at least 1")
    return kinesis.Stream(
        scope,
        construct_id,
        stream_mode=kinesis.StreamMode.ON_DEMAND
        if shards is None
        else kinesis.StreamMode.PROVISIONED,
        shard_count=shards,
        encryption=kinesis.StreamEncryption.MANAGED,
        retention_period=Duration.hours(retention_hours),
    )


def private_bucket(
    scope: Construct,
    construct_id: str,
    lifecycle_rules: Sequence[s3.LifecycleRule],
    *,
    versioned: bool = False,
) -> s3.Bucket:
    """SSE-S3, public access blocked, TLS only, owner-enforced, kept when the stack goes;
    `versioned` keeps overwritten and deleted objects (give it a noncurrent-version rule)."""
    return s3.Bucket(
        scope,
        construct_id,
        versioned=versioned,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[abort_incomplete_uploads(), *lifecycle_rules],
        removal_policy=RemovalPolicy.RETAIN,
    )


def abort_incomplete_uploads() -> s3.LifecycleRule:
    return s3.LifecycleRule(
        id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=Duration.days(7)
    )


def read_stream(stream_arn: str, sid: str = "ReadIngestStream") -> iam.PolicyStatement:
    """Consume a Kinesis stream (describe, list shards, get records), nothing more."""
    return iam.PolicyStatement(sid=sid, actions=list(STREAM_READ_ACTIONS), resources=[stream_arn])


def locate_bucket(bucket: s3.IBucket) -> iam.PolicyStatement:
    """What Firehose asks of a destination bucket before it writes objects."""
    return iam.PolicyStatement(
        sid="LocateBucket",
        actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
        resources=[bucket.bucket_arn],
    )


def write_objects(sid: str, bucket: s3.IBucket, prefixes: Sequence[str]) -> iam.PolicyStatement:
    """Put (and abort multipart uploads of) objects under these prefixes only."""
    return iam.PolicyStatement(
        sid=sid,
        actions=["s3:PutObject", "s3:AbortMultipartUpload"],
        resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes],
    )


def firehose_policy(
    scope: Construct,
    role: iam.IRole,
    *,
    source_arn: str,
    destination: Sequence[iam.PolicyStatement],
    bucket: s3.IBucket,
    bucket_writes: tuple[str, Sequence[str]],
    log_group: logs.ILogGroup,
) -> iam.Policy:
    """The delivery role's one policy (`FirehosePolicy`): read the source stream, what the
    `destination` needs, find the bucket and write under its prefixes (`bucket_writes`: the
    statement's sid and the prefixes), log to its group."""
    sid, prefixes = bucket_writes
    return iam.Policy(
        scope,
        "FirehosePolicy",
        roles=[role],
        statements=[
            read_stream(source_arn),
            *destination,
            locate_bucket(bucket),
            write_objects(sid, bucket, prefixes),
            write_logs(log_group),
        ],
    )


def kinesis_delivery_stream(
    stack: ServiceStack,
    source_arn: str,
    role: iam.IRole,
    policy: iam.Policy,
    **destination: Any,
) -> firehose.CfnDeliveryStream:
    """The stack's delivery stream (`DeliveryStream`, named `qos-<env>-<label>`): the Kinesis
    stream `source_arn`, read as `role`, into `destination` (its one
    `<kind>_destination_configuration` keyword). Created after the role's `policy`: Firehose
    checks the role's access when it creates the stream."""
    stream = firehose.CfnDeliveryStream(
        stack,
        "DeliveryStream",
        delivery_stream_name=stack.resource_name,
        delivery_stream_type="KinesisStreamAsSource",
        kinesis_stream_source_configuration=(
            firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=source_arn, role_arn=role.role_arn
            )
        ),
        **destination,
    )
    stream.node.add_dependency(policy)
    return stream


class FirehoseLogs:
    """A delivery stream's error logging: the log group `FirehoseLogs` and one named log stream
    per destination (`streams`: construct id -> log stream name), created in that order."""

    def __init__(
        self, scope: Construct, retention: logs.RetentionDays, streams: Mapping[str, str]
    ) -> None:
        self.group = log_group(scope, "FirehoseLogs", retention)
        self.streams = {
            name: logs.LogStream(scope, construct_id, log_group=self.group, log_stream_name=name)
            for construct_id, name in streams.items()
        }

    def options(
        self, log_stream_name: str
    ) -> firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty:
        """A destination's logging options: into the group, on the stream of this name."""
        return firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
            enabled=True,
            log_group_name=self.group.log_group_name,
            log_stream_name=self.streams[log_stream_name].log_stream_name,
        )


# Firehose's bound on the buffering interval, for every destination.
MAX_BUFFER_INTERVAL_SECONDS = 900


@dataclass(frozen=True)
class Buffering:
    """When a Firehose destination writes: after `size_mib` MiB or `interval_seconds`, whichever
    comes first. The size's bounds depend on the destination and stay with its stack; the
    interval's (0-900) are Firehose's own, checked here."""

    size_mib: int
    interval_seconds: int

    def __post_init__(self) -> None:
        check(
            0 <= self.interval_seconds <= MAX_BUFFER_INTERVAL_SECONDS,
            f"buffer_interval_seconds: 0-{MAX_BUFFER_INTERVAL_SECONDS}",
        )

    def hints(self) -> firehose.CfnDeliveryStream.BufferingHintsProperty:
        """As an S3 destination's buffering hints."""
        return firehose.CfnDeliveryStream.BufferingHintsProperty(
            size_in_m_bs=self.size_mib, interval_in_seconds=self.interval_seconds
        )

    def opensearch_hints(
        self,
    ) -> firehose.CfnDeliveryStream.AmazonopensearchserviceBufferingHintsProperty:
        """As an OpenSearch Service destination's buffering hints."""
        return firehose.CfnDeliveryStream.AmazonopensearchserviceBufferingHintsProperty(
            size_in_m_bs=self.size_mib, interval_in_seconds=self.interval_seconds
        )


def write_logs(log_group: logs.ILogGroup) -> iam.PolicyStatement:
    """Firehose's delivery logging: PutLogEvents into its own group."""
    return iam.PolicyStatement(
        sid="WriteLogs", actions=["logs:PutLogEvents"], resources=[log_group.log_group_arn]
    )
