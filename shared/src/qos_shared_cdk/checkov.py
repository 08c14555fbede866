"""checkov findings accepted on purpose, written into the template beside the resource.

`nox -s synth` runs checkov on every synthesized template and fails on any finding; a finding
that is accepted is skipped in the resource's own metadata (`Metadata.checkov.skip`, which
checkov reads), with a one-line reason, by `skip` (one resource) or `Platform` (an aspect for the
findings whose reason holds for every resource of a type in every stack).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsii
from aws_cdk import CfnResource, IAspect
from constructs import IConstruct

# The platform-wide triage: resource type -> (check id, reason) for every resource of that type.
PLATFORM: Mapping[str, tuple[tuple[str, str], ...]] = {
    "AWS::Logs::LogGroup": (
        (
            "CKV_AWS_158",
            "CloudWatch Logs encrypts every group at rest with its own key; a customer key "
            "would add a key policy per group and keep nothing from anyone who may read logs",
        ),
    ),
    "AWS::Lambda::Function": (
        (
            "CKV_AWS_117",
            "a function runs in a VPC only to reach a private resource (the indexer with a VPC "
            "domain); elsewhere a VPC adds NAT cost and cold starts for nothing",
        ),
        (
            "CKV_AWS_173",
            "environment variables hold names, ARNs and settings, never secrets (those are "
            "read from Secrets Manager); Lambda encrypts them at rest with its AWS-managed key",
        ),
    ),
}


# Functions the CDK itself adds (construct id prefix -> findings): CloudFormation invokes them
# synchronously, once per stack operation, and reports their failures itself.
_DEPLOY_TIME = (
    (
        "CKV_AWS_115",
        "runs once per stack operation, invoked by CloudFormation: nothing to cap",
    ),
    (
        "CKV_AWS_116",
        "invoked synchronously by CloudFormation, which reports a failure; a DLQ serves async "
        "invokes only",
    ),
)
CDK_FUNCTIONS: Mapping[str, tuple[tuple[str, str], ...]] = {
    # AwsCustomResource's singleton function.
    "AWS679f53fac002430cb0da5b7982bd2287": _DEPLOY_TIME,
    # BucketDeployment's function.
    "Custom::CDKBucketDeployment": _DEPLOY_TIME,
}
CDK_POLICIES: Mapping[str, tuple[tuple[str, str], ...]] = {
    "Custom::CDKBucketDeployment": (
        (
            "CKV_AWS_111",
            "the CDK's BucketDeployment invalidates its distribution's cache "
            "(cloudfront:CreateInvalidation on *); it writes only to its bucket",
        ),
    ),
}
DEPLOY_TIME = _DEPLOY_TIME

# Findings several stacks accept for the same reason, named for `skip`.
SSE_SQS_QUEUE = (
    "CKV_AWS_27",
    "encrypted with SSE-SQS (SqsManagedSseEnabled), which checkov does not recognize",
)
KINESIS_CONSUMER: tuple[tuple[str, str], ...] = (
    (
        "CKV_AWS_116",
        "invoked by Kinesis event source mappings, whose on-failure queue keeps failed "
        "batches; a function DLQ serves async invokes only",
    ),
    (
        "CKV_AWS_115",
        "its concurrency is bounded by the event source mappings (shards times the "
        "parallelization factor), not by a reservation taken from the account",
    ),
)


def _resource(construct: IConstruct) -> CfnResource:
    if isinstance(construct, CfnResource):
        return construct
    child = construct.node.default_child
    if not isinstance(child, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to annotate")
    return child


def skip(construct: IConstruct, *checks: tuple[str, str]) -> None:
    """Skip these checkov checks (id, reason) on the construct's resource; reasons are one line."""
    resource = _resource(construct)
    existing: dict[str, Any] = resource.get_metadata("checkov") or {}
    entries: list[dict[str, str]] = list(existing.get("skip", []))
    known = {entry["id"] for entry in entries}
    for check_id, reason in checks:
        if not reason.strip() or "\n" in reason:
            raise ValueError(f"{check_id}: give a one-line reason")
        if check_id not in known:
            entries.append({"id": check_id, "comment": reason})
            known.add(check_id)
    resource.add_metadata("checkov", {"skip": entries})


@jsii.implements(IAspect)
class Platform:
    """Skips the platform-wide findings (`PLATFORM`) on every resource of their types."""

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource):
            return
        if node.cfn_resource_type in PLATFORM:
            skip(node, *PLATFORM[node.cfn_resource_type])
        owner = node.node.scope
        owner_id = owner.node.id if owner is not None else ""
        framework = {
            "AWS::Lambda::Function": CDK_FUNCTIONS,
            "AWS::IAM::Policy": CDK_POLICIES,
        }.get(node.cfn_resource_type, {})
        for prefix, checks in framework.items():
            if owner_id.startswith(prefix) or any(
                part.startswith(prefix) for part in node.node.path.split("/")
            ):
                skip(node, *checks)
