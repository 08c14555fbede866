"""The standalone app's preflight: a stack deployed before the stacks it reads stops, and says so.

SSM is moto; the stacks are small `ServiceStack`s that read what the real ones read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from aws_cdk import App, Environment
from moto import mock_aws

from qos_shared_cdk import ssm
from qos_shared_cdk.app import MissingParameterError, missing_parameters, preflight, run_alone
from qos_shared_cdk.blocks import ServiceStack

REGION = "eu-west-1"


class Reader(ServiceStack):
    """A stack that reads some parameters, as the lake, realtime and search stacks do."""

    service = ssm.LAKE
    label = "lake"
    summary = "reads what others publish"

    def __init__(self, app: App, *, env_name: str, reads: tuple[ssm.Parameter, ...]) -> None:
        name = ssm.stack_name(env_name, ssm.LAKE)
        super().__init__(app, name, env_name, stack_name=name)
        self.values = [self.read(parameter) for parameter in reads]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield


def _put(name: str) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(Name=name, Value="x", Type="String")


@pytest.mark.usefixtures("aws")
def test_a_missing_parameter_names_itself_and_the_stack_to_deploy_first() -> None:
    stack = Reader(App(), env_name="dev", reads=(ssm.INGEST_STREAM_ARN,))
    assert stack.reads == [ssm.INGEST_STREAM_ARN]
    with pytest.raises(MissingParameterError) as raised:
        preflight(stack, region=REGION)
    assert str(raised.value) == (
        "qos-dev-lake reads SSM parameter /qos/dev/ingest/stream-arn, which does not exist: "
        "deploy qos-dev-ingest first (see README, Deploying to AWS)"
    )


@pytest.mark.usefixtures("aws")
def test_present_parameters_pass() -> None:
    _put("/qos/dev/ingest/stream-arn")
    preflight(Reader(App(), env_name="dev", reads=(ssm.INGEST_STREAM_ARN,)), region=REGION)


@pytest.mark.usefixtures("aws")
def test_parameters_of_another_environment_or_region_do_not_count() -> None:
    _put("/qos/prod/ingest/stream-arn")
    stack = Reader(App(), env_name="dev", reads=(ssm.INGEST_STREAM_ARN,))
    with pytest.raises(MissingParameterError, match="/qos/dev/ingest/stream-arn"):
        preflight(stack, region=REGION)
    _put("/qos/dev/ingest/stream-arn")
    with pytest.raises(MissingParameterError):
        preflight(stack, region="us-east-1")


@pytest.mark.usefixtures("aws")
def test_more_parameters_than_one_call_takes_are_all_checked() -> None:
    every = ssm.PARAMETERS
    assert len(every) > 10  # GetParameters takes ten names a call
    for parameter in every[:-1]:
        _put(parameter.name("dev"))
    assert missing_parameters("dev", every, region=REGION) == [every[-1]]
    _put(every[-1].name("dev"))
    assert missing_parameters("dev", every, region=REGION) == []


@pytest.fixture
def cdk_cli(monkeypatch: pytest.MonkeyPatch, aws: None) -> None:
    """What the CDK CLI sets when it runs an app: the profile's account and region."""
    del aws
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", REGION)


def _add_reader(app: App, *, env_name: str, env: Environment | None) -> ServiceStack:
    assert env is not None
    return Reader(app, env_name=env_name, reads=(ssm.INGEST_STREAM_ARN,))


@pytest.mark.usefixtures("cdk_cli")
def test_run_alone_stops_with_one_line_before_synthesizing(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path), context={"qos:env": "qa"})
    with pytest.raises(SystemExit) as stopped:
        run_alone(_add_reader, app)
    message = str(stopped.value)
    assert message.startswith("error: qos-qa-lake reads SSM parameter /qos/qa/ingest/stream-arn")
    assert "\n" not in message
    assert not (tmp_path / "qos-qa-lake.template.json").exists()


@pytest.mark.usefixtures("cdk_cli")
def test_run_alone_synthesizes_once_the_writer_is_deployed(tmp_path: Path) -> None:
    _put("/qos/qa/ingest/stream-arn")
    run_alone(_add_reader, App(outdir=str(tmp_path), context={"qos:env": "qa"}))
    assert (tmp_path / "qos-qa-lake.template.json").is_file()


@pytest.mark.usefixtures("cdk_cli")
def test_run_alone_skips_the_check_for_an_offline_synth(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path), context={"qos:env": "qa", "qos:skipPreflight": "true"})
    run_alone(_add_reader, app)
    assert (tmp_path / "qos-qa-lake.template.json").is_file()


def test_run_alone_without_the_cli_checks_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No account or region: a plain `python -m <svc>_infra.app`, nothing to ask SSM.
    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    monkeypatch.delenv("CDK_DEFAULT_REGION", raising=False)

    def add(app: App, *, env_name: str, env: Environment | None) -> ServiceStack:
        assert env is None
        return Reader(app, env_name=env_name, reads=(ssm.INGEST_STREAM_ARN,))

    run_alone(add, App(outdir=str(tmp_path)))
    assert (tmp_path / "qos-dev-lake.template.json").is_file()
