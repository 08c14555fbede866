"""Assertions the services' stack tests share: finding resources, policies, parameters, cfn-lint.

Each helper reads the synthesized template as CloudFormation JSON; expected values stay in the
tests (written out, or derived by a rule of the test's own), never here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App
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


def resources_of(template: Template) -> Resources:
    found: Resources = template.to_json()["Resources"]
    return found


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


def handler_module(handler: str) -> str:
    """The file of a handler `pkg.module.function`, relative to the bundle's root."""
    return handler.rsplit(".", 1)[0].replace(".", "/") + ".py"


def test_template_passes_cfn_lint(template: Template, tmp_path: Path) -> None:
    """A shared test: a stack test module that imports it lints its own `template` fixture."""
    assert_passes_cfn_lint(template, tmp_path)
