"""Checks that the application zip's Kinesis connector jar is built for the MSF runtime it runs on.

Build tooling beside `flink_package` (no CDK, no pyflink). The AWS connectors for Flink are
versioned `<connector>-<flink major>.<flink minor>` (`6.0.0-2.0`: the 6.0.0 connector, for Flink
2.0 and later 2.x); the shaded jar keeps each dependency's Maven metadata, so the connector's
version is read from `META-INF/maven/org.apache.flink/flink-connector-aws-kinesis-streams/
pom.properties` in the jar itself, whatever the pom says now. MSF's runtime is named
`FLINK-<major>_<minor>`. A connector fits a runtime of the same Flink major whose minor is the
connector's or later (a 2.0 connector on FLINK-2_2; never a 1.20 one, nor a 2.3 one on 2.2).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

CONNECTOR_ARTIFACT = "flink-connector-aws-kinesis-streams"
CONNECTOR_PROPERTIES = f"META-INF/maven/org.apache.flink/{CONNECTOR_ARTIFACT}/pom.properties"
_RUNTIME = re.compile(r"^FLINK-(\d+)_(\d+)$")
_FLINK_SUFFIX = re.compile(r"^(\d+)\.(\d+)$")


class ConnectorMismatch(ValueError):
    """The connector jar is missing its metadata or targets another Flink than the runtime."""


def connector_version(jar: Path) -> str:
    """The Kinesis connector's version as packed in the shaded jar (`version=` of its Maven
    pom.properties)."""
    try:
        with zipfile.ZipFile(jar) as archive:
            text = archive.read(CONNECTOR_PROPERTIES).decode("utf-8")
    except zipfile.BadZipFile:
        raise ConnectorMismatch(f"{jar} is not a jar (zip) file") from None
    except KeyError:
        raise ConnectorMismatch(
            f"{jar} has no {CONNECTOR_PROPERTIES}: not a jar with the Kinesis connector"
        ) from None
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "version":
            return value.strip()
    raise ConnectorMismatch(f"{jar}: {CONNECTOR_PROPERTIES} names no version")


def runtime_flink(runtime: str) -> tuple[int, int]:
    """(major, minor) of an MSF runtime name, `FLINK-2_2` -> (2, 2)."""
    match = _RUNTIME.fullmatch(runtime)
    if match is None:
        raise ConnectorMismatch(f"{runtime!r} is not an MSF Flink runtime (FLINK-<major>_<minor>)")
    return int(match[1]), int(match[2])


def connector_flink(version: str) -> tuple[int, int]:
    """(major, minor) of the Flink a connector version targets: the suffix after its last '-'."""
    _, dash, suffix = version.rpartition("-")
    match = _FLINK_SUFFIX.fullmatch(suffix) if dash else None
    if match is None:
        raise ConnectorMismatch(
            f"connector version {version!r} names no Flink version (<version>-<major>.<minor>)"
        )
    return int(match[1]), int(match[2])


def check_connector_jar(jar: Path, runtime: str) -> str:
    """The jar's connector version, if it fits `runtime`; else `ConnectorMismatch`."""
    version = connector_version(jar)
    major, minor = connector_flink(version)
    runtime_major, runtime_minor = runtime_flink(runtime)
    if major != runtime_major or minor > runtime_minor:
        raise ConnectorMismatch(
            f"{jar}: the Kinesis connector {version} is built for Flink {major}.{minor}, which "
            f"does not run on {runtime} (Flink {runtime_major}.{runtime_minor}): build the jar "
            "for the runtime's Flink, or choose a runtime for the connector"
        )
    return version


def runtime_of_pom(pom: Path) -> str:
    """The MSF runtime for the pom's `<flink.version>`."""
    if not pom.is_file():
        raise ConnectorMismatch(f"{pom} not found: name the MSF runtime (--runtime)")
    match = re.search(r"<flink\.version>(\d+)\.(\d+)[^<]*</flink\.version>", pom.read_text())
    if match is None:
        raise ConnectorMismatch(f"{pom} names no <flink.version>")
    return f"FLINK-{match[1]}_{match[2]}"


def require_connector_for(jar: Path, runtime: str | None, pom: Path) -> str:
    """`check_connector_jar` for the packaging CLI: the runtime given, else the pom's; a
    mismatch stops the packaging with its message."""
    try:
        return check_connector_jar(jar, runtime or runtime_of_pom(pom))
    except ConnectorMismatch as exc:
        raise SystemExit(f"refusing to package the application zip: {exc}") from None
