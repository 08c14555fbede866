"""The checkov skips the deploy kit writes into resource metadata."""

from __future__ import annotations

import pytest
from aws_cdk import App, Aspects, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from qos_shared_cdk import checkov


def _metadata(stack: Stack, type_: str) -> list[dict[str, object]]:
    resources = Template.from_stack(stack).find_resources(type_)
    return [r.get("Metadata", {}).get("checkov", {}) for r in resources.values()]


def test_skip_writes_each_check_once_with_its_reason() -> None:
    stack = Stack(App(), "S")
    queue = sqs.Queue(stack, "Q")
    checkov.skip(queue, ("CKV_AWS_27", "first reason"))
    checkov.skip(queue, ("CKV_AWS_27", "said again"), ("CKV_AWS_1", "another"))
    assert _metadata(stack, "AWS::SQS::Queue") == [
        {
            "skip": [
                {"id": "CKV_AWS_27", "comment": "first reason"},
                {"id": "CKV_AWS_1", "comment": "another"},
            ]
        }
    ]


@pytest.mark.parametrize("reason", ["", "  ", "two\nlines"])
def test_skip_wants_a_one_line_reason(reason: str) -> None:
    stack = Stack(App(), "S")
    with pytest.raises(ValueError, match="one-line reason"):
        checkov.skip(sqs.Queue(stack, "Q"), ("CKV_AWS_27", reason))


def test_platform_aspect_skips_its_findings_on_every_resource_of_the_type() -> None:
    stack = Stack(App(), "S")
    logs.LogGroup(stack, "A")
    logs.LogGroup(stack, "B")
    sqs.Queue(stack, "Q")
    Aspects.of(stack).add(checkov.Platform())
    expected = [entry for entry, _ in checkov.PLATFORM["AWS::Logs::LogGroup"]]
    for metadata in _metadata(stack, "AWS::Logs::LogGroup"):
        skips = metadata["skip"]
        assert isinstance(skips, list)
        assert [s["id"] for s in skips] == expected
    assert _metadata(stack, "AWS::SQS::Queue") == [{}]
