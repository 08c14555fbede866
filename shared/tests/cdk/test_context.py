"""Reading CDK context the way both cdk.json (JSON values) and `-c key=value` (text) give it."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App

from qos_shared_cdk.context import (
    ServiceContext,
    default_environment,
    env_name_from_context,
    flag,
    optional_int,
    string_list,
)


def test_service_context_reads_its_own_prefix_and_falls_back_to_the_default() -> None:
    app = App(context={"qos:lake:bufferSizeMiB": "64", "qos:realtime:bufferSizeMiB": "99"})
    context = ServiceContext(app, "lake")
    assert context.get("bufferSizeMiB", 128) == "64"
    assert context.get("bufferIntervalSeconds", 300) == 300
    assert context.get("absent") is None


def test_env_name_defaults_to_dev() -> None:
    assert env_name_from_context(App()) == "dev"
    assert env_name_from_context(App(context={"qos:env": "qa"})) == "qa"


def test_default_environment_is_what_the_cli_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    monkeypatch.delenv("CDK_DEFAULT_REGION", raising=False)
    assert default_environment() is None
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    env = default_environment()
    assert env is not None
    assert (env.account, env.region) == ("123456789012", "eu-west-1")


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (False, False), ("true", True), ("False", False)]
)
def test_flag(value: Any, expected: bool) -> None:
    assert flag(value) is expected


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_flag_refuses_anything_else(value: Any) -> None:
    with pytest.raises(ValueError, match="true or false"):
        flag(value)


def test_string_list() -> None:
    assert string_list("https://a.example, https://b.example,") == [
        "https://a.example",
        "https://b.example",
    ]
    assert string_list(["*"]) == ["*"]
    with pytest.raises(ValueError, match="list of strings"):
        string_list([1, 2])


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("none", None), ("", None), ("NULL", None), ("7", 7), (3, 3)],
)
def test_optional_int(value: Any, expected: int | None) -> None:
    assert optional_int(value) == expected
