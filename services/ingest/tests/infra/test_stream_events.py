"""The EventBridge rule for Amazon IVS stream events and its function (CDK assertions).

A template of the ingest stack with a stand-in Lambda bundle (the template does not read the
code; test_stack.py builds and checks the real bundle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from qos_ingest_infra import INGEST_ROOT, IngestStack
from qos_ingest_infra.stream_events import HANDLER
from qos_shared_cdk.testing import template as kit

pytestmark = pytest.mark.infra
test_template_passes_cfn_lint = kit.test_template_passes_cfn_lint


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    asset = tmp_path_factory.mktemp("asset")
    (asset / "qos_ingest").mkdir()
    (asset / "qos_ingest" / "__init__.py").write_text("")
    site = tmp_path_factory.mktemp("site")  # a stand-in for the assembled demo page
    (site / "index.html").write_text("<!doctype html><title>demo</title>")
    stack = IngestStack(
        kit.fast_app(INGEST_ROOT),
        "qos-test-ingest",
        env_name="test",
        asset_dir=Path(asset),
        demo_site_dir=site,
        cors_allow_origins=["https://player.example.com"],
    )
    return Template.from_stack(stack)


def _one(resources: kit.Resources, type_: str, **properties: Any) -> tuple[str, dict[str, Any]]:
    found = [
        (rid, r)
        for rid, r in resources.items()
        if r["Type"] == type_ and all(r["Properties"].get(k) == v for k, v in properties.items())
    ]
    assert len(found) == 1, f"{type_} {properties}: {[rid for rid, _ in found]}"
    return found[0]


def _function(resources: kit.Resources) -> tuple[str, dict[str, Any]]:
    return _one(resources, "AWS::Lambda::Function", Handler=HANDLER)


def _queue(resources: kit.Resources) -> str:
    (queue_id,) = [rid for rid, r in resources.items() if r["Type"] == "AWS::SQS::Queue"]
    return queue_id


def test_rule_matches_ivs_state_and_health_changes_only(resources: kit.Resources) -> None:
    _, rule = kit.only(resources, "AWS::Events::Rule")
    assert rule["Properties"]["State"] == "ENABLED"
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.ivs"],
        "detail-type": ["IVS Stream State Change", "IVS Stream Health Change"],
    }
    assert "EventBusName" not in rule["Properties"], "the account's default bus"


def test_rule_targets_the_function_with_retries_and_a_dead_letter_queue(
    resources: kit.Resources,
) -> None:
    _, rule = kit.only(resources, "AWS::Events::Rule")
    (target,) = rule["Properties"]["Targets"]
    function_id, _ = _function(resources)
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [_queue(resources), "Arn"]}}


def test_function_runs_the_eventbridge_handler_into_the_ingest_stream(
    resources: kit.Resources,
) -> None:
    _, function = _function(resources)
    stream_id, _ = kit.only(resources, "AWS::Kinesis::Stream")
    props = function["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["ReservedConcurrentExecutions"] == 5
    assert props["TracingConfig"] == {"Mode": "Active"}
    variables = props["Environment"]["Variables"]
    assert variables["QOS_INGEST_SINK"] == "kinesis"
    assert variables["QOS_INGEST_STREAM_NAME"] == {"Ref": stream_id}
    # The same code asset as the API's function.
    (api_function,) = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == "qos_ingest.entrypoints.lambda_handler.handler"
    ]
    assert props["Code"] == api_function["Properties"]["Code"]


def test_function_failures_are_retried_then_kept_in_the_queue(resources: kit.Resources) -> None:
    function_id, _ = _function(resources)
    _, config = kit.only(resources, "AWS::Lambda::EventInvokeConfig")
    assert config["Properties"]["FunctionName"] == {"Ref": function_id}
    assert config["Properties"]["MaximumRetryAttempts"] == 2
    assert config["Properties"]["MaximumEventAgeInSeconds"] == 6 * 3600
    assert config["Properties"]["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [_queue(resources), "Arn"]}}
    }


def test_only_eventbridge_from_this_rule_may_invoke_the_function(resources: kit.Resources) -> None:
    function_id, _ = _function(resources)
    rule_id, _ = kit.only(resources, "AWS::Events::Rule")
    _, permission = _one(resources, "AWS::Lambda::Permission", Principal="events.amazonaws.com")
    assert permission["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert permission["Properties"]["SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}


def test_function_role_may_put_records_and_dead_letters_only(resources: kit.Resources) -> None:
    _, function = _function(resources)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    stream_id, _ = kit.only(resources, "AWS::Kinesis::Stream")
    statements = kit.role_statements(resources, role_id)
    by_action = {tuple(kit.actions(s)): s for s in statements}
    assert by_action[("kinesis:PutRecords",)]["Resource"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    sqs = [s for s in statements if any(a.startswith("sqs:") for a in kit.actions(s))]
    assert sqs, "the on-failure destination needs sqs:SendMessage"
    assert all(s["Resource"] == {"Fn::GetAtt": [_queue(resources), "Arn"]} for s in sqs)
    every_action = {a for s in statements for a in kit.actions(s)}
    assert every_action <= {
        "kinesis:PutRecords",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }


def test_dead_letter_queue_is_encrypted_tls_only_and_open_to_the_rule_alone(
    template: Template, resources: kit.Resources
) -> None:
    template.has_resource_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 14 * 86400}
    )
    rule_id, _ = kit.only(resources, "AWS::Events::Rule")
    _, policy = kit.only(resources, "AWS::SQS::QueuePolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    (from_events,) = [
        s for s in statements if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert from_events["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}
    }
    assert kit.actions(from_events) == ["sqs:SendMessage"]
    template.has_resource_properties(
        "AWS::Logs::LogGroup", Match.object_like({"RetentionInDays": 30})
    )
