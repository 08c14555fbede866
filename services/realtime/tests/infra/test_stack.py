"""Tests of the realtime CDK code: the publisher bundle, the synthesized stack, cfn-lint, the app.

jsii makes every synthesis cost seconds, so the bundle is built once per session and the stack
synthesized once per module; assertions then read the one template. Expected names are written
out here (or derived by a separate rule), not read from the stack's code.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from qos_realtime_infra.app import POM, add_realtime_stack, flink_runtime_from_pom
from qos_realtime_infra.packaging import MARKER_FILE, REALTIME_ROOT, build_lambda_asset
from qos_realtime_infra.stack import DEFAULT_FLINK_RUNTIME, HANDLER, RealtimeStack
from qos_shared.catalogue import CATALOGUE

pytestmark = pytest.mark.infra

ENV_NAME = "test"
NAMESPACE = "IVS/QoS"
LEGACY_NAMESPACE = "old-QoS/PlayerSummary"
PLATFORMS = ("web", "ios", "android", "other")
THRESHOLDS = {
    "startup_time_p95": 4.5,
    "rebuffering_ratio": 1.5,
    "video_start_failure": 3.0,
    "average_bitrate": 1_500_000.0,  # higher is better: alarms below
}
JAR = "lib/qos-realtime-flink-connectors.jar"

# cfn-lint findings accepted on purpose, each with why; anything else fails the test.
ACCEPTED_CFN_LINT = {
    "W3005": "redundant DependsOn that CDK adds to every Lambda function with a role",
}


def _cdk_context(**extra: Any) -> dict[str, Any]:
    context = json.loads((REALTIME_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return {**context, **extra}


def _fast_app(**context: Any) -> App:
    # Staging copies the bundle into cdk.out and changes nothing in the template.
    return App(context=_cdk_context(**{"aws:cdk:disable-asset-staging": True, **context}))


def make_zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, "print('the window job')\n" if name.endswith(".py") else "x")
    return path


@pytest.fixture(scope="session")
def lambda_asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lambda_asset(tmp_path_factory.mktemp("asset") / "lambda", quiet=True)


@pytest.fixture(scope="session")
def flink_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_zip(
        tmp_path_factory.mktemp("flink") / "app.zip", ["main.py", "qos_shared/x.py", JAR]
    )


# --- the Lambda bundle ------------------------------------------------------------------------


def test_bundle_has_the_publisher_and_nothing_of_the_build(lambda_asset: Path) -> None:
    handler_module = HANDLER.rsplit(".", 1)[0].replace(".", "/") + ".py"
    assert (lambda_asset / handler_module).is_file()
    assert (lambda_asset / "qos_shared" / "catalogue.py").is_file()
    assert (lambda_asset / "aws_lambda_powertools").is_dir()
    assert (lambda_asset / "pydantic_settings").is_dir()
    assert (lambda_asset / MARKER_FILE).is_file()
    for absent in (
        "qos_realtime_infra",
        "qos_realtime/adapters/flink",
        "qos_realtime/entrypoints/flink_job.py",
        "qos_realtime/flink_package.py",
        "duckdb",
        "pyflink",
        "bin",
    ):
        assert not (lambda_asset / absent).exists(), absent
    assert not list(lambda_asset.rglob("__pycache__"))
    assert not list(lambda_asset.glob("*.dist-info/direct_url.json"))
    (so,) = (lambda_asset / "pydantic_core").glob("*.so")
    assert so.name == "_pydantic_core.cpython-312-x86_64-linux-gnu.so"


# --- the synthesized stack ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(lambda_asset: Path, flink_zip: Path) -> Template:
    stack = RealtimeStack(
        _fast_app(),
        f"qos-{ENV_NAME}-realtime",
        env_name=ENV_NAME,
        lambda_asset_dir=lambda_asset,
        flink_application_zip=flink_zip,
        flink_parallelism=2,
        window_seconds=30,
        allowed_lateness_seconds=7.5,
        legacy_namespace=LEGACY_NAMESPACE,
        channels=["sports", "news"],
        alarm_thresholds=THRESHOLDS,
    )
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def resources(template: Template) -> dict[str, dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = template.to_json()["Resources"]
    return resources


def _only(resources: dict[str, dict[str, Any]], type_: str) -> tuple[str, dict[str, Any]]:
    found = [(rid, r) for rid, r in resources.items() if r["Type"] == type_]
    assert len(found) == 1, f"expected one {type_}, found {[rid for rid, _ in found]}"
    return found[0]


def _statements(resources: dict[str, dict[str, Any]], role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _ingest_arn_parameter(template: Template) -> str:
    (name,) = [
        pid
        for pid, p in template.to_json()["Parameters"].items()
        if p.get("Default") == f"/qos/{ENV_NAME}/ingest/stream-arn"
    ]
    assert template.to_json()["Parameters"][name]["Type"] == "AWS::SSM::Parameter::Value<String>"
    return str(name)


def test_flink_runtime_matches_the_connector_jar_s_flink_version() -> None:
    pom = POM.read_text(encoding="utf-8")
    major, minor = re.search(r"<flink\.version>(\d+)\.(\d+)", pom).groups()  # type: ignore[union-attr]
    assert DEFAULT_FLINK_RUNTIME == flink_runtime_from_pom(POM) == f"FLINK-{major}_{minor}"


def test_flink_application(template: Template, resources: dict[str, dict[str, Any]]) -> None:
    _, app = _only(resources, "AWS::KinesisAnalyticsV2::Application")
    props = app["Properties"]
    assert props["RuntimeEnvironment"] == DEFAULT_FLINK_RUNTIME
    assert props["ApplicationName"] == f"qos-{ENV_NAME}-realtime"
    config = props["ApplicationConfiguration"]
    code = config["ApplicationCodeConfiguration"]
    assert code["CodeContentType"] == "ZIPFILE"
    assert code["CodeContent"]["S3ContentLocation"]["FileKey"].endswith(".zip")
    groups = {
        g["PropertyGroupId"]: g["PropertyMap"]
        for g in config["EnvironmentProperties"]["PropertyGroups"]
    }
    stream_id = _only(resources, "AWS::Kinesis::Stream")[0]
    assert groups == {
        "kinesis.analytics.flink.run.options": {"python": "main.py", "jarfile": JAR},
        "qos.realtime": {
            "input.stream.arn": {"Ref": _ingest_arn_parameter(template)},
            "output.stream.arn": {"Fn::GetAtt": [stream_id, "Arn"]},
            "aws.region": {"Ref": "AWS::Region"},
            "window.seconds": "30",
            "allowed.lateness.seconds": "7.5",
        },
    }
    flink = config["FlinkApplicationConfiguration"]
    assert flink["ParallelismConfiguration"]["Parallelism"] == 2
    assert flink["CheckpointConfiguration"] == {"ConfigurationType": "DEFAULT"}
    assert config["ApplicationSnapshotConfiguration"] == {"SnapshotsEnabled": True}
    (_, logging) = _only(resources, "AWS::KinesisAnalyticsV2::ApplicationCloudWatchLoggingOption")
    assert logging["Properties"]["ApplicationName"] == {
        "Ref": _only(resources, "AWS::KinesisAnalyticsV2::Application")[0]
    }


def test_flink_role_reads_ingest_writes_rows_and_nothing_else(
    template: Template, resources: dict[str, dict[str, Any]]
) -> None:
    _, app = _only(resources, "AWS::KinesisAnalyticsV2::Application")
    role_id = app["Properties"]["ServiceExecutionRole"]["Fn::GetAtt"][0]
    trust = resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "kinesisanalytics.amazonaws.com"}]
    assert trust[0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }

    by_sid = {s["Sid"]: s for s in _statements(resources, role_id)}
    stream_id = _only(resources, "AWS::Kinesis::Stream")[0]
    assert set(by_sid) == {
        "ReadIngestStream",
        "WriteMetricRowStream",
        "ReadApplicationCode",
        "ListLogGroups",
        "ListLogStreams",
        "WriteLogs",
    }
    read = by_sid["ReadIngestStream"]
    assert read["Resource"] == {"Ref": _ingest_arn_parameter(template)}
    assert not [a for a in _actions(read) if "Put" in a]
    write = by_sid["WriteMetricRowStream"]
    assert write["Resource"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    assert {"kinesis:PutRecord", "kinesis:PutRecords"} <= set(_actions(write))
    assert _actions(by_sid["ReadApplicationCode"]) == ["s3:GetObject", "s3:GetObjectVersion"]
    assert json.dumps(by_sid["ReadApplicationCode"]["Resource"]).endswith('.zip"]]}')
    assert json.dumps(by_sid["WriteLogs"]["Resource"]).count(":log-stream:") == 1
    assert not [s for s in by_sid.values() if s["Resource"] == "*"]


def test_metric_row_stream_is_on_demand_and_encrypted(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
        },
    )


def test_publisher_function(resources: dict[str, dict[str, Any]]) -> None:
    _, function = _only(resources, "AWS::Lambda::Function")
    props = function["Properties"]
    assert (props["Runtime"], props["Handler"], props["Architectures"]) == (
        "python3.12",
        "qos_realtime.entrypoints.publisher_lambda.handler",
        ["x86_64"],
    )
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Environment"]["Variables"] == {
        "QOS_REALTIME_PUBLISHER_NAMESPACE": NAMESPACE,
        "QOS_REALTIME_PUBLISHER_LEGACY_NAMESPACE": LEGACY_NAMESPACE,
        "QOS_REALTIME_PUBLISHER_LEGACY_METRICS": "true",
        "QOS_REALTIME_PUBLISHER_CHANNELS": "news,sports",
        "POWERTOOLS_SERVICE_NAME": "qos-realtime-publisher",
        "POWERTOOLS_METRICS_NAMESPACE": "QoS/Realtime",
    }


def test_publisher_may_put_metrics_only_in_its_namespaces(
    resources: dict[str, dict[str, Any]],
) -> None:
    _, function = _only(resources, "AWS::Lambda::Function")
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in resources[role_id]["Properties"]
    statements = _statements(resources, role_id)
    (put,) = [s for s in statements if "cloudwatch:PutMetricData" in _actions(s)]
    assert _actions(put) == ["cloudwatch:PutMetricData"]
    assert put["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": [NAMESPACE, LEGACY_NAMESPACE]}
    }
    # Only PutMetricData and X-Ray take no resource; everything else is scoped.
    unscoped = {a for s in statements if s["Resource"] == "*" for a in _actions(s)}
    assert unscoped == {
        "cloudwatch:PutMetricData",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    kinesis = {a for s in statements for a in _actions(s) if a.startswith("kinesis:")}
    assert {"kinesis:GetRecords", "kinesis:GetShardIterator"} <= kinesis
    assert not [a for a in kinesis if "Put" in a]


def test_event_source_mapping(resources: dict[str, dict[str, Any]]) -> None:
    _, mapping = _only(resources, "AWS::Lambda::EventSourceMapping")
    props = mapping["Properties"]
    stream_id = _only(resources, "AWS::Kinesis::Stream")[0]
    queue_id = _only(resources, "AWS::SQS::Queue")[0]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumBatchingWindowInSeconds"] == 5
    assert props["BatchSize"] == 500
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["MaximumRetryAttempts"] == 10
    assert props["MaximumRecordAgeInSeconds"] == 6 * 3600
    assert props["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}
    }


def _dashboard(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    _, dashboard = _only(resources, "AWS::CloudWatch::Dashboard")
    body = dashboard["Properties"]["DashboardBody"]
    if isinstance(body, dict):  # Fn::Join around the region reference
        body = "".join(p if isinstance(p, str) else "REGION" for p in body["Fn::Join"][1])
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def _lines(widget: dict[str, Any]) -> Iterator[tuple[str, dict[str, str], str]]:
    """(metric name, dimensions, statistic) of each plain metric line of a widget."""
    for line in widget["properties"].get("metrics", []):
        *parts, options = line if isinstance(line[-1], dict) else (*line, {})
        if "expression" in options:
            continue
        _, name, *dims = parts
        yield name, dict(zip(dims[::2], dims[1::2], strict=True)), options.get("stat", "Average")


def expected_cloudwatch_name(metric_name: str) -> str:
    """A second derivation of the naming rule: drop _pNN, title-case the words."""
    base = re.sub(r"_p\d+$", "", metric_name)
    return "".join(word.title() for word in base.split("_"))


def test_dashboard_has_a_widget_for_every_catalogue_metric(
    resources: dict[str, dict[str, Any]],
) -> None:
    widgets = [w for w in _dashboard(resources)["widgets"] if w["type"] == "metric"]
    lines = {
        (name, tuple(sorted(dims.items())), stat) for w in widgets for name, dims, stat in _lines(w)
    }
    names = {name for name, _, _ in lines}
    for metric in CATALOGUE:
        name = expected_cloudwatch_name(metric.name)
        if metric.kind == "percentile":
            stat = f"p{round(metric.quantile * 100)}"  # type: ignore[operator]
            assert (name, (), stat) in lines, metric.name  # all viewers
            for platform in PLATFORMS:
                assert (name, (("ClientPlatform", platform),), stat) in lines, metric.name
        elif metric.kind == "share":
            searches = [
                line[-1]["expression"]
                for w in widgets
                for line in w["properties"]["metrics"]
                if "expression" in line[-1]
            ]
            assert searches == [
                "SEARCH('{IVS/QoS,Rendition} MetricName=\"RenditionShare\"', 'Average', 60)"
            ]
        else:
            assert name in names or f"{name}Mean" in names, metric.name
    assert "LateEvents" in names
    assert not [w for w in widgets if w["properties"]["period"] != 60]


def test_dashboard_keeps_the_original_widgets_per_platform(
    resources: dict[str, dict[str, Any]],
) -> None:
    widgets = {w["properties"].get("title"): w for w in _dashboard(resources)["widgets"]}
    originals = {
        "Concurrent Users": "Concurrency",
        "Buffer Ratio": "RebufferingRatio",
        "Errors": "Errors",
    }
    for title, name in originals.items():
        assert {(n, d["ClientPlatform"]) for n, d, _ in _lines(widgets[title])} == {
            (name, p) for p in PLATFORMS
        }
    for title, name in (("Startup Time", "StartupTime"), ("Live Latency", "LiveLatency")):
        for platform in PLATFORMS:
            got = {(n, stat) for n, d, stat in _lines(widgets[f"{title} - {platform}"])}
            assert {(name, "p50"), (name, "p90"), (name, "p95")} <= got
            assert (f"{name}Mean", "Average") in got


def test_alarms_and_thresholds(resources: dict[str, dict[str, Any]]) -> None:
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    topic_id = _only(resources, "AWS::SNS::Topic")[0]
    expected = {
        "qos-test-realtime-startup-time-p95": ("StartupTime", 4.5, "GreaterThanThreshold"),
        "qos-test-realtime-rebuffering-ratio": ("RebufferingRatio", 1.5, "GreaterThanThreshold"),
        "qos-test-realtime-video-start-failure": ("VideoStartFailure", 3.0, "GreaterThanThreshold"),
        "qos-test-realtime-average-bitrate": ("AverageBitrate", 1_500_000, "LessThanThreshold"),
    }
    assert {
        name: (a["MetricName"], a["Threshold"], a["ComparisonOperator"])
        for name, a in alarms.items()
    } == expected
    startup = alarms["qos-test-realtime-startup-time-p95"]
    assert startup["ExtendedStatistic"] == "p95"
    assert alarms["qos-test-realtime-rebuffering-ratio"]["Statistic"] == "Average"
    for alarm in alarms.values():
        assert alarm["Namespace"] == NAMESPACE
        assert "Dimensions" not in alarm, "all viewers"
        assert alarm["Period"] == 60
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (5, 3)
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_ssm_parameters_and_no_exports(
    template: Template, resources: dict[str, dict[str, Any]]
) -> None:
    parameters = {
        r["Properties"]["Name"]: r["Properties"]["Value"]
        for r in resources.values()
        if r["Type"] == "AWS::SSM::Parameter"
    }
    stream_id = _only(resources, "AWS::Kinesis::Stream")[0]
    prefix = f"/qos/{ENV_NAME}/realtime/"
    assert parameters == {
        f"{prefix}metric-stream-arn": {"Fn::GetAtt": [stream_id, "Arn"]},
        f"{prefix}metric-stream-name": {"Ref": stream_id},
        f"{prefix}flink-application-name": {
            "Ref": _only(resources, "AWS::KinesisAnalyticsV2::Application")[0]
        },
        f"{prefix}cloudwatch-namespace": NAMESPACE,
        f"{prefix}dashboard-name": {"Ref": _only(resources, "AWS::CloudWatch::Dashboard")[0]},
        f"{prefix}alarm-topic-arn": {"Ref": _only(resources, "AWS::SNS::Topic")[0]},
    }
    outputs = template.to_json()["Outputs"]
    assert not [name for name, o in outputs.items() if "Export" in o]
    assert "Fn::ImportValue" not in json.dumps(template.to_json())


def test_template_passes_cfn_lint(template: Template, tmp_path: Path) -> None:
    from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

    path = tmp_path / "realtime.template.json"
    path.write_text(json.dumps(template.to_json(), indent=1), encoding="utf-8")
    findings = lint_file(path, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    unexpected = [
        f"{m.rule.id} {m.message} (line {m.linenumber})"
        for m in findings
        if m.rule.id not in ACCEPTED_CFN_LINT
    ]
    assert not unexpected, "\n".join(unexpected)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"env_name": "Prod"}, "env_name"),
        ({"flink_runtime": "1.20"}, "FLINK-x_y"),
        ({"window_seconds": 1}, "between 5 and 3600"),
        ({"allowed_lateness_seconds": -1}, "between 0 and 3600"),
        ({"alarm_thresholds": {"no_such_kpi": 1}}, "unknown metrics"),
        ({"alarm_thresholds": {"rebuffering_ratio": float("nan")}}, "finite"),
        ({"alarm_evaluation_periods": 2, "alarm_datapoints_to_alarm": 3}, "datapoints"),
    ],
)
def test_bad_settings_are_refused_before_synthesis(
    lambda_asset: Path, flink_zip: Path, overrides: dict[str, Any], message: str
) -> None:
    settings: dict[str, Any] = {
        "env_name": "dev",
        "lambda_asset_dir": lambda_asset,
        "flink_application_zip": flink_zip,
        **overrides,
    }
    with pytest.raises(ValueError, match=message):
        RealtimeStack(_fast_app(), "Bad", **settings)


@pytest.mark.parametrize(
    ("names", "message"),
    [(["lib/a.jar"], "no main.py"), (["main.py", "a.jar", "lib/b.jar"], "exactly one")],
)
def test_a_zip_that_is_not_a_pyflink_application_is_refused(
    lambda_asset: Path, tmp_path: Path, names: list[str], message: str
) -> None:
    bad = make_zip(tmp_path / "bad.zip", names)
    with pytest.raises(ValueError, match=message):
        RealtimeStack(
            _fast_app(),
            "S",
            env_name="dev",
            lambda_asset_dir=lambda_asset,
            flink_application_zip=bad,
        )


def test_missing_inputs_are_clear_errors(
    lambda_asset: Path, flink_zip: Path, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="Flink application zip"):
        RealtimeStack(
            _fast_app(),
            "S",
            env_name="dev",
            lambda_asset_dir=lambda_asset,
            flink_application_zip=tmp_path / "none.zip",
        )
    with pytest.raises(FileNotFoundError, match=r"qos_realtime_infra\.packaging"):
        RealtimeStack(
            _fast_app(),
            "S",
            env_name="dev",
            lambda_asset_dir=tmp_path,
            flink_application_zip=flink_zip,
        )


# --- the app -----------------------------------------------------------------------------------


def test_app_reads_its_settings_from_cli_style_context(lambda_asset: Path, flink_zip: Path) -> None:
    # `-c key=value` gives strings; cdk.json gives JSON values. Both must work.
    app = _fast_app(
        **{
            "qos:realtime:lambdaAssetDir": str(lambda_asset),
            "qos:realtime:flinkApplicationZip": str(flink_zip),
            "qos:realtime:flinkRuntime": "FLINK-1_20",
            "qos:realtime:windowSeconds": "10",
            "qos:realtime:namespace": "Demo/QoS",
            "qos:realtime:legacyMetrics": "false",
            "qos:realtime:channels": "a, b",
            "qos:realtime:alarmThresholds": '{"startup_time_p95": 3}',
        }
    )
    stack = add_realtime_stack(app, env_name="qa", env=None)
    assert stack.stack_name == "qos-qa-realtime"
    resources = Template.from_stack(stack).to_json()["Resources"]
    _, application = _only(resources, "AWS::KinesisAnalyticsV2::Application")
    assert application["Properties"]["RuntimeEnvironment"] == "FLINK-1_20"
    groups = application["Properties"]["ApplicationConfiguration"]["EnvironmentProperties"]
    assert {"window.seconds": "10"}.items() <= groups["PropertyGroups"][1]["PropertyMap"].items()
    _, function = _only(resources, "AWS::Lambda::Function")
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["QOS_REALTIME_PUBLISHER_NAMESPACE"] == "Demo/QoS"
    assert variables["QOS_REALTIME_PUBLISHER_LEGACY_METRICS"] == "false"
    assert variables["QOS_REALTIME_PUBLISHER_CHANNELS"] == "a,b"
    alarms = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert [(a["Properties"]["MetricName"], a["Properties"]["Threshold"]) for a in alarms] == [
        ("StartupTime", 3)
    ]


def test_cdk_json_runs_the_app_with_the_platform_s_feature_flags() -> None:
    ours = json.loads((REALTIME_ROOT / "cdk.json").read_text(encoding="utf-8"))
    platform = json.loads((REALTIME_ROOT.parents[1] / "infra" / "cdk.json").read_text())
    assert ours["app"] == "python -m qos_realtime_infra.app"

    def flags(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in doc["context"].items() if k.startswith("@aws-cdk/")}

    assert flags(ours)
    assert flags(ours) == flags(platform)
