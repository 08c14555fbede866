"""Amazon IVS stream events into the ingest stream: an EventBridge rule and its function.

The rule matches `source: aws.ivs` events of detail-type "IVS Stream State Change" and "IVS
Stream Health Change" on the account's default bus and invokes a small function (the ingest
code asset, handler `qos_ingest.entrypoints.eventbridge_handler.handler`) that turns each into a
stored record and puts it into the ingest stream through the same sink as the API's events.

Nothing is lost silently: the rule's target retries delivery for up to a day and then sends the
event to a dead-letter queue; the function's own failures (the stream did not take the record)
are retried by Lambda's asynchronous invocation and then sent to the same queue. Both queues
are encrypted and keep messages 14 days. A retried event keeps its record id (derived from the
EventBridge id), so the consumers store it once.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from constructs import Construct

from qos_shared_cdk import blocks, checkov
from qos_shared_cdk.blocks import ServiceStack

HANDLER = "qos_ingest.entrypoints.eventbridge_handler.handler"
SOURCE = "aws.ivs"
DETAIL_TYPES = ("IVS Stream State Change", "IVS Stream Health Change")
POWERTOOLS_SERVICE_NAME = "qos-ingest-stream-events"
# EventBridge retries a failed delivery with backoff for up to a day (its maximum), then the
# event goes to the dead-letter queue.
TARGET_MAX_EVENT_AGE = Duration.hours(24)
TARGET_RETRY_ATTEMPTS = 185  # EventBridge's maximum: the age above is the real bound
# Lambda's own retries of a failed invocation (its maximum), within six hours.
FUNCTION_RETRY_ATTEMPTS = 2
FUNCTION_MAX_EVENT_AGE = Duration.hours(6)
# A channel's events are a few per stream: a handful of concurrent invocations is plenty, and the
# cap keeps a flood (or a bug) from taking the account's concurrency.
RESERVED_CONCURRENCY = 5


class StreamEvents(Construct):
    """The EventBridge rule for IVS stream events, its function and their dead-letter queue."""

    def __init__(
        self,
        scope: ServiceStack,
        construct_id: str,
        *,
        asset_dir: Path,
        stream: kinesis.IStream,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = blocks.failure_queue(self, "DeadLetters")
        self.function = blocks.lambda_function(
            self,
            "Handler",
            (HANDLER, asset_dir),
            log_retention=log_retention,
            role_description=scope.describe("IVS stream events handler"),
            statements=[
                iam.PolicyStatement(
                    sid="PutStreamEventsOnIngestStream",
                    actions=["kinesis:PutRecords"],
                    resources=[stream.stream_arn],
                )
            ],
            description=scope.describe(does="store Amazon IVS stream events (EventBridge)"),
            tracing=True,
            memory_size=256,
            timeout=Duration.seconds(30),
            environment={
                "QOS_INGEST_SINK": "kinesis",
                "QOS_INGEST_STREAM_NAME": stream.stream_name,
                "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": "QoS/Ingest",
            },
        )
        self.function.configure_async_invoke(
            retry_attempts=FUNCTION_RETRY_ATTEMPTS,
            max_event_age=FUNCTION_MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        checkov.skip(
            self.function,
            (
                "CKV_AWS_116",
                "invoked asynchronously by EventBridge; its on-failure destination (the "
                "dead-letter queue) keeps what the retries could not store, a function DLQ's job",
            ),
        )
        cfn_function = self.function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        cfn_function.reserved_concurrent_executions = RESERVED_CONCURRENCY
        self.rule = events.Rule(
            self,
            "Rule",
            description=scope.describe(does="Amazon IVS stream state and health changes"),
            event_pattern=events.EventPattern(source=[SOURCE], detail_type=list(DETAIL_TYPES)),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letters,
                    max_event_age=TARGET_MAX_EVENT_AGE,
                    retry_attempts=TARGET_RETRY_ATTEMPTS,
                )
            ],
        )
