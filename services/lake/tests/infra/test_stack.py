"""Tests of the lake's CDK stack: the synthesized template, cfn-lint, the settings checks.

The stack is synthesized once per module (jsii makes every synthesis cost seconds); assertions
read the one template. Expected values are written out here, or derived from the lake's own
schema and queries, not from the stack's code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from qos_lake.api import QUERIES
from qos_lake_infra.app import add_lake_stack
from qos_lake_infra.stack import LakeStack
from qos_shared.record_schema import column_types

pytestmark = pytest.mark.infra

ENV_NAME = "test-1"
DATABASE = "qos_test_1_lake"
LAKE_ROOT = Path(__file__).resolve().parents[2]
GLUE_TYPES = {"string": "string", "int": "bigint", "float": "double", "bool": "boolean"}
GLUE_TYPES["json"] = "string"

# cfn-lint findings accepted on purpose, each with why; anything else fails the test.
ACCEPTED_CFN_LINT = {
    "W3005": "redundant DependsOn that CDK may add",
}


def _app(**context: Any) -> App:
    cdk = json.loads((LAKE_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return App(context={**cdk, **context})


@pytest.fixture(scope="module")
def template() -> Template:
    stack = LakeStack(
        _app(),
        f"qos-{ENV_NAME}-lake",
        env_name=ENV_NAME,
        buffer_size_mib=64,
        buffer_interval_seconds=120,
        transition_to_ia_days=60,
        expire_data_days=400,
        projection_start="2025-01-01",
        bytes_scanned_cutoff_gib=2,
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


def _bucket_id(resources: dict[str, dict[str, Any]]) -> str:
    return _only(resources, "AWS::S3::Bucket")[0]


def _joined(bucket_id: str, suffix: str, prefix: str = "s3://") -> dict[str, Any]:
    return {"Fn::Join": ["", [prefix, {"Ref": bucket_id}, suffix]]}


def test_bucket_is_private_encrypted_tls_only_with_lifecycle(
    resources: dict[str, dict[str, Any]],
) -> None:
    bucket_id, bucket = _only(resources, "AWS::S3::Bucket")
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
    assert rules["LakeData"]["Prefix"] == "events/"
    assert rules["LakeData"]["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": 60}
    ]
    assert rules["LakeData"]["ExpirationInDays"] == 400
    assert (rules["Errors"]["Prefix"], rules["Errors"]["ExpirationInDays"]) == ("errors/", 90)
    assert rules["AthenaResults"]["Prefix"] == "athena-results/"

    _, policy = _only(resources, "AWS::S3::BucketPolicy")
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}


def test_glue_table_has_every_lake_column_and_projected_partitions(
    resources: dict[str, dict[str, Any]],
) -> None:
    _, database = _only(resources, "AWS::Glue::Database")
    assert database["Properties"]["DatabaseInput"]["Name"] == DATABASE
    _, table = _only(resources, "AWS::Glue::Table")
    props = table["Properties"]
    assert props["DatabaseName"] == DATABASE
    table_input = props["TableInput"]
    assert table_input["Name"] == "events"
    assert table_input["TableType"] == "EXTERNAL_TABLE"
    storage = table_input["StorageDescriptor"]
    assert storage["Columns"] == [
        {"Name": name, "Type": GLUE_TYPES[kind]} for name, kind in column_types().items()
    ]
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
    assert storage["Location"] == _joined(bucket_id, "/events/")
    params = table_input["Parameters"]
    assert params["storage.location.template"] == _joined(
        bucket_id, "/events/dt=${dt}/hour=${hour}/"
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


def _ingest_arn_parameter(template: Template) -> str:
    parameters = template.to_json()["Parameters"]
    (name,) = [
        pid
        for pid, p in parameters.items()
        if p.get("Default") == f"/qos/{ENV_NAME}/ingest/stream-arn"
    ]
    assert parameters[name]["Type"] == "AWS::SSM::Parameter::Value<String>"
    return str(name)


def test_firehose_reads_the_ingest_stream_and_writes_parquet(
    template: Template, resources: dict[str, dict[str, Any]]
) -> None:
    _, stream = _only(resources, "AWS::KinesisFirehose::DeliveryStream")
    props = stream["Properties"]
    assert props["DeliveryStreamType"] == "KinesisStreamAsSource"
    source = props["KinesisStreamSourceConfiguration"]
    assert source["KinesisStreamARN"] == {"Ref": _ingest_arn_parameter(template)}
    dest = props["ExtendedS3DestinationConfiguration"]
    bucket_id = _bucket_id(resources)
    assert dest["BucketARN"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert dest["Prefix"] == "events/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/"
    assert dest["ErrorOutputPrefix"] == (
        "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
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
        "events",
        "LATEST",
    )
    role_id = source["RoleARN"]["Fn::GetAtt"][0]
    assert dest["RoleARN"] == schema["RoleARN"] == {"Fn::GetAtt": [role_id, "Arn"]}
    # The role's policy exists before Firehose validates the stream.
    (policy_id,) = [
        rid
        for rid, r in resources.items()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
    ]
    assert policy_id in stream["DependsOn"]


def test_firehose_role_has_least_privilege(
    template: Template, resources: dict[str, dict[str, Any]]
) -> None:
    _, stream = _only(resources, "AWS::KinesisFirehose::DeliveryStream")
    role_id = stream["Properties"]["KinesisStreamSourceConfiguration"]["RoleARN"]["Fn::GetAtt"][0]
    trust = resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "firehose.amazonaws.com"}]
    assert trust[0]["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "AWS::AccountId"}}}
    statements = {
        s["Sid"]: s
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    }
    assert set(statements) == {
        "ReadIngestStream",
        "ReadTableSchema",
        "LocateBucket",
        "WriteLakeObjects",
        "WriteLogs",
    }
    assert all(s["Effect"] == "Allow" for s in statements.values())
    read = statements["ReadIngestStream"]
    assert read["Resource"] == {"Ref": _ingest_arn_parameter(template)}
    assert all(a.startswith("kinesis:") and "Put" not in a for a in read["Action"])
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
        a.endswith(":*") or a == "*"
        for s in statements.values()
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )


def test_athena_workgroup_is_enforced_encrypted_and_capped(
    resources: dict[str, dict[str, Any]],
) -> None:
    _, workgroup = _only(resources, "AWS::Athena::WorkGroup")
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
    resources: dict[str, dict[str, Any]],
) -> None:
    workgroup_id, _ = _only(resources, "AWS::Athena::WorkGroup")
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


def test_ssm_parameters_publish_the_lake(resources: dict[str, dict[str, Any]]) -> None:
    names = {
        r["Properties"]["Name"]: r["Properties"]["Value"]
        for r in resources.values()
        if r["Type"] == "AWS::SSM::Parameter"
    }
    prefix = f"/qos/{ENV_NAME}/lake/"
    assert {"bucket-name", "database", "table", "workgroup"} <= {
        n.removeprefix(prefix) for n in names
    }
    assert names[prefix + "database"] == DATABASE
    assert names[prefix + "table"] == "events"
    assert names[prefix + "bucket-name"] == {"Ref": _bucket_id(resources)}


def test_template_passes_cfn_lint(template: Template, tmp_path: Path) -> None:
    from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

    path = tmp_path / "lake.template.json"
    path.write_text(json.dumps(template.to_json(), indent=1), encoding="utf-8")
    findings = lint_file(path, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    unexpected = [
        f"{m.rule.id} {m.message} (line {m.linenumber})"
        for m in findings
        if m.rule.id not in ACCEPTED_CFN_LINT
    ]
    assert not unexpected, "\n".join(unexpected)


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
    _, stream = _only(resources, "AWS::KinesisFirehose::DeliveryStream")
    hints = stream["Properties"]["ExtendedS3DestinationConfiguration"]["BufferingHints"]
    assert hints == {"SizeInMBs": 128, "IntervalInSeconds": 60}
    _, bucket = _only(resources, "AWS::S3::Bucket")
    rule_ids = {r["Id"] for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert "LakeData" not in rule_ids  # neither a transition nor an expiry
    _, workgroup = _only(resources, "AWS::Athena::WorkGroup")
    assert (
        workgroup["Properties"]["WorkGroupConfiguration"]["BytesScannedCutoffPerQuery"] == 1024**3
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"env_name": "Prod"}, "env_name"),
        ({"buffer_size_mib": 32}, "between 64 and 128"),
        ({"buffer_interval_seconds": 901}, "0-900"),
        ({"transition_to_ia_days": 10}, "at least 30"),
        ({"transition_to_ia_days": 60, "expire_data_days": 30}, "after transition"),
        ({"bytes_scanned_cutoff_gib": 0.001}, "too small"),
    ],
)
def test_bad_settings_are_refused_before_synthesis(overrides: dict[str, Any], message: str) -> None:
    settings: dict[str, Any] = {"env_name": "test", **overrides}
    with pytest.raises(ValueError, match=message):
        LakeStack(App(), "qos-test-lake", **settings)
