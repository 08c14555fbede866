"""The connector jar / MSF runtime check, on small jars the tests build (a zip with the connector's
Maven pom.properties, as the shade plugin keeps it)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from qos_realtime.flink_connector import (
    ConnectorMismatch,
    check_connector_jar,
    connector_version,
    require_connector_for,
    runtime_of_pom,
)

PROPERTIES = "META-INF/maven/org.apache.flink/flink-connector-aws-kinesis-streams/pom.properties"


def jar(tmp_path: Path, files: dict[str, str]) -> Path:
    path = tmp_path / "connectors.jar"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def kinesis_jar(tmp_path: Path, version: str) -> Path:
    return jar(
        tmp_path,
        {
            "META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n",
            # Another connector's metadata in the same shaded jar must not be read instead.
            "META-INF/maven/org.apache.flink/flink-connector-aws-base/pom.properties": (
                "version=9.9.9-1.0\n"
            ),
            PROPERTIES: (
                "#Created by Apache Maven\ngroupId=org.apache.flink\n"
                f"artifactId=flink-connector-aws-kinesis-streams\nversion={version}\n"
            ),
        },
    )


@pytest.mark.parametrize(
    ("version", "runtime"),
    [
        ("6.0.0-2.0", "FLINK-2_2"),  # the 2.x connector on a later 2.x runtime
        ("6.0.0-2.0", "FLINK-2_0"),
        ("5.0.0-1.20", "FLINK-1_20"),
    ],
)
def test_a_connector_for_the_runtime_s_flink_passes(
    tmp_path: Path, version: str, runtime: str
) -> None:
    assert check_connector_jar(kinesis_jar(tmp_path, version), runtime) == version


@pytest.mark.parametrize(
    ("version", "runtime", "flink"),
    [
        ("5.0.0-1.20", "FLINK-2_2", "1.20"),  # a 1.x connector on a 2.x runtime
        ("6.0.0-2.0", "FLINK-1_20", "2.0"),  # and the other way round
        ("7.0.0-2.3", "FLINK-2_2", "2.3"),  # built for a later minor than the runtime
    ],
)
def test_a_connector_for_another_flink_is_refused(
    tmp_path: Path, version: str, runtime: str, flink: str
) -> None:
    with pytest.raises(
        ConnectorMismatch, match=rf"{version} is built for Flink {flink}.*{runtime}"
    ):
        check_connector_jar(kinesis_jar(tmp_path, version), runtime)


def test_the_version_is_read_from_the_kinesis_connector_s_metadata(tmp_path: Path) -> None:
    assert connector_version(kinesis_jar(tmp_path, "6.1.0-2.0")) == "6.1.0-2.0"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n"}, "no META-INF/maven"),
        ({PROPERTIES: "groupId=org.apache.flink\n"}, "names no version"),
        ({PROPERTIES: "version=6.0.0\n"}, "names no Flink version"),
    ],
)
def test_a_jar_without_usable_metadata_is_refused(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    with pytest.raises(ConnectorMismatch, match=message):
        check_connector_jar(jar(tmp_path, files), "FLINK-2_2")


def test_not_a_jar_or_not_a_runtime_is_refused(tmp_path: Path) -> None:
    not_a_jar = tmp_path / "x.jar"
    not_a_jar.write_bytes(b"PK stand-in")
    with pytest.raises(ConnectorMismatch, match="not a jar"):
        check_connector_jar(not_a_jar, "FLINK-2_2")
    with pytest.raises(ConnectorMismatch, match="not an MSF Flink runtime"):
        check_connector_jar(kinesis_jar(tmp_path, "6.0.0-2.0"), "2.2")


def test_the_runtime_defaults_to_the_pom_s_flink(tmp_path: Path) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text("<project><properties><flink.version>1.20.1</flink.version></properties>")
    assert runtime_of_pom(pom) == "FLINK-1_20"
    connector = kinesis_jar(tmp_path, "6.0.0-2.0")
    with pytest.raises(SystemExit, match=r"refusing to package.*FLINK-1_20"):
        require_connector_for(connector, None, pom)
    assert require_connector_for(connector, "FLINK-2_2", pom) == "6.0.0-2.0"
    with pytest.raises(SystemExit, match="--runtime"):
        require_connector_for(connector, None, tmp_path / "none.xml")
