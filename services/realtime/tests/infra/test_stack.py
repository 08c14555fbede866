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

from qos_realtime_infra import (
    DEFAULT_FLINK_RUNTIME,
    REALTIME_ROOT,
    RealtimeStack,
    add_realtime_stack,
    build_lambda_asset,
    flink_runtime_from_pom,
)
from qos_realtime_infra.app import POM
from qos_realtime_infra.service_code import HANDLER, LIFECYCLE_HANDLER
from qos_shared.catalogue import CATALOGUE
from qos_shared_cdk.packaging import MARKER_FILE
from qos_shared_cdk.testing import template as kit

pytestmark = pytest.mark.infra
# The kit's shared test, run on this module's template.
test_template_passes_cfn_lint = kit.test_template_passes_cfn_lint

ENV_NAME = "test"
INGEST_STREAM_ARN = f"/qos/{ENV_NAME}/ingest/stream-arn"
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
ALARM_EMAIL = "oncall@example.com"


def _fast_app(**context: Any) -> App:
    return kit.fast_app(REALTIME_ROOT, **context)


def function(resources: kit.Resources, handler: str) -> dict[str, Any]:
    """The one function running `handler`."""
    (found,) = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == handler
    ]
    return found


def make_zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, "print('the window job')\n" if name.endswith(".py") else "x")
    return path


@pytest.fixture(scope="session")
def lambda_asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lambda_asset(tmp_path_factory.mktemp("asset") / "lambda", progress=None)


@pytest.fixture(scope="session")
def flink_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_zip(
        tmp_path_factory.mktemp("flink") / "app.zip", ["main.py", "qos_shared/x.py", JAR]
    )


# --- the Lambda bundle ------------------------------------------------------------------------


def test_bundle_has_the_publisher_and_nothing_of_the_build(lambda_asset: Path) -> None:
    assert (lambda_asset / kit.handler_module(HANDLER)).is_file()
    assert (lambda_asset / "qos_shared" / "catalogue.py").is_file()
    assert (lambda_asset / "aws_lambda_powertools").is_dir()
    assert (lambda_asset / "pydantic_settings").is_dir()
    assert (lambda_asset / MARKER_FILE).is_file()
    for absent in (
        "qos_realtime_infra",
        "qos_shared_cdk",
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
        dedupe_ttl_seconds=900,
        view_timeout_seconds=240,
        view_max_length_seconds=7200,
        revision_horizon_seconds=300,
        legacy_namespace=LEGACY_NAMESPACE,
        channels=["sports", "news"],
        alarm_thresholds=THRESHOLDS,
    )
    return Template.from_stack(stack)


def streams(resources: kit.Resources) -> tuple[str, str]:
    """The logical ids of the stack's two streams: (metric rows, views)."""
    ids = [i for i, r in resources.items() if r["Type"] == "AWS::Kinesis::Stream"]
    (rows,) = [i for i in ids if i.startswith("MetricRowStream")]
    (views,) = [i for i in ids if i.startswith("ViewStream")]
    assert len(ids) == 2
    return rows, views


def test_flink_runtime_matches_the_connector_jar_s_flink_version() -> None:
    pom = POM.read_text(encoding="utf-8")
    major, minor = re.search(r"<flink\.version>(\d+)\.(\d+)", pom).groups()  # type: ignore[union-attr]
    assert DEFAULT_FLINK_RUNTIME == flink_runtime_from_pom(POM) == f"FLINK-{major}_{minor}"
    # The connector the pom names is for the same Flink major, and no later minor.
    version = re.search(r"<kinesis\.connector\.version>([^<]+)<", pom)[1]  # type: ignore[index]
    c_major, c_minor = version.rsplit("-", 1)[1].split(".")
    assert (c_major, int(c_minor) <= int(minor)) == (major, True), version


def test_flink_application(template: Template, resources: kit.Resources) -> None:
    _, app = kit.only(resources, "AWS::KinesisAnalyticsV2::Application")
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
    stream_id, views_id = streams(resources)
    assert groups == {
        "kinesis.analytics.flink.run.options": {"python": "main.py", "jarfile": JAR},
        "qos.realtime": {
            "input.stream.arn": {"Ref": kit.read_parameter(template, INGEST_STREAM_ARN)},
            "output.stream.arn": {"Fn::GetAtt": [stream_id, "Arn"]},
            "views.stream.arn": {"Fn::GetAtt": [views_id, "Arn"]},
            "aws.region": {"Ref": "AWS::Region"},
            "window.seconds": "30",
            "allowed.lateness.seconds": "7.5",
            "dedupe.ttl.seconds": "900",
            "views.timeout.seconds": "240",
            "views.max.length.seconds": "7200",
            "revision.horizon.seconds": "300",
        },
    }
    flink = config["FlinkApplicationConfiguration"]
    assert flink["ParallelismConfiguration"]["Parallelism"] == 2
    assert flink["CheckpointConfiguration"] == {"ConfigurationType": "DEFAULT"}
    assert config["ApplicationSnapshotConfiguration"] == {"SnapshotsEnabled": True}
    (_, logging) = kit.only(
        resources, "AWS::KinesisAnalyticsV2::ApplicationCloudWatchLoggingOption"
    )
    assert logging["Properties"]["ApplicationName"] == {
        "Ref": kit.only(resources, "AWS::KinesisAnalyticsV2::Application")[0]
    }


def test_flink_role_reads_ingest_writes_rows_and_views_and_nothing_else(
    template: Template, resources: kit.Resources
) -> None:
    _, app = kit.only(resources, "AWS::KinesisAnalyticsV2::Application")
    role_id = app["Properties"]["ServiceExecutionRole"]["Fn::GetAtt"][0]
    trust = resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "kinesisanalytics.amazonaws.com"}]
    assert trust[0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }

    by_sid = {s["Sid"]: s for s in kit.role_statements(resources, role_id)}
    stream_id, views_id = streams(resources)
    assert set(by_sid) == {
        "ReadIngestStream",
        "WriteMetricRowAndViewStreams",
        "ReadApplicationCode",
        "ListLogGroups",
        "ListLogStreams",
        "WriteLogs",
    }
    read = by_sid["ReadIngestStream"]
    assert read["Resource"] == {"Ref": kit.read_parameter(template, INGEST_STREAM_ARN)}
    assert not [a for a in kit.actions(read) if "Put" in a]
    write = by_sid["WriteMetricRowAndViewStreams"]
    assert write["Resource"] == [
        {"Fn::GetAtt": [stream_id, "Arn"]},
        {"Fn::GetAtt": [views_id, "Arn"]},
    ]
    assert {"kinesis:PutRecord", "kinesis:PutRecords"} <= set(kit.actions(write))
    assert kit.actions(by_sid["ReadApplicationCode"]) == ["s3:GetObject", "s3:GetObjectVersion"]
    assert json.dumps(by_sid["ReadApplicationCode"]["Resource"]).endswith('.zip"]]}')
    assert json.dumps(by_sid["WriteLogs"]["Resource"]).count(":log-stream:") == 1
    assert not [s for s in by_sid.values() if s["Resource"] == "*"]


def test_both_streams_are_on_demand_and_encrypted(resources: kit.Resources) -> None:
    for stream_id in streams(resources):
        props = resources[stream_id]["Properties"]
        assert props["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
        assert props["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}


def test_publisher_function(resources: kit.Resources) -> None:
    props = function(resources, HANDLER)["Properties"]
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
    resources: kit.Resources,
) -> None:
    role_id = function(resources, HANDLER)["Properties"]["Role"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in resources[role_id]["Properties"]
    statements = kit.role_statements(resources, role_id)
    (put,) = [s for s in statements if "cloudwatch:PutMetricData" in kit.actions(s)]
    assert kit.actions(put) == ["cloudwatch:PutMetricData"]
    assert put["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": [NAMESPACE, LEGACY_NAMESPACE]}
    }
    # Only PutMetricData and X-Ray take no resource; everything else is scoped.
    unscoped = {a for s in statements if s["Resource"] == "*" for a in kit.actions(s)}
    assert unscoped == {
        "cloudwatch:PutMetricData",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    kinesis = {a for s in statements for a in kit.actions(s) if a.startswith("kinesis:")}
    assert {"kinesis:GetRecords", "kinesis:GetShardIterator"} <= kinesis
    assert not [a for a in kinesis if "Put" in a]


def test_event_source_mapping(resources: kit.Resources) -> None:
    _, mapping = kit.only(resources, "AWS::Lambda::EventSourceMapping")
    props = mapping["Properties"]
    stream_id = streams(resources)[0]  # the publisher reads the rows only
    queue_id = kit.only(resources, "AWS::SQS::Queue")[0]
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


# --- the application's lifecycle ----------------------------------------------------------------


def test_a_custom_resource_starts_the_application_after_it_is_created_or_changed(
    resources: kit.Resources,
) -> None:
    app_id, app = kit.only(resources, "AWS::KinesisAnalyticsV2::Application")
    logging_id, _ = kit.only(
        resources, "AWS::KinesisAnalyticsV2::ApplicationCloudWatchLoggingOption"
    )
    _, lifecycle = kit.only(resources, "Custom::QosFlinkApplicationLifecycle")
    # After the application and its configuration, so it runs after every update of either.
    assert {app_id, logging_id} <= set(lifecycle["DependsOn"])
    props = lifecycle["Properties"]
    assert props["ApplicationName"] == {"Ref": app_id}
    # A new zip (its asset hash names the S3 object) changes the resource: an Update.
    file_key = app["Properties"]["ApplicationConfiguration"]["ApplicationCodeConfiguration"][
        "CodeContent"
    ]["S3ContentLocation"]["FileKey"]
    assert f"{props['CodeAssetHash']}.zip" == file_key
    assert props["RuntimeEnvironment"] == DEFAULT_FLINK_RUNTIME
    assert props["Parallelism"] == "2/1"
    groups = app["Properties"]["ApplicationConfiguration"]["EnvironmentProperties"]
    assert props["JobProperties"] == groups["PropertyGroups"][1]["PropertyMap"]


def test_the_provider_framework_runs_the_lifecycle_function(resources: kit.Resources) -> None:
    _, lifecycle = kit.only(resources, "Custom::QosFlinkApplicationLifecycle")
    ours = [
        rid
        for rid, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == LIFECYCLE_HANDLER
    ]
    framework_id = kit.provider_framework_function(resources, ours[0])
    assert lifecycle["Properties"]["ServiceToken"] == {"Fn::GetAtt": [framework_id, "Arn"]}


def test_lifecycle_function_may_start_and_stop_this_application_only(
    resources: kit.Resources,
) -> None:
    app_id, _ = kit.only(resources, "AWS::KinesisAnalyticsV2::Application")
    props = function(resources, LIFECYCLE_HANDLER)["Properties"]
    assert (props["Runtime"], props["Timeout"]) == ("python3.12", 900)
    variables = props["Environment"]["Variables"]
    assert variables == {
        "QOS_REALTIME_LIFECYCLE_POLL_SECONDS": "10",
        "QOS_REALTIME_LIFECYCLE_TIMEOUT_SECONDS": "780",
        "QOS_REALTIME_LIFECYCLE_FORCE_STOP_AFTER_SECONDS": "300",
        "POWERTOOLS_SERVICE_NAME": "qos-realtime-lifecycle",
    }
    # The wait ends before the Lambda (and the framework, also 15 min) is cut off.
    assert float(variables["QOS_REALTIME_LIFECYCLE_TIMEOUT_SECONDS"]) < props["Timeout"] - 60
    role_id = props["Role"]["Fn::GetAtt"][0]
    statements = kit.role_statements(resources, role_id)
    (msf,) = [
        s for s in statements if any(a.startswith("kinesisanalytics:") for a in kit.actions(s))
    ]
    assert sorted(kit.actions(msf)) == [
        "kinesisanalytics:DescribeApplication",
        "kinesisanalytics:StartApplication",
        "kinesisanalytics:StopApplication",
    ]
    assert msf["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":kinesisanalytics:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":application/",
                {"Ref": app_id},
            ],
        ]
    }
    assert not [s for s in statements if s["Resource"] == "*"]
    assert {a.split(":")[0] for s in statements for a in kit.actions(s)} == {
        "kinesisanalytics",
        "logs",
    }


def _dashboard(resources: kit.Resources) -> dict[str, Any]:
    _, dashboard = kit.only(resources, "AWS::CloudWatch::Dashboard")
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
    resources: kit.Resources,
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
    resources: kit.Resources,
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


def test_alarms_and_thresholds(resources: kit.Resources) -> None:
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    topic_id = kit.only(resources, "AWS::SNS::Topic")[0]
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
        assert alarm["OKActions"] == [{"Ref": topic_id}]
    # No qos:realtime:alarmEmail: no subscription (the app test below has one).
    assert not [r for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"]


def test_ssm_parameters_and_no_exports(template: Template, resources: kit.Resources) -> None:
    parameters = kit.ssm_parameters(resources)
    stream_id, views_id = streams(resources)
    prefix = f"/qos/{ENV_NAME}/realtime/"
    assert parameters == {
        f"{prefix}metric-stream-arn": {"Fn::GetAtt": [stream_id, "Arn"]},
        f"{prefix}metric-stream-name": {"Ref": stream_id},
        f"{prefix}views-stream-arn": {"Fn::GetAtt": [views_id, "Arn"]},
        f"{prefix}views-stream-name": {"Ref": views_id},
        f"{prefix}flink-application-name": {
            "Ref": kit.only(resources, "AWS::KinesisAnalyticsV2::Application")[0]
        },
        f"{prefix}cloudwatch-namespace": NAMESPACE,
        f"{prefix}dashboard-name": {"Ref": kit.only(resources, "AWS::CloudWatch::Dashboard")[0]},
        f"{prefix}alarm-topic-arn": {"Ref": kit.only(resources, "AWS::SNS::Topic")[0]},
    }
    kit.assert_no_exports(template)


@pytest.fixture
def valid_settings(lambda_asset: Path, flink_zip: Path) -> dict[str, Any]:
    """What the bad-settings cases change one at a time: the stack's required settings."""
    return {"env_name": "dev", "lambda_asset_dir": lambda_asset, "flink_application_zip": flink_zip}


test_bad_settings_are_refused_before_synthesis = kit.bad_settings_test(
    RealtimeStack,
    [
        ({"env_name": "Prod"}, "env_name"),
        ({"flink_runtime": "1.20"}, "FLINK-x_y"),
        ({"window_seconds": 1}, "between 5 and 3600"),
        ({"allowed_lateness_seconds": -1}, "between 0 and 3600"),
        ({"dedupe_ttl_seconds": 5}, "exceed the allowed lateness"),
        ({"dedupe_ttl_seconds": 8 * 86_400}, "at most 7 days"),
        ({"view_timeout_seconds": 0}, "view_timeout_seconds"),
        ({"view_timeout_seconds": 600, "view_max_length_seconds": 300}, "view_max_length"),
        ({"view_max_length_seconds": 8 * 86_400}, "at most 7 days"),
        ({"revision_horizon_seconds": -1}, "revision_horizon_seconds"),
        ({"alarm_thresholds": {"no_such_kpi": 1}}, "unknown metrics"),
        ({"alarm_thresholds": {"rebuffering_ratio": float("nan")}}, "finite"),
        ({"alarm_evaluation_periods": 2, "alarm_datapoints_to_alarm": 3}, "datapoints"),
        ({"alarm_email": "oncall"}, "not an e-mail address"),
        ({"alarm_email": "On Call <oncall@example.com>"}, "not an e-mail address"),
    ],
)


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
            "qos:realtime:viewTimeoutSeconds": "120",
            "qos:realtime:viewMaxLengthSeconds": 3600,
            "qos:realtime:revisionHorizonSeconds": "120",
            "qos:realtime:namespace": "Demo/QoS",
            "qos:realtime:legacyMetrics": "false",
            "qos:realtime:channels": "a, b",
            "qos:realtime:alarmThresholds": '{"startup_time_p95": 3}',
            "qos:realtime:alarmEmail": ALARM_EMAIL,
        }
    )
    stack = add_realtime_stack(app, env_name="qa", env=None)
    assert stack.stack_name == "qos-qa-realtime"
    resources = Template.from_stack(stack).to_json()["Resources"]
    _, application = kit.only(resources, "AWS::KinesisAnalyticsV2::Application")
    assert application["Properties"]["RuntimeEnvironment"] == "FLINK-1_20"
    groups = application["Properties"]["ApplicationConfiguration"]["EnvironmentProperties"]
    assert {
        "window.seconds": "10",
        "views.timeout.seconds": "120",
        "views.max.length.seconds": "3600",
        "revision.horizon.seconds": "120",
    }.items() <= groups["PropertyGroups"][1]["PropertyMap"].items()
    variables = function(resources, HANDLER)["Properties"]["Environment"]["Variables"]
    assert variables["QOS_REALTIME_PUBLISHER_NAMESPACE"] == "Demo/QoS"
    assert variables["QOS_REALTIME_PUBLISHER_LEGACY_METRICS"] == "false"
    assert variables["QOS_REALTIME_PUBLISHER_CHANNELS"] == "a,b"
    alarms = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert [(a["Properties"]["MetricName"], a["Properties"]["Threshold"]) for a in alarms] == [
        ("StartupTime", 3)
    ]
    topic_id, _ = kit.only(resources, "AWS::SNS::Topic")
    _, subscription = kit.only(resources, "AWS::SNS::Subscription")
    assert subscription["Properties"] == {
        "Protocol": "email",
        "Endpoint": ALARM_EMAIL,
        "TopicArn": {"Ref": topic_id},
    }


def test_an_invalid_alarm_email_in_context_is_refused_before_synthesis(
    lambda_asset: Path, flink_zip: Path
) -> None:
    app = _fast_app(
        **{
            "qos:realtime:lambdaAssetDir": str(lambda_asset),
            "qos:realtime:flinkApplicationZip": str(flink_zip),
            "qos:realtime:alarmEmail": "oncall@",
        }
    )
    with pytest.raises(ValueError, match="'oncall@' is not an e-mail address"):
        add_realtime_stack(app, env_name="qa", env=None)


def test_cdk_json_runs_the_app_with_the_platform_s_feature_flags() -> None:
    ours = json.loads((REALTIME_ROOT / "cdk.json").read_text(encoding="utf-8"))
    assert ours["app"] == "python -m qos_realtime_infra.app"
    flags = kit.feature_flags(REALTIME_ROOT / "cdk.json")
    assert flags
    assert flags == kit.feature_flags(REALTIME_ROOT.parents[1] / "infra" / "cdk.json")


def test_flink_and_publisher_scaling_come_from_context(lambda_asset: Path, flink_zip: Path) -> None:
    app = _fast_app(
        **{
            "qos:realtime:lambdaAssetDir": str(lambda_asset),
            "qos:realtime:flinkApplicationZip": str(flink_zip),
            "qos:realtime:flinkRuntime": "FLINK-1_20",
            "qos:realtime:flinkParallelism": "8",
            "qos:realtime:flinkParallelismPerKpu": 2,
            "qos:realtime:flinkAutoScaling": "false",
            "qos:realtime:publisherMemoryMiB": "512",
            "qos:realtime:publisherReservedConcurrency": "4",
        }
    )
    resources = Template.from_stack(add_realtime_stack(app, env_name="qa", env=None)).to_json()[
        "Resources"
    ]
    _, application = kit.only(resources, "AWS::KinesisAnalyticsV2::Application")
    flink_config = application["Properties"]["ApplicationConfiguration"][
        "FlinkApplicationConfiguration"
    ]
    assert flink_config["ParallelismConfiguration"] == {
        "ConfigurationType": "CUSTOM",
        "Parallelism": 8,
        "ParallelismPerKPU": 2,
        "AutoScalingEnabled": False,
    }
    publisher = function(resources, HANDLER)["Properties"]
    assert (publisher["MemorySize"], publisher["ReservedConcurrentExecutions"]) == (512, 4)


def test_flink_parallelism_per_kpu_out_of_range_is_refused(
    lambda_asset: Path, flink_zip: Path
) -> None:
    app = _fast_app(
        **{
            "qos:realtime:lambdaAssetDir": str(lambda_asset),
            "qos:realtime:flinkApplicationZip": str(flink_zip),
            "qos:realtime:flinkRuntime": "FLINK-1_20",
            "qos:realtime:flinkParallelismPerKpu": "9",
        }
    )
    with pytest.raises(ValueError, match="flinkParallelismPerKpu: 1-8"):
        add_realtime_stack(app, env_name="qa", env=None)
