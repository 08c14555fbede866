"""The realtime service's CloudFormation stack: Flink windows -> metric-row stream -> CloudWatch.

- the Managed Service for Apache Flink application (the PyFlink job's zip as an S3 asset), reading
  the ingest stream whose ARN the ingest stack publishes in SSM (`/qos/<env>/ingest/stream-arn`,
  resolved at deploy time: no CloudFormation export, so either stack deploys alone);
- the on-demand Kinesis streams it writes: metric rows, and the records of closed views
  (`qos_shared.views`, one JSON object each), which the lake and the search index read;
- the publisher Lambda on that stream (partial batch responses, bisect on error, an SQS queue for
  what is given up on) with `cloudwatch:PutMetricData` limited to its namespaces;
- the dashboard and alarms generated from the metric catalogue (see `dashboard`), an SNS topic
  for the alarms and, if an address is given, its e-mail subscription;
- the application's lifecycle (`Custom::QosFlinkApplicationLifecycle`, a Lambda of the service
  behind the CDK `Provider` framework): after every deploy that creates or changes the
  application it starts it (StartApplication, unless it runs already) and waits for RUNNING;
  before the application is deleted it stops it and waits for READY (ADR 0012);
- SSM parameters `/qos/<env>/realtime/<resource>` for what other stacks or people need.
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Unpack

from aws_cdk import ArnFormat, CfnOutput, CustomResource, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisanalyticsv2 as flink
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from qos_realtime_infra.dashboard import (
    DEFAULT_ALARM_THRESHOLDS,
    alarm_metric,
    check_alarm_thresholds,
    comparison,
    dashboard_widgets,
)
from qos_realtime_infra.service_code import (
    DEFAULT_NAMESPACE,
    HANDLER,
    LIFECYCLE_HANDLER,
    PublisherConfig,
)
from qos_shared.views import DEFAULT_RULES
from qos_shared_cdk import blocks, checkov, ssm
from qos_shared_cdk.blocks import Options, ServiceStack, check

SERVICE = ssm.REALTIME
POWERTOOLS_SERVICE_NAME = "qos-realtime-publisher"
POWERTOOLS_METRICS_NAMESPACE = "QoS/Realtime"
LIFECYCLE_SERVICE_NAME = "qos-realtime-lifecycle"
LIFECYCLE_RESOURCE_TYPE = "Custom::QosFlinkApplicationLifecycle"
# The lifecycle Lambda polls the application every 10 s for up to 13 min (MSF takes minutes to
# start or stop a job), within the 15 min a Lambda (and the Provider framework's) may run.
LIFECYCLE_POLL_SECONDS = 10
LIFECYCLE_TIMEOUT_SECONDS = 780
LIFECYCLE_FORCE_STOP_AFTER_SECONDS = 300
DEFAULT_FLINK_RUNTIME = "FLINK-2_2"  # what flink/pom.xml builds the connector jar for
# Read by the job's main.py (entrypoints/flink_job.py); MSF's own group names its entrypoint.
FLINK_PROPERTY_GROUP = "qos.realtime"
FLINK_RUN_OPTIONS_GROUP = "kinesis.analytics.flink.run.options"

# Kinesis -> publisher: up to 500 rows (about 1,000 metric data, one or two PutMetricData calls)
# or 5 s, whichever comes first; a failing batch is split to find the bad record, and records
# still failing after 10 retries or 6 h go to the queue.
PUBLISHER_EVENT_SOURCE: dict[str, Any] = {
    "starting_position": lambda_.StartingPosition.TRIM_HORIZON,
    "batch_size": 500,
    "max_batching_window": Duration.seconds(5),
    "bisect_batch_on_error": True,
    "report_batch_item_failures": True,
    "retry_attempts": 10,
    "max_record_age": Duration.hours(6),
}

_FLINK_RUNTIME = re.compile(r"^FLINK-\d+_\d+$")
# One address, no display name: what an SNS e-mail subscription takes.
_EMAIL = re.compile(r"^[^@\s<>(),;:\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class RealtimeStack(ServiceStack):
    """The Flink job, its output stream, the CloudWatch publisher, dashboard and alarms."""

    service = SERVICE
    label = "realtime"
    summary = "Flink windows, metric-row stream, CloudWatch publisher"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        lambda_asset_dir: Path,
        flink_application_zip: Path,
        flink_runtime: str = DEFAULT_FLINK_RUNTIME,
        flink_parallelism: int = 1,
        flink_parallelism_per_kpu: int = 1,
        flink_auto_scaling: bool = True,
        publisher_memory_mib: int = 256,
        publisher_reserved_concurrency: int | None = None,
        window_seconds: int = 60,
        allowed_lateness_seconds: float = 5.0,
        dedupe_ttl_seconds: int = 3600,
        view_timeout_seconds: int = DEFAULT_RULES.timeout_ms // 1000,
        view_max_length_seconds: int = DEFAULT_RULES.max_length_ms // 1000,
        revision_horizon_seconds: int = 600,
        namespace: str = DEFAULT_NAMESPACE,
        legacy_namespace: str | None = None,
        legacy_metrics: bool = True,
        channels: Sequence[str] = (),
        alarm_thresholds: Mapping[str, float] | None = None,
        alarm_evaluation_periods: int = 5,
        alarm_datapoints_to_alarm: int = 3,
        alarm_email: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        **options: Unpack[Options],
    ) -> None:
        """Args beyond the obvious:

        flink_application_zip: the PyFlink job's application zip (`main.py` at its root and one
            connector jar, found and named in the run options).
        flink_runtime: MSF's runtime environment; must match the connector jar's Flink version.
        flink_parallelism / flink_parallelism_per_kpu / flink_auto_scaling: the job's starting
            parallelism, tasks per KPU (KPUs = parallelism / per KPU, rounded up), and whether
            Managed Flink scales it with CPU use (`qos_shared_cdk.scaling`).
        publisher_memory_mib / publisher_reserved_concurrency: the CloudWatch publisher
            function's memory and reservation (None: nothing reserved).
        window_seconds / allowed_lateness_seconds: the job's tumbling window and watermark delay.
        dedupe_ttl_seconds: how long the job remembers an event_id to drop its duplicates (more
            than the lateness plus Kinesis' redelivery horizon; state grows with it).
        view_timeout_seconds / view_max_length_seconds: the views' rules (`qos_shared.views`):
            a view closes this long after its last record (its KPIs come that much later), and
            no view spans a multiple of the maximum length since the epoch.
        revision_horizon_seconds: a record later than the lateness whose window ended less than
            this before the watermark becomes corrections of that window (ADR 16); 0: none.
        legacy_namespace / legacy_metrics: where the original five metric names go (default: the
            same namespace), or False to publish them nowhere.
        channels: channel_watched values published with a `Channel` dimension (others are not).
        alarm_thresholds: catalogue metric -> threshold in its CloudWatch unit; replaces the
            defaults (`DEFAULT_ALARM_THRESHOLDS`) wholesale.
        alarm_email: an address the alarm topic e-mails (the subscription is confirmed from
            the first message); None: no subscription.
        """
        check(_FLINK_RUNTIME.fullmatch(flink_runtime) is not None, "flink_runtime: FLINK-x_y")
        check(5 <= window_seconds <= 3600, "window_seconds must be between 5 and 3600")
        check(
            0 <= allowed_lateness_seconds <= 3600 and math.isfinite(allowed_lateness_seconds),
            "allowed_lateness_seconds must be between 0 and 3600",
        )
        check(
            allowed_lateness_seconds < dedupe_ttl_seconds <= 7 * 86_400,
            "dedupe_ttl_seconds must exceed the allowed lateness, and be at most 7 days",
        )
        check(
            1 <= view_timeout_seconds <= view_max_length_seconds <= 7 * 86_400,
            "view_timeout_seconds must be at least 1 s and at most view_max_length_seconds, "
            "itself at most 7 days",
        )
        check(
            0 <= revision_horizon_seconds <= 14 * 86_400,
            "revision_horizon_seconds must be between 0 and 14 days (CloudWatch takes no older"
            " datapoint)",
        )
        check(flink_parallelism >= 1 and flink_parallelism_per_kpu >= 1, "parallelism >= 1")
        check(128 <= publisher_memory_mib <= 10_240, "publisher_memory_mib must be 128-10240")
        check(
            publisher_reserved_concurrency is None or publisher_reserved_concurrency > 0,
            "publisher_reserved_concurrency must be positive (or None for no reservation)",
        )
        check(
            1 <= alarm_datapoints_to_alarm <= alarm_evaluation_periods,
            "alarm_datapoints_to_alarm must be between 1 and alarm_evaluation_periods",
        )
        check(
            alarm_email is None or is_email_address(alarm_email),
            f"alarm_email: {alarm_email!r} is not an e-mail address (name@example.com)",
        )
        thresholds = check_alarm_thresholds(
            DEFAULT_ALARM_THRESHOLDS if alarm_thresholds is None else alarm_thresholds
        )
        jarfile = _checked_flink_zip(flink_application_zip)
        lambda_asset_dir = _checked_lambda_asset(lambda_asset_dir)
        config = PublisherConfig(
            namespace=namespace,
            legacy_namespace=legacy_namespace,
            legacy_metrics=legacy_metrics,
            channels=frozenset(channels),
        )
        super().__init__(scope, construct_id, env_name, **options)
        input_stream_arn = self.read(ssm.INGEST_STREAM_ARN)
        # Like the ingest stream: no shards to size, no key policy, no kms:* grants.
        self.metric_stream = blocks.on_demand_stream(self, "MetricRowStream")
        self.views_stream = blocks.on_demand_stream(self, "ViewStream")
        # What the job's main.py (qos_realtime.entrypoints.flink_job) reads: one property group.
        job_properties = {
            "input.stream.arn": input_stream_arn,
            "output.stream.arn": self.metric_stream.stream_arn,
            "views.stream.arn": self.views_stream.stream_arn,
            "aws.region": self.region,
            "window.seconds": str(window_seconds),
            "allowed.lateness.seconds": f"{allowed_lateness_seconds:g}",
            "dedupe.ttl.seconds": str(dedupe_ttl_seconds),
            "views.timeout.seconds": str(view_timeout_seconds),
            "views.max.length.seconds": str(view_max_length_seconds),
            "revision.horizon.seconds": str(revision_horizon_seconds),
        }
        self.application = self._flink_application(
            (flink_application_zip, jarfile),
            job_properties,
            runtime=flink_runtime,
            parallelism=(flink_parallelism, flink_parallelism_per_kpu),
            auto_scaling=flink_auto_scaling,
            log_retention=log_retention,
        )
        self.application_lifecycle = self._lifecycle(
            lambda_asset_dir,
            {
                "RuntimeEnvironment": flink_runtime,
                "Parallelism": f"{flink_parallelism}/{flink_parallelism_per_kpu}",
                "JobProperties": job_properties,
            },
            log_retention,
        )
        self.publisher = self._publisher(
            lambda_asset_dir,
            config,
            log_retention,
            memory_mib=publisher_memory_mib,
            reserved_concurrency=publisher_reserved_concurrency,
        )
        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=self.resource_name,
            widgets=dashboard_widgets(namespace),
        )
        self.alarm_topic = sns.Topic(self, "AlarmTopic", display_name=self.describe("alarms"))
        checkov.skip(
            self.alarm_topic,
            (
                "CKV_AWS_26",
                "alarm notices carry metric names and thresholds only; CloudWatch cannot publish "
                "to a topic under the AWS-managed SNS key, and a customer key is not worth it",
            ),
        )
        if alarm_email is not None:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms = {
            metric: self._alarm(
                namespace,
                metric,
                threshold,
                alarm_evaluation_periods,
                alarm_datapoints_to_alarm,
            )
            for metric, threshold in thresholds.items()
        }
        self._publish(namespace)

    # --- Flink --------------------------------------------------------------------------------

    def _flink_application(
        self,
        application_zip: tuple[Path, str],
        properties: dict[str, str],
        *,
        runtime: str,
        parallelism: tuple[int, int],
        auto_scaling: bool,
        log_retention: logs.RetentionDays,
    ) -> flink.CfnApplication:
        """The application running the zip (and its connector jar, `application_zip[1]`) with
        the job's `properties`; `parallelism` is (parallelism, parallelism per KPU)."""
        zip_path, jarfile = application_zip
        code = self.application_code = s3_assets.Asset(
            self, "FlinkApplicationCode", path=str(zip_path)
        )
        log_group = blocks.log_group(self, "FlinkLogs", log_retention)
        log_stream = logs.LogStream(self, "FlinkLogStream", log_group=log_group)
        log_stream_arn = self.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"{log_group.log_group_name}:log-stream:{log_stream.log_stream_name}",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

        role = iam.Role(
            self,
            "FlinkRole",
            assumed_by=iam.ServicePrincipal(
                "kinesisanalytics.amazonaws.com",
                # Only on behalf of this account's applications (confused deputy).
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
            description=self.describe("Flink application"),
        )
        statements = [
            blocks.read_stream(properties["input.stream.arn"]),
            iam.PolicyStatement(
                sid="WriteMetricRowAndViewStreams",
                actions=[
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:ListShards",
                    "kinesis:PutRecord",
                    "kinesis:PutRecords",
                ],
                resources=[self.metric_stream.stream_arn, self.views_stream.stream_arn],
            ),
            iam.PolicyStatement(
                sid="ReadApplicationCode",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[code.bucket.arn_for_objects(code.s3_object_key)],
            ),
            iam.PolicyStatement(
                sid="ListLogGroups",
                actions=["logs:DescribeLogGroups"],
                resources=[
                    self.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            ),
            iam.PolicyStatement(
                sid="ListLogStreams",
                actions=["logs:DescribeLogStreams"],
                resources=[log_group.log_group_arn],
            ),
            iam.PolicyStatement(
                sid="WriteLogs", actions=["logs:PutLogEvents"], resources=[log_stream_arn]
            ),
        ]
        policy = iam.Policy(self, "FlinkPolicy", statements=statements, roles=[role])

        application = flink.CfnApplication(
            self,
            "FlinkApplication",
            application_name=self.resource_name,
            application_description=self.describe(does="event-time window KPIs"),
            runtime_environment=runtime,
            service_execution_role=role.role_arn,
            application_configuration=flink.CfnApplication.ApplicationConfigurationProperty(
                application_code_configuration=flink.CfnApplication.ApplicationCodeConfigurationProperty(
                    code_content_type="ZIPFILE",
                    code_content=flink.CfnApplication.CodeContentProperty(
                        s3_content_location=flink.CfnApplication.S3ContentLocationProperty(
                            bucket_arn=code.bucket.bucket_arn, file_key=code.s3_object_key
                        )
                    ),
                ),
                environment_properties=flink.CfnApplication.EnvironmentPropertiesProperty(
                    property_groups=[
                        flink.CfnApplication.PropertyGroupProperty(
                            property_group_id=FLINK_RUN_OPTIONS_GROUP,
                            property_map={"python": "main.py", "jarfile": jarfile},
                        ),
                        flink.CfnApplication.PropertyGroupProperty(
                            property_group_id=FLINK_PROPERTY_GROUP, property_map=properties
                        ),
                    ]
                ),
                flink_application_configuration=flink.CfnApplication.FlinkApplicationConfigurationProperty(
                    checkpoint_configuration=flink.CfnApplication.CheckpointConfigurationProperty(
                        configuration_type="DEFAULT"
                    ),
                    monitoring_configuration=flink.CfnApplication.MonitoringConfigurationProperty(
                        configuration_type="CUSTOM", log_level="INFO", metrics_level="APPLICATION"
                    ),
                    parallelism_configuration=flink.CfnApplication.ParallelismConfigurationProperty(
                        configuration_type="CUSTOM",
                        parallelism=parallelism[0],
                        parallelism_per_kpu=parallelism[1],
                        auto_scaling_enabled=auto_scaling,
                    ),
                ),
                application_snapshot_configuration=flink.CfnApplication.ApplicationSnapshotConfigurationProperty(
                    snapshots_enabled=True
                ),
            ),
        )
        # The role must be able to read the code and the streams before MSF validates the app.
        application.node.add_dependency(policy)
        self.application_logging = flink.CfnApplicationCloudWatchLoggingOption(
            self,
            "FlinkLogging",
            application_name=application.ref,
            cloud_watch_logging_option=flink.CfnApplicationCloudWatchLoggingOption.CloudWatchLoggingOptionProperty(
                log_stream_arn=log_stream_arn
            ),
        )
        return application

    def _lifecycle(
        self, asset_dir: Path, configuration: dict[str, Any], log_retention: logs.RetentionDays
    ) -> CustomResource:
        """Start the application after every deploy that creates or changes it; stop it before
        it is deleted. Created after the application and its logging option (its configuration),
        so it runs after each update of either; its properties carry the code's asset hash and
        the configuration, so that a change of either is an Update of this resource too."""
        application_arn = self.format_arn(
            service="kinesisanalytics",
            resource="application",
            resource_name=self.application.ref,
        )
        function = blocks.lambda_function(
            self,
            "LifecycleFunction",
            (LIFECYCLE_HANDLER, asset_dir),
            description=self.describe(does="start the Flink application after deploy"),
            role_description=self.describe("Flink application lifecycle"),
            statements=[
                iam.PolicyStatement(
                    sid="StartStopFlinkApplication",
                    actions=[
                        "kinesisanalytics:DescribeApplication",
                        "kinesisanalytics:StartApplication",
                        "kinesisanalytics:StopApplication",
                    ],
                    resources=[application_arn],
                )
            ],
            log_retention=log_retention,
            memory_size=256,
            timeout=Duration.minutes(15),
            environment={
                "QOS_REALTIME_LIFECYCLE_POLL_SECONDS": str(LIFECYCLE_POLL_SECONDS),
                "QOS_REALTIME_LIFECYCLE_TIMEOUT_SECONDS": str(LIFECYCLE_TIMEOUT_SECONDS),
                "QOS_REALTIME_LIFECYCLE_FORCE_STOP_AFTER_SECONDS": str(
                    LIFECYCLE_FORCE_STOP_AFTER_SECONDS
                ),
                "POWERTOOLS_SERVICE_NAME": LIFECYCLE_SERVICE_NAME,
            },
        )
        return blocks.custom_resource(
            self,
            "ApplicationLifecycle",
            function,
            resource_type=LIFECYCLE_RESOURCE_TYPE,
            properties={
                "ApplicationName": self.application.ref,
                "CodeAssetHash": self.application_code.asset_hash,
                **configuration,
            },
            log_retention=log_retention,
            depends_on=[self.application, self.application_logging],
        )

    # --- the publisher ------------------------------------------------------------------------

    def _publisher(
        self,
        asset_dir: Path,
        config: PublisherConfig,
        log_retention: logs.RetentionDays,
        *,
        memory_mib: int,
        reserved_concurrency: int | None,
    ) -> lambda_.Function:
        environment = {
            "QOS_REALTIME_PUBLISHER_NAMESPACE": config.namespace,
            "QOS_REALTIME_PUBLISHER_LEGACY_METRICS": str(config.legacy_metrics).lower(),
            "QOS_REALTIME_PUBLISHER_CHANNELS": ",".join(sorted(config.channels)),
            "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_METRICS_NAMESPACE,
        }
        if config.legacy_namespace:
            environment["QOS_REALTIME_PUBLISHER_LEGACY_NAMESPACE"] = config.legacy_namespace
        # PutMetricData takes no resource ARN; the namespace condition is what limits it.
        put_metrics = iam.PolicyStatement(
            sid="PutQoSMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": list(config.namespaces)}},
        )
        function = blocks.lambda_function(
            self,
            "Publisher",
            (HANDLER, asset_dir),
            description=self.describe(does="metric rows -> CloudWatch metrics"),
            role_description=self.describe("CloudWatch publisher"),
            statements=[put_metrics],
            log_retention=log_retention,
            memory_size=memory_mib,
            reserved_concurrency=reserved_concurrency,
            # Room for the sink's retries (5 attempts, backoff capped at 5 s) on a few calls.
            timeout=Duration.seconds(60),
            environment=environment,
            tracing=True,
        )
        self.failed_batches = blocks.failure_queue(self, "PublisherFailures")
        checkov.skip(function, *checkov.KINESIS_CONSUMER)
        function.add_event_source(
            sources.KinesisEventSource(
                self.metric_stream,
                on_failure=sources.SqsDlq(self.failed_batches),
                **PUBLISHER_EVENT_SOURCE,
            )
        )
        return function

    # --- alarms and what others read ----------------------------------------------------------

    def _alarm(
        self,
        namespace: str,
        metric: str,
        threshold: float,
        evaluation_periods: int,
        datapoints_to_alarm: int,
    ) -> cw.Alarm:
        construct_id = "".join(part.capitalize() for part in metric.split("_")) + "Alarm"
        alarm = cw.Alarm(
            self,
            construct_id,
            alarm_name=f"{self.resource_name}-{metric.replace('_', '-')}",
            alarm_description=self.describe(does=f"{metric} crossed {threshold:g}"),
            metric=alarm_metric(namespace, metric),
            threshold=threshold,
            comparison_operator=comparison(metric),
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            # No viewers, no data: nothing is wrong with playback then.
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))
        alarm.add_ok_action(cw_actions.SnsAction(self.alarm_topic))
        return alarm

    def _publish(self, namespace: str) -> None:
        stream, application = self.metric_stream, self.application
        self.publish(
            {
                ssm.REALTIME_METRIC_STREAM_ARN: (
                    "MetricStreamArnParameter",
                    stream.stream_arn,
                ),
                ssm.REALTIME_METRIC_STREAM_NAME: (
                    "MetricStreamNameParameter",
                    stream.stream_name,
                ),
                ssm.REALTIME_VIEWS_STREAM_ARN: (
                    "ViewsStreamArnParameter",
                    self.views_stream.stream_arn,
                ),
                ssm.REALTIME_VIEWS_STREAM_NAME: (
                    "ViewsStreamNameParameter",
                    self.views_stream.stream_name,
                ),
                ssm.REALTIME_FLINK_APPLICATION_NAME: (
                    "FlinkApplicationNameParameter",
                    application.ref,
                ),
                ssm.REALTIME_CLOUDWATCH_NAMESPACE: ("NamespaceParameter", namespace),
                ssm.REALTIME_DASHBOARD_NAME: (
                    "DashboardNameParameter",
                    self.dashboard.dashboard_name,
                ),
                ssm.REALTIME_ALARM_TOPIC_ARN: (
                    "AlarmTopicArnParameter",
                    self.alarm_topic.topic_arn,
                ),
            },
        )
        CfnOutput(self, "FlinkApplicationName", value=self.application.ref)
        CfnOutput(self, "DashboardName", value=self.dashboard.dashboard_name)
        CfnOutput(self, "MetricStreamName", value=self.metric_stream.stream_name)
        CfnOutput(self, "ViewsStreamName", value=self.views_stream.stream_name)


def is_email_address(value: str) -> bool:
    """One plain address (`name@example.com`), as an SNS e-mail subscription takes it."""
    return _EMAIL.fullmatch(value) is not None


def _checked_flink_zip(path: Path) -> str:
    """The zip's connector jar (its path inside the zip); the zip must also have main.py."""
    if not path.is_file():
        raise FileNotFoundError(
            f"no Flink application zip at {path}: build it first (the realtime Flink packaging)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path} is not a zip file: {exc}") from None
    if "main.py" not in names:
        raise ValueError(f"{path} has no main.py at its root: not a PyFlink application zip")
    jars = sorted(name for name in names if name.endswith(".jar"))
    if len(jars) != 1:
        raise ValueError(f"{path} must hold exactly one connector jar, found {jars}")
    return jars[0]


def _checked_lambda_asset(asset_dir: Path) -> Path:
    asset_dir = asset_dir.resolve()
    if not (asset_dir / HANDLER.rsplit(".", 1)[0].replace(".", "/")).with_suffix(".py").is_file():
        raise FileNotFoundError(
            f"{asset_dir} holds no publisher bundle; build it first with "
            "`python -m qos_realtime_infra.packaging --out <dir>`"
        )
    return asset_dir
