"""The application zip: its layout, and a main.py that runs on the standard library alone.

Needs no pyflink and no Maven: a stand-in jar, holding only the connector's Maven metadata, takes
the shaded jar's place.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict
from pathlib import Path

import pytest

from qos_realtime import flink_package as package
from qos_realtime.adapters.flink import sql
from qos_realtime.entrypoints import flink_job as job
from qos_shared.views import DEFAULT_RULES, ViewRules

RUNTIME = "FLINK-2_2"


def stand_in_jar(version: str = "6.0.0-2.0") -> bytes:
    """A jar with the Kinesis connector's pom.properties only (fixed timestamps: reproducible)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as jar:
        info = zipfile.ZipInfo(
            "META-INF/maven/org.apache.flink/flink-connector-aws-kinesis-streams/pom.properties",
            date_time=(1980, 1, 1, 0, 0, 0),
        )
        jar.writestr(info, f"artifactId=flink-connector-aws-kinesis-streams\nversion={version}\n")
    return buffer.getvalue()


STAND_IN = stand_in_jar()


@pytest.fixture(scope="module")
def app_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("package")
    jar = work / "connectors.jar"
    jar.write_bytes(STAND_IN)
    target = work / "app.zip"
    package.main(["--jar", str(jar), "--out", str(target), "--runtime", RUNTIME])
    return target


def test_the_zip_has_the_msf_layout(app_zip: Path) -> None:
    with zipfile.ZipFile(app_zip) as archive:
        names = set(archive.namelist())
        assert archive.read("main.py") == Path(job.__file__).read_bytes()
        assert archive.read(package.JAR_PATH) == STAND_IN
    assert names == {
        "main.py",
        "qos_realtime/__init__.py",
        "qos_realtime/adapters/__init__.py",
        *(f"qos_realtime/adapters/flink/{m}" for m in package.JOB_MODULES),
        "qos_shared/__init__.py",
        "qos_shared/catalogue.py",
        "qos_shared/catalogue_sql.py",
        "qos_shared/views.py",
        package.JAR_PATH,
    }


def test_the_zip_is_reproducible(app_zip: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.zip"
    jar = tmp_path / "connectors.jar"
    jar.write_bytes(STAND_IN)
    package.write_zip(again, jar)
    assert again.read_bytes() == app_zip.read_bytes()


def test_a_connector_for_another_flink_is_refused(tmp_path: Path) -> None:
    jar = tmp_path / "connectors.jar"
    jar.write_bytes(stand_in_jar("4.3.0-1.19"))
    target = tmp_path / "app.zip"
    with pytest.raises(SystemExit, match=r"4\.3\.0-1\.19 is built for Flink 1\.19.*FLINK-2_2"):
        package.main(["--jar", str(jar), "--out", str(target), "--runtime", RUNTIME])
    assert not target.exists()


def test_the_zips_main_renders_the_kinesis_job_without_site_packages(app_zip: Path) -> None:
    rendered = package.check_zip(app_zip)
    assert "'connector' = 'kinesis'" in rendered
    assert "'stream.arn' = 'arn:aws:kinesis:us-east-1:000000000000:stream/events'" in rendered
    assert "WATERMARK FOR `rowtime` AS LEAST(`rowtime`, TO_TIMESTAMP_LTZ(" in rendered
    assert ")) - INTERVAL '5.000' SECOND" in rendered
    # The default revision horizon (600 s) from the properties, in the revisions' filter.
    assert "+ 600000, 3) > CURRENT_WATERMARK(`rowtime`)" in rendered
    assert "CREATE TEMPORARY VIEW qos_revision_events AS" in rendered
    assert "INSERT INTO `qos_metric_sink`" in rendered
    assert "'stream.arn' = 'arn:aws:kinesis:us-east-1:000000000000:stream/views'" in rendered
    assert "SESSION(TABLE qos_view_keyed PARTITION BY view_key" in rendered
    # The three INSERTs, as one job; and the settings the job runs with.
    statement_set = rendered.split("EXECUTE STATEMENT SET\nBEGIN\n")[1]
    assert statement_set.count("INSERT INTO `qos_metric_sink`") == 2
    assert statement_set.count("INSERT INTO `qos_view_sink`") == 1
    assert statement_set.rstrip().endswith("FROM qos_views;\nEND;")
    assert "SET 'table.exec.state.ttl' = '3600 s';" in rendered
    assert "SET 'table.exec.source.idle-timeout' = '60 s';" in rendered


def test_the_zip_check_refuses_a_main_without_the_late_insert(
    app_zip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The zip's main.py renders three INSERTs; a job that expected a fourth must be refused.
    monkeypatch.setattr(sql, "inserts", lambda sink, views=None: [f"INSERT INTO {sink}"] * 4)
    with pytest.raises(SystemExit, match="4 INSERTs"):
        package.check_zip(app_zip)


def test_property_groups_round_trip_through_the_job_config(tmp_path: Path) -> None:
    config = job.JobConfig(
        input_stream_arn="arn:in",
        output_stream_arn="arn:out",
        views_stream_arn="arn:views",
        region="eu-west-1",
        window_s=10,
        allowed_lateness_s=2.5,
        idle_timeout_s=30,
        source_options={
            "aws.endpoint": "https://kinesis.example",
            "source.shard.discovery.interval": "5 s",
        },
        sink_options={"sink.batch.max-size": "100"},
        dedupe_ttl_s=900,
        view_timeout_s=120,
        view_max_length_s=7200,
    )
    groups = package.property_groups(**asdict(config))
    path = tmp_path / "application_properties.json"
    path.write_text(json.dumps(groups))
    properties = job.read_properties(path)
    assert properties[package.RUN_OPTIONS_GROUP] == {
        "python": "main.py",
        "jarfile": "lib/qos-realtime-flink-connectors.jar",
    }
    assert job.JobConfig.from_properties(properties) == config
    assert properties[job.PROPERTY_GROUP]["dedupe.ttl.seconds"] == "900"
    assert properties[job.PROPERTY_GROUP]["views.stream.arn"] == "arn:views"
    assert properties[job.PROPERTY_GROUP]["views.timeout.seconds"] == "120"
    assert properties[job.PROPERTY_GROUP]["views.max.length.seconds"] == "7200"
    assert job.JobConfig.from_properties(properties).view_rules() == ViewRules(120_000, 7_200_000)
    assert job.JobConfig.from_properties(properties).table_config() == {
        "table.exec.source.idle-timeout": "30 s",
        "table.exec.state.ttl": "900 s",
    }


def test_the_dedupe_ttl_defaults_to_an_hour_and_must_outlast_the_lateness() -> None:
    required = {
        "input.stream.arn": "a",
        "output.stream.arn": "b",
        "views.stream.arn": "v",
        "aws.region": "r",
    }
    config = job.JobConfig.from_properties({"qos.realtime": required})
    assert config.dedupe_ttl_s == 3600
    assert config.view_rules() == DEFAULT_RULES
    assert config.table_config()["table.exec.state.ttl"] == "3600 s"
    with pytest.raises(ValueError, match="lateness"):
        job.JobConfig.from_properties(
            {
                "qos.realtime": {
                    **required,
                    "allowed.lateness.seconds": "10",
                    "dedupe.ttl.seconds": "10",
                }
            }
        )


def test_missing_properties_are_named() -> None:
    with pytest.raises(KeyError, match=r"qos\.realtime"):
        job.JobConfig.from_properties({})
    with pytest.raises(KeyError, match=r"output\.stream\.arn, views\.stream\.arn"):
        job.JobConfig.from_properties(
            {"qos.realtime": {"input.stream.arn": "a", "aws.region": "r"}}
        )
