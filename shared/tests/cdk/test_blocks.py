"""The building blocks, synthesized: what each puts in a template, under the ids it was given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from qos_shared_cdk import blocks, ssm
from qos_shared_cdk.testing.template import (
    actions,
    assert_private_bucket,
    bad_settings_test,
    only,
    provider_framework_function,
    role_statements,
    ssm_parameters,
)

HANDLER = "app.handler"
SOURCE_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/s"


class Demo(blocks.ServiceStack):
    service = ssm.LAKE
    label = "lake"
    summary = "blocks"


@pytest.fixture(scope="module")
def resources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    asset = tmp_path_factory.mktemp("asset")
    (asset / "app.py").write_text("def handler(event, context):\n    return None\n")
    stack = Demo(App(context={"aws:cdk:disable-asset-staging": True}), "qos-test-lake", "test")
    stack.read(ssm.INGEST_STREAM_ARN)
    stack.publish({ssm.LAKE_TABLE: ("TableParameter", "events")})
    log_group = blocks.log_group(stack, "FunctionLogs", logs.RetentionDays.ONE_WEEK)
    role = blocks.LambdaRole(stack, "FunctionRole", description="fn", log_group=log_group)
    blocks.python_function(
        stack,
        "Function",
        (HANDLER, Path(asset)),
        role,
        log_group,
        description="fn",
        memory_size=256,
        timeout=Duration.seconds(30),
        environment={"A": "1"},
        tracing=True,
    )
    firehose_role = blocks.FirehoseDeliveryRole(stack, "FirehoseRole", description="fh")
    bucket = blocks.private_bucket(
        stack, "Bucket", [s3.LifecycleRule(id="Expire", expiration=Duration.days(3))]
    )
    policy = iam.Policy(
        stack,
        "FirehosePolicy",
        roles=[firehose_role],
        statements=[
            blocks.read_stream(SOURCE_ARN),
            blocks.locate_bucket(bucket),
            blocks.write_objects("WriteObjects", bucket, ("data/", "errors/")),
            blocks.write_logs(log_group),
        ],
    )
    blocks.on_demand_stream(stack, "Stream", retention_hours=48)
    firehose_logs = blocks.FirehoseLogs(
        stack, logs.RetentionDays.ONE_WEEK, {"FirehoseLogStream": "S3Delivery"}
    )
    destination = firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
        bucket_arn=bucket.bucket_arn,
        role_arn=firehose_role.role_arn,
        buffering_hints=blocks.Buffering(size_mib=64, interval_seconds=300).hints(),
        cloud_watch_logging_options=firehose_logs.options("S3Delivery"),
    )
    blocks.kinesis_delivery_stream(
        stack, SOURCE_ARN, firehose_role, policy, extended_s3_destination_configuration=destination
    )
    found: dict[str, dict[str, Any]] = Template.from_stack(stack).to_json()["Resources"]
    return found


def test_blocks_keep_the_ids_they_are_given(resources: dict[str, dict[str, Any]]) -> None:
    given = (
        "FunctionLogs",
        "FunctionRole",
        "Function",
        "FirehoseRole",
        "Stream",
        "TableParameter",
        "FirehoseLogs",
        "FirehoseLogStream",
        "DeliveryStream",
    )
    for construct_id in given:
        assert any(rid.startswith(construct_id) for rid in resources), construct_id


def test_stack_tags_description_and_parameters(resources: dict[str, dict[str, Any]]) -> None:
    demo = Demo(App(), "S", "qa")
    assert demo.template_options.description == "QoS lake (qa): blocks"
    assert demo.resource_name == "qos-qa-lake"
    assert ssm_parameters(resources) == {"/qos/test/lake/table": "events"}
    _, parameter = only(resources, "AWS::SSM::Parameter")
    assert parameter["Properties"]["Description"] == "QoS lake (test): table"
    assert parameter["Properties"]["Tags"] == {"qos:env": "test", "qos:service": "lake"}


def test_descriptions_name_the_service_and_the_environment() -> None:
    demo = Demo(App(), "S", "qa")
    assert demo.describe() == "QoS lake (qa)"
    assert demo.describe("queries") == "QoS lake (qa) queries"
    assert demo.describe(does="Parquet on S3") == "QoS lake (qa): Parquet on S3"
    assert demo.describe("Firehose role", does="read") == "QoS lake (qa) Firehose role: read"


def test_delivery_stream_reads_the_source_after_the_policy_and_logs_to_its_stream(
    resources: dict[str, dict[str, Any]],
) -> None:
    stream_id, stream = only(resources, "AWS::KinesisFirehose::DeliveryStream")
    assert stream_id == "DeliveryStream"
    props = stream["Properties"]
    assert props["DeliveryStreamName"] == "qos-test-lake"
    assert props["DeliveryStreamType"] == "KinesisStreamAsSource"
    (role_id,) = [rid for rid in resources if rid.startswith("FirehoseRole")]
    assert props["KinesisStreamSourceConfiguration"] == {
        "KinesisStreamARN": SOURCE_ARN,
        "RoleARN": {"Fn::GetAtt": [role_id, "Arn"]},
    }
    (policy_id,) = [rid for rid in resources if rid.startswith("FirehosePolicy")]
    assert policy_id in stream["DependsOn"]
    destination = props["ExtendedS3DestinationConfiguration"]
    assert destination["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 300}
    (group_id,) = [rid for rid in resources if rid.startswith("FirehoseLogs")]
    (log_stream_id, log_stream), *others = [
        (rid, r) for rid, r in resources.items() if r["Type"] == "AWS::Logs::LogStream"
    ]
    assert not others
    assert log_stream["Properties"] == {
        "LogGroupName": {"Ref": group_id},
        "LogStreamName": "S3Delivery",
    }
    assert destination["CloudWatchLoggingOptions"] == {
        "Enabled": True,
        "LogGroupName": {"Ref": group_id},
        "LogStreamName": {"Ref": log_stream_id},
    }
    assert resources[group_id]["Properties"]["RetentionInDays"] == 7


def test_lambda_role_may_write_to_its_own_log_group_only(
    resources: dict[str, dict[str, Any]],
) -> None:
    _, function = only(resources, "AWS::Lambda::Function")
    props = function["Properties"]
    assert (props["Runtime"], props["Architectures"], props["Handler"]) == (
        "python3.12",
        ["x86_64"],
        HANDLER,
    )
    assert props["TracingConfig"] == {"Mode": "Active"}
    role_id = props["Role"]["Fn::GetAtt"][0]
    role = resources[role_id]["Properties"]
    assert "ManagedPolicyArns" not in role
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    logs_statement, *_xray = role_statements(resources, role_id)
    assert actions(logs_statement) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs_statement["Resource"] == {"Fn::GetAtt": [log_group_id, "Arn"]}
    assert resources[log_group_id]["Properties"]["RetentionInDays"] == 7


def test_firehose_role_is_for_this_account_only(resources: dict[str, dict[str, Any]]) -> None:
    (role_id,) = [rid for rid in resources if rid.startswith("FirehoseRole")]
    (trust,) = resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "AWS::AccountId"}}}
    by_sid = {s["Sid"]: s for s in role_statements(resources, role_id)}
    assert set(by_sid) == {"ReadIngestStream", "LocateBucket", "WriteObjects", "WriteLogs"}
    assert not [a for a in actions(by_sid["ReadIngestStream"]) if "Put" in a]
    assert sorted(actions(by_sid["WriteObjects"])) == ["s3:AbortMultipartUpload", "s3:PutObject"]
    assert len(by_sid["WriteObjects"]["Resource"]) == 2
    assert actions(by_sid["WriteLogs"]) == ["logs:PutLogEvents"]


def test_private_bucket_and_stream(resources: dict[str, dict[str, Any]]) -> None:
    _, rules = assert_private_bucket(resources)
    assert list(rules) == ["AbortIncompleteUploads", "Expire"]
    _, stream = only(resources, "AWS::Kinesis::Stream")
    assert stream["Properties"]["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert stream["Properties"]["RetentionPeriodHours"] == 48
    assert stream["Properties"]["StreamEncryption"]["KeyId"] == "alias/aws/kinesis"


def test_settings_are_refused_with_their_message() -> None:
    with pytest.raises(ValueError, match="window too long"):
        blocks.check(False, "window too long")
    blocks.check(True, "never raised")
    with pytest.raises(ValueError, match="env_name"):
        Demo(App(), "S", "Prod")
    with pytest.raises(ValueError, match="buffer_interval_seconds: 0-900"):
        blocks.Buffering(size_mib=64, interval_seconds=901)
    with pytest.raises(ValueError, match="not lake's"):
        Demo(App(), "S", "dev").publish({ssm.INGEST_API_URL: ("P", "x")})


@pytest.fixture
def valid_settings() -> dict[str, Any]:
    return {"env_name": "test"}


# The kit's shared bad-settings test, on the demo stack.
test_the_shared_test_refuses_each_bad_setting = bad_settings_test(
    Demo, [({"env_name": "Prod"}, "env_name"), ({"env_name": "a_b"}, "env_name")]
)


def test_custom_resource_runs_its_function_through_the_provider_framework(
    tmp_path: Path,
) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return None\n")
    stack = Demo(App(context={"aws:cdk:disable-asset-staging": True}), "qos-test-lake", "test")
    on_event = blocks.lambda_function(
        stack,
        "SetupFunction",
        (HANDLER, tmp_path),
        log_retention=logs.RetentionDays.ONE_WEEK,
        role_description="setup",
        description="setup",
        memory_size=128,
        timeout=Duration.minutes(1),
        environment={},
    )
    first = blocks.on_demand_stream(stack, "First")
    blocks.custom_resource(
        stack,
        "Setup",
        on_event,
        resource_type="Custom::QosDemoSetup",
        properties={"Name": "demo", "Version": 2},
        log_retention=logs.RetentionDays.ONE_WEEK,
        depends_on=[first],
    )
    resources: dict[str, dict[str, Any]] = Template.from_stack(stack).to_json()["Resources"]
    setup_id, setup = only(resources, "Custom::QosDemoSetup")
    assert setup_id.startswith("Setup")
    stream_id, _ = only(resources, "AWS::Kinesis::Stream")
    assert setup["DependsOn"] == [stream_id]
    assert {k: v for k, v in setup["Properties"].items() if k != "ServiceToken"} == {
        "Name": "demo",
        "Version": 2,
    }
    ours = [
        rid
        for rid, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"] == HANDLER
    ]
    assert len(ours) == 1
    # The framework's function is the service token, invokes ours, logs to `<id>ProviderLogs`.
    framework_id = provider_framework_function(resources, ours[0])
    assert framework_id.startswith("SetupProvider")
    assert setup["Properties"]["ServiceToken"] == {"Fn::GetAtt": [framework_id, "Arn"]}
    framework_logs = resources[framework_id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert framework_logs.startswith("SetupProviderLogs")
    assert resources[framework_logs]["Properties"]["RetentionInDays"] == 7
