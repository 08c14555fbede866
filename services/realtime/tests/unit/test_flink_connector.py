"""The connector provisioning's and the runtime check's rules: what the pom names, which source
tree it accepts, the cache key, and the versions a shaded jar records. Maven itself runs in the
Flink and AWS-twin sessions, where the real jar is built."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from qos_realtime import flink_connector as fc
from qos_realtime.flink_connector import (
    ConnectorMismatch,
    check_connector_jar,
    connector_version,
    require_connector_for,
    runtime_of_pom,
)

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0"><properties>
  <flink.version>2.2.0</flink.version>
  <kinesis.connector.artifact>flink-connector-aws-kinesis-streams</kinesis.connector.artifact>
  <kinesis.connector.version>{version}</kinesis.connector.version>
</properties></project>"""

SOURCE_POM = """<?xml version="1.0"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <parent><groupId>org.apache.flink</groupId><artifactId>flink-connector-parent</artifactId>
    <version>1.0.0</version></parent>
  <groupId>org.apache.flink</groupId>
  <artifactId>{artifact}</artifactId>
  <version>{version}</version>
</project>"""


def write_pom(folder: Path, version: str = "6.0.0-2.0") -> Path:
    pom = folder / "pom.xml"
    pom.write_text(POM.format(version=version))
    return pom


def source_tree(
    root: Path, *, artifact: str = "flink-connector-aws", version: str = "6.0.0"
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pom.xml").write_text(SOURCE_POM.format(artifact=artifact, version=version))
    for module in fc.SOURCE_MODULES:
        (root / module).mkdir(parents=True, exist_ok=True)
        (root / module / "pom.xml").write_text("<project/>")
    return root


def test_the_pom_names_the_connector_and_its_flink_minor(tmp_path: Path) -> None:
    connector = fc.connector_of(write_pom(tmp_path))
    assert connector == fc.Connector("flink-connector-aws-kinesis-streams", "6.0.0-2.0")
    assert (connector.release, connector.flink_minor) == ("6.0.0", "2.0")
    assert connector.coordinates == "org.apache.flink:flink-connector-aws-kinesis-streams:6.0.0-2.0"
    jar = connector.local_jar(tmp_path / "repo")
    assert jar == tmp_path.joinpath(
        "repo/org/apache/flink/flink-connector-aws-kinesis-streams/6.0.0-2.0",
        "flink-connector-aws-kinesis-streams-6.0.0-2.0.jar",
    )


def test_the_real_pom_targets_a_flink_2_connector() -> None:
    assert fc.connector_of().flink_minor.startswith("2.")


def test_a_version_without_the_flink_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not <release>-<flink>"):
        fc.connector_of(write_pom(tmp_path, "6.0.0"))


def test_the_source_tree_must_be_the_connector_at_the_pom_s_release(tmp_path: Path) -> None:
    connector = fc.Connector("flink-connector-aws-kinesis-streams", "6.0.0-2.0")
    fc.check_source(source_tree(tmp_path / "ok"), connector)
    fc.check_source(source_tree(tmp_path / "set", version="6.0.0-2.0"), connector)

    with pytest.raises(fc.ConnectorUnavailable, match=r"has no pom\.xml"):
        fc.check_source(tmp_path / "missing", connector)
    with pytest.raises(fc.ConnectorUnavailable, match="not the flink-connector-aws source"):
        fc.check_source(
            source_tree(tmp_path / "other", artifact="flink-connector-kafka"), connector
        )
    with pytest.raises(fc.ConnectorUnavailable, match=r"release 5\.1\.0.*tag v6\.0\.0"):
        fc.check_source(source_tree(tmp_path / "old", version="5.1.0"), connector)
    partial = source_tree(tmp_path / "partial")
    (partial / fc.SOURCE_MODULES[1] / "pom.xml").unlink()
    with pytest.raises(fc.ConnectorUnavailable, match="lacks the module"):
        fc.check_source(partial, connector)


def test_a_connector_in_the_local_repository_needs_no_maven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pom = write_pom(tmp_path)
    jar = fc.connector_of(pom).local_jar(tmp_path / "repo")
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"PK")

    def no_maven() -> str:
        raise AssertionError("Maven was called")

    monkeypatch.setattr(fc, "_mvn", no_maven)
    assert fc.ensure_connector(pom, repository=tmp_path / "repo") == jar


def test_without_registry_or_source_the_error_says_how_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fc, "from_central", lambda connector: False)
    monkeypatch.delenv(fc.SOURCE_ENV, raising=False)
    with pytest.raises(fc.ConnectorUnavailable) as error:
        fc.ensure_connector(write_pom(tmp_path), repository=tmp_path / "repo")
    message = str(error.value)
    assert "tag v6.0.0" in message
    assert "python -m qos_realtime.flink_connector --source DIR" in message
    assert fc.SOURCE_ENV in message


def test_the_cache_key_is_the_pom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fc.CACHE_ENV, str(tmp_path / "cache"))
    a = write_pom(tmp_path)
    first = fc.cached_jar(a)
    assert first.parent.parent == tmp_path / "cache"
    assert first.name == fc.JAR_NAME
    assert fc.cached_jar(a) == first
    a.write_text(a.read_text().replace("2.2.0", "2.1.0"))
    assert fc.cached_jar(a) != first


def test_a_cached_jar_is_used_without_maven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(fc.CACHE_ENV, str(tmp_path / "cache"))
    pom = write_pom(tmp_path)
    cached = fc.cached_jar(pom)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"PK")
    monkeypatch.setattr(fc, "ensure_connector", lambda *a, **k: pytest.fail("built again"))
    assert fc.shaded_jar(pom) == cached


def jar_with_manifest(path: Path, manifest: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", manifest)
    return path


def test_the_shaded_jar_records_its_connector_in_the_manifest(tmp_path: Path) -> None:
    # Lines of a manifest are wrapped at 72 bytes, continued after one space.
    manifest = (
        "Manifest-Version: 1.0\r\n"
        "Qos-Kinesis-Connector: org.apache.flink:flink-connector-aws-kinesis-st\r\n"
        " reams:6.0.0-2.0\r\n"
        "Qos-Flink-Version: 2.2.0\r\n"
        "\r\n"
        "Name: some/entry\r\n"
        "Qos-Flink-Version: 9.9\r\n"
    )
    jar = jar_with_manifest(tmp_path / "a.jar", manifest)
    assert fc.jar_manifest(jar)[fc.MANIFEST_FLINK] == "2.2.0"
    assert fc.packed_connector(jar) == fc.Connector(
        "flink-connector-aws-kinesis-streams", "6.0.0-2.0"
    )
    assert (
        fc.packed_connector(jar_with_manifest(tmp_path / "b.jar", "Manifest-Version: 1.0\n"))
        is None
    )


# --- the connector fits the runtime (jars that record it either way) ---------------------

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
        ({"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n"}, "records no Kinesis connector"),
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


def test_the_manifest_s_record_is_what_a_real_shaded_jar_is_checked_by(tmp_path: Path) -> None:
    """The connector's own jar carries no Maven metadata, so the pom records it in the
    manifest; that record wins over any pom.properties."""
    manifest = (
        "Manifest-Version: 1.0\n"
        "Qos-Kinesis-Connector: org.apache.flink:flink-connector-aws-kinesis-streams:5.0.0-1.20\n"
    )
    path = jar_with_manifest(tmp_path / "m.jar", manifest)
    assert connector_version(path) == "5.0.0-1.20"
    with pytest.raises(ConnectorMismatch, match="does not run on FLINK-2_2"):
        check_connector_jar(path, "FLINK-2_2")
