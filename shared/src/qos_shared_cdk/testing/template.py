"""Assertions the services' stack tests share: finding resources, policies, parameters, cfn-lint,
what the kit's blocks make, and the shared tests (cfn-lint, bad settings).

Each helper reads the synthesized template as CloudFormation JSON. A service's expected values
stay in its tests (written out, or derived by a rule of the test's own), never here; the helpers
check only what a kit block always makes (a private bucket's rules, a delivery role's statements).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

Resources = dict[str, dict[str, Any]]

# cfn-lint findings accepted on purpose, each with why; anything else fails the test.
ACCEPTED_CFN_LINT = {
    # CDK makes a function DependsOn its role and the role's policy so the policy exists before
    # the first invoke; the role half is redundant with the GetAtt, and harmless.
    "W3005": "redundant DependsOn that CDK adds to every Lambda function with a role",
}


def cdk_context(service_root: Path, **extra: Any) -> dict[str, Any]:
    """The context the CLI would pass from the service's cdk.json (feature flags included), so
    tests synthesize what deploys."""
    context = json.loads((service_root / "cdk.json").read_text(encoding="utf-8"))["context"]
    return {**context, **extra}


def fast_app(service_root: Path, **context: Any) -> App:
    """An app with the service's cdk.json context that doesn't stage assets.

    Staging copies a Lambda bundle into cdk.out (seconds through jsii) and changes nothing in the
    template; the platform app's test stages for real.
    """
    return App(
        context=cdk_context(service_root, **{"aws:cdk:disable-asset-staging": True, **context})
    )


def feature_flags(cdk_json: Path) -> dict[str, Any]:
    doc = json.loads(cdk_json.read_text(encoding="utf-8"))
    return {k: v for k, v in doc["context"].items() if k.startswith("@aws-cdk/")}


def only(resources: Resources, type_: str) -> tuple[str, dict[str, Any]]:
    """(logical id, resource) of the template's one resource of this type."""
    found = [(rid, r) for rid, r in resources.items() if r["Type"] == type_]
    assert len(found) == 1, f"expected one {type_}, found {[rid for rid, _ in found]}"
    return found[0]


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def role_statements(resources: Resources, role_id: str) -> list[dict[str, Any]]:
    """Every statement of the AWS::IAM::Policy resources attached to the role."""
    return [
        statement
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def ssm_parameters(resources: Resources) -> dict[str, Any]:
    """Name -> value of every SSM parameter the stack writes."""
    return {
        r["Properties"]["Name"]: r["Properties"]["Value"]
        for r in resources.values()
        if r["Type"] == "AWS::SSM::Parameter"
    }


def read_parameter(template: Template, name: str) -> str:
    """The template parameter through which the stack reads the SSM parameter `name` at deploy
    time (its logical id, for `{"Ref": ...}`)."""
    parameters = template.to_json()["Parameters"]
    (found,) = [pid for pid, p in parameters.items() if p.get("Default") == name]
    assert parameters[found]["Type"] == "AWS::SSM::Parameter::Value<String>"
    return str(found)


def assert_no_exports(template: Template) -> None:
    """Stacks share nothing through CloudFormation: no Export, no Fn::ImportValue."""
    outputs = template.to_json().get("Outputs", {})
    assert not [name for name, o in outputs.items() if "Export" in o]
    assert "Fn::ImportValue" not in json.dumps(template.to_json())


def assert_private_bucket(resources: Resources) -> tuple[str, dict[str, dict[str, Any]]]:
    """The one bucket is kept with the stack, SSE-S3, private, TLS only, aborts stale uploads;
    returns its logical id and its lifecycle rules by id."""
    bucket_id, bucket = only(resources, "AWS::S3::Bucket")
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"),
        True,
    )
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["AbortIncompleteUploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 7
    }
    assert "Prefix" not in rules["AbortIncompleteUploads"]
    _, policy = only(resources, "AWS::S3::BucketPolicy")
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    return bucket_id, rules


def kinesis_delivery_stream(
    template: Template, resources: Resources, source_parameter: str
) -> tuple[dict[str, Any], str]:
    """The one delivery stream, as `blocks.kinesis_delivery_stream` makes it: it reads the
    Kinesis stream whose ARN the stack reads from the SSM parameter `source_parameter`, and is
    created after the one policy of the role it reads as. Returns the stream and that role's id."""
    _, stream = only(resources, "AWS::KinesisFirehose::DeliveryStream")
    props = stream["Properties"]
    assert props["DeliveryStreamType"] == "KinesisStreamAsSource"
    source = props["KinesisStreamSourceConfiguration"]
    assert source["KinesisStreamARN"] == {"Ref": read_parameter(template, source_parameter)}
    role_id: str = source["RoleARN"]["Fn::GetAtt"][0]
    assert source["RoleARN"] == {"Fn::GetAtt": [role_id, "Arn"]}
    (policy_id,) = [
        rid
        for rid, r in resources.items()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
    ]
    assert policy_id in stream["DependsOn"]
    return stream, role_id


# The statements of every delivery role's policy (`blocks.firehose_policy`), by sid.
FIREHOSE_POLICY_SIDS = frozenset({"ReadIngestStream", "LocateBucket", "WriteLogs"})


def assert_firehose_role(
    template: Template,
    resources: Resources,
    role_id: str,
    source_parameter: str,
    own_sids: set[str],
) -> dict[str, dict[str, Any]]:
    """The delivery role is Firehose's for this account only; its statements are those of every
    delivery role and its `own_sids` (the destination's and the bucket write), all allowing; it
    reads (never writes) the source stream, whose ARN the stack reads from the SSM parameter
    `source_parameter`. Returns the statements by sid."""
    trust = resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "firehose.amazonaws.com"}]
    assert trust[0]["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "AWS::AccountId"}}}
    statements = {s["Sid"]: s for s in role_statements(resources, role_id)}
    assert set(statements) == FIREHOSE_POLICY_SIDS | own_sids
    assert all(s["Effect"] == "Allow" for s in statements.values())
    read = statements["ReadIngestStream"]
    assert read["Resource"] == {"Ref": read_parameter(template, source_parameter)}
    assert all(a.startswith("kinesis:") and "Put" not in a for a in actions(read))
    return statements


def assert_passes_cfn_lint(
    template: Template, folder: Path, accepted: dict[str, str] = ACCEPTED_CFN_LINT
) -> None:
    """cfn-lint finds nothing in the template but the `accepted` rules."""
    from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

    path = folder / "stack.template.json"
    path.write_text(json.dumps(template.to_json(), indent=1), encoding="utf-8")
    findings = lint_file(path, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    unexpected = [
        f"{m.rule.id} {m.message} (line {m.linenumber})"
        for m in findings
        if m.rule.id not in accepted
    ]
    assert not unexpected, "\n".join(unexpected)


def provider_framework_function(resources: Resources, on_event_function_id: str) -> str:
    """The id of the custom resource Provider framework's function that invokes the given
    on-event function (what `blocks.custom_resource` makes the resource's service token)."""
    (framework_id,) = [
        rid
        for rid, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]
        .get("Environment", {})
        .get("Variables", {})
        .get("USER_ON_EVENT_FUNCTION_ARN")
        == {"Fn::GetAtt": [on_event_function_id, "Arn"]}
    ]
    return framework_id


def handler_module(handler: str) -> str:
    """The file of a handler `pkg.module.function`, relative to the bundle's root."""
    return handler.rsplit(".", 1)[0].replace(".", "/") + ".py"


def test_template_passes_cfn_lint(template: Template, tmp_path: Path) -> None:
    """A shared test: a stack test module that imports it lints its own `template` fixture."""
    assert_passes_cfn_lint(template, tmp_path)


def bad_settings_test(
    stack_type: Callable[..., Stack], cases: Sequence[tuple[dict[str, Any], str]]
) -> Callable[..., None]:
    """A shared test, one case per bad setting: `stack_type` built from the module's
    `valid_settings` fixture changed by a case's overrides refuses them with a ValueError that
    matches the case's message, before synthesis. A module assigns it to a `test_*` name."""

    def test(valid_settings: dict[str, Any], overrides: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            stack_type(App(), "Refused", **{**valid_settings, **overrides})

    one_per_case = pytest.mark.parametrize(("overrides", "message"), cases)
    parametrized: Callable[..., None] = one_per_case(test)
    return parametrized
