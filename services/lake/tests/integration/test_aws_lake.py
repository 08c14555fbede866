"""The lake's Glue table and Firehose delivery against moto: what an emulator can prove.

The Glue table is created from the same definition the CDK stack uses (`qos_lake_infra.catalog`)
and read back. moto's Firehose is much simpler than the service, and the assertions say what it
does, not what AWS does:

- it does not evaluate `!{timestamp:...}` expressions: the prefix is written literally, followed by
  the default `YYYY/MM/DD/HH/` of the put time (AWS replaces the expressions and adds nothing);
- it delivers each PutRecord(Batch) call as one object at once (no buffering);
- it does no data format conversion (JSON stays JSON; AWS writes Parquet with the Glue schema),
  and takes no Kinesis stream source, so the stream uses DirectPut here.

What AWS really writes is left to a deployed environment; the template is checked in tests/infra.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import orjson
import pytest
from moto import mock_aws

from qos_lake.adapters.arrow import lake_schema
from qos_lake_infra import catalog
from qos_shared.views import VIEW_FIELDS

REGION = "us-east-1"
BUCKET = "qos-test-lake"
DATABASE = "qos_test_lake"
ROLE_ARN = "arn:aws:iam::123456789012:role/qos-test-lake-firehose"


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def test_glue_table_from_the_stack_s_definition_reads_back() -> None:
    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    glue.create_table(
        DatabaseName=DATABASE,
        TableInput={
            "Name": catalog.TABLE_NAME,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": catalog.table_parameters(BUCKET),
            "PartitionKeys": catalog.partition_keys(),
            "StorageDescriptor": {
                "Columns": catalog.glue_columns(),
                "Location": catalog.table_location(BUCKET),
                "InputFormat": catalog.PARQUET_INPUT_FORMAT,
                "OutputFormat": catalog.PARQUET_OUTPUT_FORMAT,
                "SerdeInfo": {"SerializationLibrary": catalog.PARQUET_SERDE},
            },
        },
    )
    table = glue.get_table(DatabaseName=DATABASE, Name="events")["Table"]
    columns = table["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns] == lake_schema().names
    assert {c["Type"] for c in columns} <= {"string", "bigint", "double", "boolean"}
    assert {c["Name"]: c["Type"] for c in columns}["event_time"] == "bigint"
    assert table["PartitionKeys"] == [
        {"Name": "dt", "Type": "string"},
        {"Name": "hour", "Type": "string"},
    ]
    params = table["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.dt.range"] == "NOW-3YEARS,NOW"
    assert params["projection.hour.digits"] == "2"
    assert params["storage.location.template"] == (
        f"s3://{BUCKET}/events/dt=${{dt}}/hour=${{hour}}/"
    )
    assert table["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/events/"


def test_the_views_glue_table_from_the_stack_s_definition_reads_back() -> None:
    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    name = catalog.VIEWS_TABLE_NAME
    glue.create_table(
        DatabaseName=DATABASE,
        TableInput={
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": catalog.table_parameters(BUCKET, table=name),
            "PartitionKeys": catalog.partition_keys(),
            "StorageDescriptor": {
                "Columns": catalog.glue_columns(name),
                "Location": catalog.table_location(BUCKET, name),
                "InputFormat": catalog.PARQUET_INPUT_FORMAT,
                "OutputFormat": catalog.PARQUET_OUTPUT_FORMAT,
                "SerdeInfo": {"SerializationLibrary": catalog.PARQUET_SERDE},
            },
        },
    )
    table = glue.get_table(DatabaseName=DATABASE, Name="views")["Table"]
    types = {"STRING": "string", "BIGINT": "bigint", "DOUBLE": "double", "BOOLEAN": "boolean"}
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        (field, types[kind]) for field, kind in VIEW_FIELDS.items()
    ]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt", "hour"]
    assert table["Parameters"]["storage.location.template"] == (
        f"s3://{BUCKET}/views/dt=${{dt}}/hour=${{hour}}/"
    )
    assert table["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/views/"


def test_firehose_delivers_records_under_events() -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    firehose = boto3.client("firehose", region_name=REGION)
    firehose.create_delivery_stream(
        DeliveryStreamName="qos-test-lake",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "BucketARN": f"arn:aws:s3:::{BUCKET}",
            "RoleARN": ROLE_ARN,
            "Prefix": catalog.FIREHOSE_PREFIX,
            "ErrorOutputPrefix": catalog.FIREHOSE_ERROR_PREFIX,
            "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": 300},
        },
    )
    records = [{"event_id": f"evt-{i}", "session_id": "s-1", "event_time": i} for i in range(5)]
    before = datetime.now(UTC)
    firehose.put_record_batch(
        DeliveryStreamName="qos-test-lake",
        Records=[{"Data": orjson.dumps(r) + b"\n"} for r in records],
    )
    described = firehose.describe_delivery_stream(DeliveryStreamName="qos-test-lake")
    destination = described["DeliveryStreamDescription"]["Destinations"][0]
    assert destination["ExtendedS3DestinationDescription"]["Prefix"] == catalog.FIREHOSE_PREFIX

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert len(keys) == 1  # moto: one object per call, at once
    (key,) = keys
    assert key.startswith("events/")
    # moto: the prefix verbatim, then the put time's YYYY/MM/DD/HH/.
    assert key.startswith(catalog.FIREHOSE_PREFIX)
    hours = {before.strftime("%Y/%m/%d/%H/"), datetime.now(UTC).strftime("%Y/%m/%d/%H/")}
    assert re.fullmatch(
        r"\d{4}/\d{2}/\d{2}/\d{2}/qos-test-lake-.+", key[len(catalog.FIREHOSE_PREFIX) :]
    )
    assert key[len(catalog.FIREHOSE_PREFIX) :][:14] in hours
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert [orjson.loads(line) for line in body.splitlines()] == records
