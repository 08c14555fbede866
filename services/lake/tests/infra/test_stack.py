"""Tests of the lake's CDK stack: the synthesized template, cfn-lint, the settings checks.

The stack is synthesized once per module (jsii makes every synthesis cost seconds); assertions
read the one template. Expected values are written out here, or derived from the lake's own
schema and queries, not from the stack's code.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from moto import mock_aws

from qos_lake.api import QUERIES
from qos_lake.domain.layout import VIEWS, partition_dir
from qos_lake_infra import LakeStack, add_lake_stack
from qos_lake_infra.catalog import glue_columns
from qos_shared.eventtime import hour_bucket
from qos_shared.record_schema import column_types
from qos_shared.testing.sessions import Sessions, every_outcome
from qos_shared.testing.views_oracle import views
from qos_shared.views import VIEW_FIELDS
from qos_shared_cdk.app import run_alone
from qos_shared_cdk.testing import template as kit

pytestmark = pytest.mark.infra
# The kit's shared test, run on this module's template.
test_template_passes_cfn_lint = kit.test_template_passes_cfn_lint

ENV_NAME = "test-1"
INGEST_STREAM_ARN = f"/qos/{ENV_NAME}/ingest/stream-arn"
VIEWS_STREAM_ARN = f"/qos/{ENV_NAME}/realtime/views-stream-arn"
DATABASE = "qos_test_1_lake"
LAKE_ROOT = Path(__file__).resolve().parents[2]
GLUE_TYPES = {"string": "string", "int": "bigint", "float": "double", "bool": "boolean"}
GLUE_TYPES["json"] = "string"
# Each table's columns, from the definitions (the record schema; a view record's fields).
VIEW_GLUE_TYPES = {"STRING": "string", "BIGINT": "bigint", "DOUBLE": "double", "BOOLEAN": "boolean"}
TABLE_COLUMNS = {
    "events": [{"Name": n, "Type": GLUE_TYPES[k]} for n, k in column_types().items()],
    "views": [{"Name": n, "Type": VIEW_GLUE_TYPES[k]} for n, k in VIEW_FIELDS.items()],
}
# Each table's delivery stream: the SSM parameter of its source stream, and its prefixes.
SOURCES = {"events": INGEST_STREAM_ARN, "views": VIEWS_STREAM_ARN}
ERROR_PREFIXES = {"events": "errors/", "views": "errors/views/"}


def _app(**context: Any) -> App:
    return App(context=kit.cdk_context(LAKE_ROOT, **context))


def _cli_app(outdir: Path, **context: Any) -> App:
    return App(outdir=str(outdir), context=kit.cdk_context(LAKE_ROOT, **context))


@pytest.fixture(scope="module")
def valid_settings() -> dict[str, Any]:
    """The settings of the stack under test, away from the defaults so that each shows; the
    bad-settings cases change one of them at a time."""
    return {
        "env_name": ENV_NAME,
        "buffer_size_mib": 64,
        "buffer_interval_seconds": 120,
        "transition_to_ia_days": 60,
        "expire_data_days": 400,
        "projection_start": "2025-01-01",
        "bytes_scanned_cutoff_gib": 2,
    }


@pytest.fixture(scope="module")
def template(valid_settings: dict[str, Any]) -> Template:
    return Template.from_stack(LakeStack(_app(), f"qos-{ENV_NAME}-lake", **valid_settings))


def _bucket_id(resources: kit.Resources) -> str:
    return kit.only(resources, "AWS::S3::Bucket")[0]


def _joined(bucket_id: str, suffix: str, prefix: str = "s3://") -> dict[str, Any]:
    return {"Fn::Join": ["", [prefix, {"Ref": bucket_id}, suffix]]}


def _glue_table(resources: kit.Resources, name: str) -> dict[str, Any]:
    (table,) = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Glue::Table" and r["Properties"]["TableInput"]["Name"] == name
    ]
    return table


def _delivery_stream(
    template: Template, resources: kit.Resources, source_parameter: str
) -> tuple[dict[str, Any], str]:
    """The delivery stream reading the Kinesis stream whose ARN the stack reads from SSM
    `source_parameter`, created after the one policy of its role: (stream, role id)."""
    source_ref = {"Ref": kit.read_parameter(template, source_parameter)}
    (stream,) = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::KinesisFirehose::DeliveryStream"
        and r["Properties"]["KinesisStreamSourceConfiguration"]["KinesisStreamARN"] == source_ref
    ]
    props = stream["Properties"]
    assert props["DeliveryStreamType"] == "KinesisStreamAsSource"
    source = props["KinesisStreamSourceConfiguration"]
    role_id: str = source["RoleARN"]["Fn::GetAtt"][0]
    (policy_id,) = [
        rid
        for rid, r in resources.items()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
    ]
    assert policy_id in stream["DependsOn"]
    return stream, role_id


def test_bucket_is_private_encrypted_tls_only_with_lifecycle(
    resources: kit.Resources,
) -> None:
    _, rules = kit.assert_private_bucket(resources)
    assert rules["LakeData"]["Prefix"] == "events/"
    assert rules["LakeData"]["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": 60}
    ]
    assert rules["LakeData"]["ExpirationInDays"] == 400
    # The views age like the events.
    assert rules["LakeViews"]["Prefix"] == "views/"
    assert {k: v for k, v in rules["LakeViews"].items() if k not in ("Id", "Prefix")} == {
        k: v for k, v in rules["LakeData"].items() if k not in ("Id", "Prefix")
    }
    assert (rules["Errors"]["Prefix"], rules["Errors"]["ExpirationInDays"]) == ("errors/", 90)
    assert rules["AthenaResults"]["Prefix"] == "athena-results/"
    # Versioned, and old versions go after 30 days.
    bucket_id = _bucket_id(resources)
    assert resources[bucket_id]["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert rules["NoncurrentVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rules["NoncurrentVersions"]["ExpiredObjectDeleteMarker"] is True


@pytest.mark.parametrize("name", ["events", "views"])
def test_glue_table_has_every_lake_column_and_projected_partitions(
    resources: kit.Resources, name: str
) -> None:
    database_id, database = kit.only(resources, "AWS::Glue::Database")
    assert database["Properties"]["DatabaseInput"]["Name"] == DATABASE
    assert len([r for r in resources.values() if r["Type"] == "AWS::Glue::Table"]) == 2
    table = _glue_table(resources, name)
    assert database_id in table["DependsOn"]
    props = table["Properties"]
    assert props["DatabaseName"] == DATABASE
    table_input = props["TableInput"]
    assert table_input["TableType"] == "EXTERNAL_TABLE"
    storage = table_input["StorageDescriptor"]
    assert storage["Columns"] == TABLE_COLUMNS[name]
    assert table_input["PartitionKeys"] == [
        {"Name": "dt", "Type": "string"},
        {"Name": "hour", "Type": "string"},
    ]
    assert storage["SerdeInfo"]["SerializationLibrary"] == (
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    )
    assert storage["InputFormat"].endswith("MapredParquetInputFormat")
    assert storage["OutputFormat"].endswith("MapredParquetOutputFormat")
    bucket_id = _bucket_id(resources)
    assert storage["Location"] == _joined(bucket_id, f"/{name}/")
    params = table_input["Parameters"]
    assert params["storage.location.template"] == _joined(
        bucket_id, f"/{name}/dt=${{dt}}/hour=${{hour}}/"
    )
    assert {k: v for k, v in params.items() if k.startswith("projection.")} == {
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": "2025-01-01,NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "projection.hour.type": "integer",
        "projection.hour.range": "0,23",
        "projection.hour.digits": "2",
    }


@pytest.mark.parametrize("name", ["events", "views"])
def test_firehose_reads_its_stream_and_writes_parquet_of_its_table(
    template: Template, resources: kit.Resources, name: str
) -> None:
    """The ingest stream into `events/`, the realtime stack's views stream into `views/`."""
    # Created after the role's policy: Firehose validates the role's access.
    stream, role_id = _delivery_stream(template, resources, SOURCES[name])
    dest = stream["Properties"]["ExtendedS3DestinationConfiguration"]
    bucket_id = _bucket_id(resources)
    assert dest["BucketARN"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert dest["Prefix"] == (
        f"{name}/dt=!{{partitionKeyFromQuery:dt}}/hour=!{{partitionKeyFromQuery:hour}}/"
    )
    assert dest["ErrorOutputPrefix"] == (
        f"{ERROR_PREFIXES[name]}!{{firehose:error-output-type}}/dt=!{{timestamp:yyyy-MM-dd}}/"
    )
    assert dest["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 120}
    assert dest["CompressionFormat"] == "UNCOMPRESSED"
    conversion = dest["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    assert conversion["InputFormatConfiguration"] == {"Deserializer": {"OpenXJsonSerDe": {}}}
    assert conversion["OutputFormatConfiguration"] == {
        "Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}
    }
    schema = conversion["SchemaConfiguration"]
    assert (schema["DatabaseName"], schema["TableName"], schema["VersionId"]) == (
        DATABASE,
        name,
        "LATEST",
    )
    assert dest["RoleARN"] == schema["RoleARN"] == {"Fn::GetAtt": [role_id, "Arn"]}
    # Firehose reads the table when it creates the stream.
    table_id = next(i for i, r in resources.items() if r is _glue_table(resources, name))
    assert table_id in stream["DependsOn"]
    names = [
        r["Properties"]["DeliveryStreamName"]
        for r in resources.values()
        if r["Type"] == "AWS::KinesisFirehose::DeliveryStream"
    ]
    assert sorted(names) == [f"qos-{ENV_NAME}-lake", f"qos-{ENV_NAME}-lake-views"]


def _partition_query(
    template: Template, resources: kit.Resources, source: str = INGEST_STREAM_ARN
) -> tuple[str, str]:
    """The deployed MetadataExtractionQuery and its engine, of the stream reading `source`."""
    stream, _ = _delivery_stream(template, resources, source)
    dest = stream["Properties"]["ExtendedS3DestinationConfiguration"]
    assert dest["DynamicPartitioningConfiguration"]["Enabled"] is True
    (processor,) = dest["ProcessingConfiguration"]["Processors"]
    assert dest["ProcessingConfiguration"]["Enabled"] is True
    assert processor["Type"] == "MetadataExtraction"
    params = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    return params["MetadataExtractionQuery"], params["JsonParsingEngine"]


def _jq(query: str, records: list[dict[str, Any]]) -> list[Any]:
    """jq from Debian (dev.py installs it), one output line per record."""
    done = subprocess.run(
        ["jq", "-c", query],
        input="\n".join(json.dumps(r) for r in records),
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_firehose_partitions_each_record_by_its_event_time_as_the_local_writer(
    template: Template, resources: kit.Resources
) -> None:
    """The deployed jq query, run by Debian's jq 1.6 (Firehose's engine is JQ-1.6), on golden
    records across days and hours: its dt/hour are the local writer's partition for each."""
    query, engine = _partition_query(template, resources)
    assert engine == "JQ-1.6"
    version = subprocess.run(["jq", "--version"], capture_output=True, text=True).stdout
    assert version.strip().startswith("jq-1.6"), version
    start = 1_795_000_000_000 - 90 * 60_000  # spans an hour and a day boundary
    records = Sessions(every_outcome(start, 3 * 3_600_000, 60), 5).records()
    edges = [{"event_time": t} for t in (0, 86_399_999, 86_400_000, 1_795_046_399_999)]
    keys = _jq(query, [*records, *edges])
    assert len(keys) == len(records) + len(edges)
    for record, key in zip([*records, *edges], keys, strict=True):
        local = partition_dir(Path("/lake"), hour_bucket(record["event_time"]))
        assert local.parts[-2:] == (f"dt={key['dt']}", f"hour={key['hour']}"), record
    assert len({(k["dt"], k["hour"]) for k in keys}) >= 3


def test_the_views_firehose_partitions_each_view_by_its_close_time_as_the_local_writer(
    template: Template, resources: kit.Resources
) -> None:
    """The views stream's jq query on the oracle's view records (over an hour and a day
    boundary): each view's dt/hour are the local views writer's partition of its close time."""
    query, engine = _partition_query(template, resources, VIEWS_STREAM_ARN)
    assert engine == "JQ-1.6"
    start = 1_795_000_000_000 - 90 * 60_000
    records = views(Sessions(every_outcome(start, 3 * 3_600_000, 60), 5).records())
    keys = _jq(query, records)
    assert len(keys) == len(records) > 0
    for record, key in zip(records, keys, strict=True):
        local = partition_dir(Path("/lake"), hour_bucket(record["event_time"]), VIEWS)
        assert local.parts[-3:] == ("views", f"dt={key['dt']}", f"hour={key['hour']}"), record
    assert len({(k["dt"], k["hour"]) for k in keys}) >= 3


def test_a_record_firehose_cannot_partition_goes_to_the_error_prefix(
    template: Template, resources: kit.Resources
) -> None:
    """jq fails on a record without a numeric event_time: Firehose files it under the error
    prefix (which must name the error type), never in a wrong partition."""
    for source in (INGEST_STREAM_ARN, VIEWS_STREAM_ARN):
        query, _ = _partition_query(template, resources, source)
        for bad in ({"event_id": "x"}, {"event_time": "soon"}):
            done = subprocess.run(
                ["jq", "-c", query], input=json.dumps(bad), capture_output=True, text=True
            )
            assert done.returncode != 0, (bad, done.stdout)
        stream, _ = _delivery_stream(template, resources, source)
        destination = stream["Properties"]["ExtendedS3DestinationConfiguration"]
        assert "!{firehose:error-output-type}" in destination["ErrorOutputPrefix"]


def test_the_views_firehose_role_has_least_privilege(
    template: Template, resources: kit.Resources
) -> None:
    """A role of its own: it reads the views stream and the `views` table, writes only under
    `views/` and `errors/views/`."""
    _, role_id = _delivery_stream(template, resources, VIEWS_STREAM_ARN)
    _, events_role = _delivery_stream(template, resources, INGEST_STREAM_ARN)
    assert role_id != events_role
    own_sids = {"ReadTableSchema", "WriteLakeViews"}
    statements = kit.assert_firehose_role(template, resources, role_id, VIEWS_STREAM_ARN, own_sids)
    glue = statements["ReadTableSchema"]
    tables = [json.dumps(arn) for arn in glue["Resource"] if ":table/" in json.dumps(arn)]
    assert len(tables) == 1 and f":table/{DATABASE}/views" in tables[0]
    write = statements["WriteLakeViews"]
    assert sorted(write["Action"]) == ["s3:AbortMultipartUpload", "s3:PutObject"]
    bucket_arn = {"Fn::GetAtt": [_bucket_id(resources), "Arn"]}
    assert sorted(map(json.dumps, write["Resource"])) == sorted(
        json.dumps({"Fn::Join": ["", [bucket_arn, suffix]]})
        for suffix in ("/views/*", "/errors/views/*")
    )
    assert not any(
        a.endswith(":*") or a == "*" for s in statements.values() for a in kit.actions(s)
    )


def test_firehose_role_has_least_privilege(template: Template, resources: kit.Resources) -> None:
    _, role_id = _delivery_stream(template, resources, INGEST_STREAM_ARN)
    # Besides reading the stream, finding the bucket and logging: the table, the lake's prefixes.
    own_sids = {"ReadTableSchema", "WriteLakeObjects"}
    statements = kit.assert_firehose_role(template, resources, role_id, INGEST_STREAM_ARN, own_sids)
    glue = statements["ReadTableSchema"]
    assert sorted(glue["Action"]) == [
        "glue:GetTable",
        "glue:GetTableVersion",
        "glue:GetTableVersions",
    ]
    assert any(f":table/{DATABASE}/events" in json.dumps(arn) for arn in glue["Resource"]), glue[
        "Resource"
    ]
    assert not any("*" in json.dumps(arn) for arn in glue["Resource"])
    write = statements["WriteLakeObjects"]
    assert sorted(write["Action"]) == ["s3:AbortMultipartUpload", "s3:PutObject"]
    bucket_arn = {"Fn::GetAtt": [_bucket_id(resources), "Arn"]}
    assert sorted(map(json.dumps, write["Resource"])) == sorted(
        json.dumps({"Fn::Join": ["", [bucket_arn, suffix]]})
        for suffix in ("/events/*", "/errors/*")
    )
    assert statements["LocateBucket"]["Resource"] == bucket_arn
    assert not any(
        a.endswith(":*") or a == "*" for s in statements.values() for a in kit.actions(s)
    )


def test_athena_workgroup_is_enforced_encrypted_and_capped(
    resources: kit.Resources,
) -> None:
    _, workgroup = kit.only(resources, "AWS::Athena::WorkGroup")
    props = workgroup["Properties"]
    assert props["Name"] == f"qos-{ENV_NAME}-lake"
    config = props["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == 2 * 1024**3
    assert config["ResultConfiguration"] == {
        "OutputLocation": _joined(_bucket_id(resources), "/athena-results/"),
        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
    }


def test_every_named_query_is_deployed_with_its_exact_text(
    resources: kit.Resources,
) -> None:
    workgroup_id, _ = kit.only(resources, "AWS::Athena::WorkGroup")
    deployed = {
        r["Properties"]["Name"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Athena::NamedQuery"
    }
    assert set(deployed) == set(QUERIES)
    assert len(deployed) == len(QUERIES) > 0
    for name, query in QUERIES.items():
        props = deployed[name]
        assert props["QueryString"] == query.sql, name
        assert props["Database"] == DATABASE
        assert props["WorkGroup"] == {"Ref": workgroup_id}
        assert props["Description"] == query.description


def test_ssm_parameters_publish_the_lake(resources: kit.Resources) -> None:
    names = kit.ssm_parameters(resources)
    prefix = f"/qos/{ENV_NAME}/lake/"
    assert {"bucket-name", "database", "table", "workgroup"} <= {
        n.removeprefix(prefix) for n in names
    }
    assert names[prefix + "database"] == DATABASE
    assert names[prefix + "table"] == "events"
    assert names[prefix + "bucket-name"] == {"Ref": _bucket_id(resources)}
    assert names[prefix + "views-table"] == "views"
    views_stream = {
        r["Properties"]["DeliveryStreamName"]: i
        for i, r in resources.items()
        if r["Type"] == "AWS::KinesisFirehose::DeliveryStream"
    }
    assert names[prefix + "views-delivery-stream-name"] == {
        "Ref": views_stream[f"qos-{ENV_NAME}-lake-views"]
    }


def test_the_stack_reads_the_realtime_views_stream_from_ssm(template: Template) -> None:
    """Its ARN is a deploy-time SSM parameter (so the app deploys realtime before the lake)."""
    assert kit.read_parameter(template, VIEWS_STREAM_ARN)
    assert kit.read_parameter(template, INGEST_STREAM_ARN)


def test_app_reads_its_settings_from_context() -> None:
    app = _app(
        **{
            "qos:lake:bufferIntervalSeconds": "60",
            "qos:lake:transitionToIaDays": "none",
            "qos:lake:bytesScannedCutoffGiB": 1,
        }
    )
    resources = Template.from_stack(add_lake_stack(app, env_name="ctx", env=None)).to_json()[
        "Resources"
    ]
    streams = [r for r in resources.values() if r["Type"] == "AWS::KinesisFirehose::DeliveryStream"]
    assert len(streams) == 2
    for stream in streams:  # both delivery streams buffer alike
        hints = stream["Properties"]["ExtendedS3DestinationConfiguration"]["BufferingHints"]
        assert hints == {"SizeInMBs": 128, "IntervalInSeconds": 60}
    _, bucket = kit.only(resources, "AWS::S3::Bucket")
    rule_ids = {r["Id"] for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert not {"LakeData", "LakeViews"} & rule_ids  # neither a transition nor an expiry
    _, workgroup = kit.only(resources, "AWS::Athena::WorkGroup")
    assert (
        workgroup["Properties"]["WorkGroupConfiguration"]["BytesScannedCutoffPerQuery"] == 1024**3
    )


test_bad_settings_are_refused_before_synthesis = kit.bad_settings_test(
    LakeStack,
    [
        ({"env_name": "Prod"}, "env_name"),
        ({"buffer_size_mib": 32}, "between 64 and 128"),
        ({"buffer_interval_seconds": 901}, "0-900"),
        ({"transition_to_ia_days": 10}, "at least 30"),
        ({"transition_to_ia_days": 60, "expire_data_days": 30}, "after transition"),
        ({"bytes_scanned_cutoff_gib": 0.001}, "too small"),
    ],
)


# --- the standalone app: deployed before ingest, it stops and says so --------------------------


@pytest.fixture
def cdk_cli_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """What the CDK CLI sets when it runs the app, with moto standing in for the account."""
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield


@pytest.mark.usefixtures("cdk_cli_environment")
def test_alone_before_ingest_the_app_names_the_missing_parameter(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stopped:
        run_alone(add_lake_stack, _cli_app(tmp_path / "cdk.out", **{"qos:env": "qa"}))
    assert str(stopped.value) == (
        "error: qos-qa-lake reads SSM parameter /qos/qa/ingest/stream-arn, which does not "
        "exist: deploy qos-qa-ingest first (see README, Deploying to AWS)"
    )
    assert not (tmp_path / "cdk.out" / "qos-qa-lake.template.json").exists()


@pytest.mark.usefixtures("cdk_cli_environment")
def test_alone_after_ingest_but_before_realtime_the_app_names_the_views_stream(
    tmp_path: Path,
) -> None:
    boto3.client("ssm", region_name="eu-west-1").put_parameter(
        Name="/qos/qa/ingest/stream-arn",
        Value="arn:aws:kinesis:eu-west-1:123456789012:stream/events",
        Type="String",
    )
    with pytest.raises(SystemExit) as stopped:
        run_alone(add_lake_stack, _cli_app(tmp_path / "cdk.out", **{"qos:env": "qa"}))
    assert str(stopped.value) == (
        "error: qos-qa-lake reads SSM parameter /qos/qa/realtime/views-stream-arn, which does not "
        "exist: deploy qos-qa-realtime first (see README, Deploying to AWS)"
    )


@pytest.mark.usefixtures("cdk_cli_environment")
def test_alone_after_ingest_and_realtime_the_app_synthesizes(tmp_path: Path) -> None:
    ssm = boto3.client("ssm", region_name="eu-west-1")
    for name, stream in (("ingest/stream-arn", "events"), ("realtime/views-stream-arn", "views")):
        ssm.put_parameter(
            Name=f"/qos/qa/{name}",
            Value=f"arn:aws:kinesis:eu-west-1:123456789012:stream/{stream}",
            Type="String",
        )
    stack = run_alone(add_lake_stack, _cli_app(tmp_path / "cdk.out", **{"qos:env": "qa"}))
    assert stack.stack_name == "qos-qa-lake"
    assert (tmp_path / "cdk.out" / "qos-qa-lake.template.json").is_file()


@pytest.mark.usefixtures("cdk_cli_environment")
def test_the_preflight_is_skipped_for_an_offline_synth(tmp_path: Path) -> None:
    run_alone(
        add_lake_stack,
        _cli_app(tmp_path / "cdk.out", **{"qos:env": "qa", "qos:skipPreflight": "true"}),
    )
    assert (tmp_path / "cdk.out" / "qos-qa-lake.template.json").is_file()


def test_the_glue_events_table_has_the_playback_columns() -> None:
    """Athena and Trino read the SDK's playback fields as typed columns of `events`."""
    columns = {c["Name"]: c["Type"] for c in glue_columns()}
    assert {
        name: columns.get(name)
        for name in (
            "playback_id",
            "page_url",
            "referrer_host",
            "sdk_version",
            "player_version",
            "bandwidth_estimate_bps",
        )
    } == {
        "playback_id": "string",
        "page_url": "string",
        "referrer_host": "string",
        "sdk_version": "string",
        "player_version": "string",
        "bandwidth_estimate_bps": "bigint",
    }


def test_app_refuses_storage_settings_out_of_range_by_their_key() -> None:
    app = _app(**{"qos:lake:transitionToIaDays": "10"})
    with pytest.raises(ValueError, match="qos:lake:transitionToIaDays: 30-36500, got 10"):
        add_lake_stack(app, env_name="ctx", env=None)
