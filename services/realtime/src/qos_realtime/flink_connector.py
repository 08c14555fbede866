"""Provides the official Kinesis connector for the Flink job's shaded jar, and caches that jar.

    python -m qos_realtime.flink_connector [--source DIR] [--check]

Build tooling beside `qos_realtime.flink_package` (which calls it). The pom
(`services/realtime/flink/pom.xml`) depends on
`org.apache.flink:flink-connector-aws-kinesis-streams` at the version its
`kinesis.connector.version` names. Maven resolves it, in this order:

1. **Maven's local repository** (`~/.m2/repository`): there already (served before, or built
   here before).
2. **Maven Central**: `mvn dependency:get` of the exact coordinates. Where the registry serves the
   release, that is all.
3. **The Apache source release**, where the registry does not serve it: a checkout of the
   `apache/flink-connector-aws` repository at the release's tag (`v6.0.0` for `6.0.0-2.0`), or its
   unpacked `-src` archive, named by `--source` or `$QOS_FLINK_CONNECTOR_SOURCE`. The source is
   copied to a scratch folder (it is never changed), given the release's full
   version (`versions:set`, as the connector's release scripts do: `6.0.0` -> `6.0.0-2.0`), and
   the three modules the connector needs (`flink-connector-aws-base`,
   `flink-connector-aws-kinesis-streams`, and its SQL uber jar) are built and installed to the
   local repository with tests skipped (`mvn install -Pfast -DskipTests -pl ... -am`).
   See docs/adr/0013-kinesis-connector-and-the-aws-twin.md.

The shaded jar (`mvn package` of the pom) is then cached by a hash of the pom, like the local
OpenSearch node's launcher: `$QOS_FLINK_JAR_CACHE`, else `$XDG_CACHE_HOME/qos-realtime-flink`
(`~/.cache/...`), one folder per hash. A changed pom (another connector or Flink version) builds
anew; an unchanged one reuses the jar in well under a second.

The packaging also checks that the jar's connector fits the MSF runtime it is deployed on
(`check_connector_jar`, from what the jar itself records).

Neither the source nor anything built from it is kept in the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

PACKAGE = Path(__file__).resolve().parent  # qos_realtime
SERVICE = PACKAGE.parents[1]  # services/realtime, in a source checkout
POM = SERVICE / "flink" / "pom.xml"
JAR_NAME = "qos-realtime-flink-connectors.jar"
SOURCE_ENV = "QOS_FLINK_CONNECTOR_SOURCE"
CACHE_ENV = "QOS_FLINK_JAR_CACHE"
GROUP = "org.apache.flink"
# The modules of the connector's source tree that the Kinesis connector needs (and `-am` their
# parents); the SQL jar is built too, so that the local repository holds the whole release.
SOURCE_MODULES = (
    "flink-connector-aws-base",
    "flink-connector-aws/flink-connector-aws-kinesis-streams",
    "flink-connector-aws/flink-sql-connector-aws-kinesis-streams",
)
SOURCE_ROOT_ARTIFACT = "flink-connector-aws"  # the source tree's root pom
MAVEN_TIMEOUT_S = 1800.0


class ConnectorUnavailable(RuntimeError):
    """The connector can be had neither from Maven nor from a source tree; says what to do."""


@dataclass(frozen=True, slots=True)
class Connector:
    """The connector the pom names: `artifact` at `version` (`<release>-<Flink minor>`)."""

    artifact: str
    version: str

    @property
    def release(self) -> str:
        """The source release's own version: `6.0.0` of `6.0.0-2.0`."""
        return self.version.rsplit("-", 1)[0]

    @property
    def flink_minor(self) -> str:
        """The Flink minor the release is built for: `2.0` of `6.0.0-2.0`."""
        return self.version.rsplit("-", 1)[1]

    @property
    def coordinates(self) -> str:
        return f"{GROUP}:{self.artifact}:{self.version}"

    def local_jar(self, repository: Path) -> Path:
        folder = repository.joinpath(*GROUP.split("."), self.artifact, self.version)
        return folder / f"{self.artifact}-{self.version}.jar"


def _property(pom_text: str, name: str) -> str:
    match = re.search(rf"<{re.escape(name)}>([^<]+)</{re.escape(name)}>", pom_text)
    if match is None:
        raise ValueError(f"the pom names no <{name}>")
    return match[1].strip()


def connector_of(pom: Path = POM) -> Connector:
    text = pom.read_text()
    connector = Connector(
        artifact=_property(text, "kinesis.connector.artifact"),
        version=_property(text, "kinesis.connector.version"),
    )
    if "-" not in connector.version:
        raise ValueError(f"{pom}: connector version {connector.version!r} is not <release>-<flink>")
    return connector


def _say(message: str) -> None:
    print(f"flink-connector: {message}", flush=True)


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ConnectorUnavailable("mvn not found: install Maven (Debian: apt-get install maven)")
    return mvn


def local_repository() -> Path:
    """Maven's default local repository (the project sets no other)."""
    return Path.home() / ".m2" / "repository"


def from_central(connector: Connector) -> bool:
    """True if Maven Central serves the connector (it is then in the local repository)."""
    done = subprocess.run(  # noqa: S603
        [
            _mvn(),
            "-B",
            "-q",
            "dependency:get",
            f"-Dartifact={connector.coordinates}",
            "-Dtransitive=true",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=MAVEN_TIMEOUT_S,
    )
    return done.returncode == 0


def check_source(source: Path, connector: Connector) -> None:
    """The source tree is the connector's own, at the release the pom names."""
    pom = source / "pom.xml"
    if not pom.is_file():
        raise ConnectorUnavailable(f"{source} has no pom.xml: not the connector's source tree")
    # The developer's own checkout of the connector, not input from anyone else.
    project = ElementTree.parse(pom).getroot()  # noqa: S314
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    artifact = project.findtext("m:artifactId", namespaces=ns)
    if artifact != SOURCE_ROOT_ARTIFACT:
        raise ConnectorUnavailable(
            f"{source} is {artifact!r}, not the {SOURCE_ROOT_ARTIFACT} source tree"
        )
    found = project.findtext("m:version", namespaces=ns)
    if found not in (connector.release, connector.version):
        raise ConnectorUnavailable(
            f"{source} is release {found}; the pom needs {connector.version} "
            f"(check out the tag v{connector.release})"
        )
    for module in SOURCE_MODULES:
        if not (source / module / "pom.xml").is_file():
            raise ConnectorUnavailable(f"{source} lacks the module {module}")


def build_from_source(source: Path, connector: Connector) -> None:
    """Build the release's connector modules from `source` and install them to Maven's local
    repository, leaving `source` as it was."""
    check_source(source, connector)
    mvn = _mvn()
    with tempfile.TemporaryDirectory(prefix="qos-flink-connector-") as scratch:
        tree = Path(scratch) / "src"
        _say(f"copying {source} to a scratch folder")
        shutil.copytree(source, tree, ignore=shutil.ignore_patterns(".git", "target"))
        steps = [
            # What the connector's release scripts do: the release's full version everywhere.
            [
                mvn,
                "-B",
                "-q",
                "versions:set",
                f"-DnewVersion={connector.version}",
                "-DgenerateBackupPoms=false",
            ],
            [
                mvn,
                "-B",
                "install",
                "-Pfast",
                "-DskipTests",
                "-pl",
                ",".join(SOURCE_MODULES),
                "-am",
            ],
        ]
        for step in steps:
            _say(" ".join(Path(step[0]).name if i == 0 else a for i, a in enumerate(step)))
            started = time.monotonic()
            done = subprocess.run(  # noqa: S603
                step,
                cwd=tree,
                check=False,
                timeout=MAVEN_TIMEOUT_S,
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                tail = "\n".join(done.stdout.splitlines()[-40:])
                raise ConnectorUnavailable(f"the connector's build failed:\n{tail}\n{done.stderr}")
            _say(f"  done in {time.monotonic() - started:.0f} s")


def ensure_connector(
    pom: Path = POM, *, source: Path | None = None, repository: Path | None = None
) -> Path:
    """Make the pom's connector resolvable by Maven; returns its jar in the local repository."""
    connector = connector_of(pom)
    repo = repository or local_repository()
    jar = connector.local_jar(repo)
    if jar.is_file():
        _say(f"{connector.coordinates}: in the local repository")
        return jar
    _say(f"{connector.coordinates}: asking Maven Central")
    if from_central(connector) and jar.is_file():
        _say(f"{connector.coordinates}: served by Maven Central")
        return jar
    given = source or (Path(os.environ[SOURCE_ENV]) if os.environ.get(SOURCE_ENV) else None)
    if given is None:
        raise ConnectorUnavailable(
            f"{connector.coordinates} is not served by the Maven registry here and is not in "
            f"{repo}. Build it from its Apache source release: check out the "
            f"apache/flink-connector-aws repository at tag v{connector.release} (or unpack its "
            f"-src archive), then run\n"
            f"    python -m qos_realtime.flink_connector --source DIR\n"
            f"(or set ${SOURCE_ENV}=DIR). See docs/adr/0013-kinesis-connector-and-the-aws-twin.md."
        )
    _say(f"{connector.coordinates}: building from the source release in {given}")
    build_from_source(given.resolve(), connector)
    if not jar.is_file():
        raise ConnectorUnavailable(f"the build finished but {jar} is missing")
    return jar


# --- the shaded jar, cached by the pom's hash ------------------------------------------------


def default_cache_dir() -> Path:
    """``$QOS_FLINK_JAR_CACHE``, else ``$XDG_CACHE_HOME/qos-realtime-flink`` (``~/.cache/...``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "qos-realtime-flink"


def pom_hash(pom: Path = POM) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()[:16]


def cached_jar(pom: Path = POM, cache_dir: Path | None = None) -> Path:
    """Where the shaded jar of this pom lives in the cache (it may not exist yet)."""
    return (cache_dir or default_cache_dir()) / pom_hash(pom) / JAR_NAME


MANIFEST_CONNECTOR = "Qos-Kinesis-Connector"  # set by the pom's shade configuration
MANIFEST_FLINK = "Qos-Flink-Version"


def jar_manifest(jar: Path) -> dict[str, str]:
    """The main attributes of a jar's manifest (continuation lines joined)."""
    with zipfile.ZipFile(jar) as archive:
        try:
            text = archive.read("META-INF/MANIFEST.MF").decode()
        except KeyError:
            return {}
    attributes: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line:
            break  # the main section ends at the first blank line
        if line.startswith(" ") and last:
            attributes[last] += line[1:]
        elif ":" in line:
            last, value = line.split(":", 1)
            attributes[last] = value.strip()
    return attributes


def packed_connector(jar: Path) -> Connector | None:
    """The connector a shaded jar was built with, from its manifest (None: not recorded)."""
    coordinates = jar_manifest(jar).get(MANIFEST_CONNECTOR)
    if coordinates is None or coordinates.count(":") != 2:
        return None
    _, artifact, version = coordinates.split(":")
    return Connector(artifact=artifact, version=version)


def shaded_jar(
    pom: Path = POM, *, source: Path | None = None, cache_dir: Path | None = None
) -> Path:
    """The pom's shaded jar: from the cache, else built (connector first) and cached."""
    target = cached_jar(pom, cache_dir)
    if target.is_file():
        _say(f"shaded jar from the cache: {target}")
        return target
    ensure_connector(pom, source=source)
    _say(f"mvn package ({pom})")
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603
        [_mvn(), "-B", "-q", "-f", str(pom), "package"],
        check=False,
        timeout=MAVEN_TIMEOUT_S,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise ConnectorUnavailable(f"mvn package failed:\n{done.stdout[-4000:]}\n{done.stderr}")
    built = pom.parent / "target" / JAR_NAME
    if not built.is_file():
        raise ConnectorUnavailable(f"Maven finished but {built} is missing")
    connector = connector_of(pom)
    packed = packed_connector(built)
    if packed != connector:
        raise ConnectorUnavailable(f"{built} records {packed}, not {connector}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    shutil.copyfile(built, partial)
    partial.replace(target)  # atomic: a killed build leaves no half jar under the real name
    _say(f"built in {time.monotonic() - started:.0f} s and cached: {target}")
    return target


# --- the connector fits the MSF runtime -----------------------------------------------------
#
# The AWS connectors for Flink are versioned `<connector>-<flink major>.<flink minor>` (`6.0.0-2.0`:
# the 6.0.0 connector, for Flink 2.0 and later 2.x); MSF's runtime is named
# `FLINK-<major>_<minor>`. A connector fits a runtime of the same Flink major whose minor is the
# connector's or later (a 2.0 connector on FLINK-2_2; never a 1.20 one, nor a 2.3 one on 2.2).

CONNECTOR_ARTIFACT = "flink-connector-aws-kinesis-streams"
CONNECTOR_PROPERTIES = f"META-INF/maven/org.apache.flink/{CONNECTOR_ARTIFACT}/pom.properties"
_RUNTIME = re.compile(r"^FLINK-(\d+)_(\d+)$")
_FLINK_SUFFIX = re.compile(r"^(\d+)\.(\d+)$")


class ConnectorMismatch(ValueError):
    """The connector jar is missing its metadata or targets another Flink than the runtime."""


def connector_version(jar: Path) -> str:
    """The Kinesis connector's version as packed in the shaded jar: what its manifest records
    (the pom's shade configuration), else `version=` of the connector's Maven pom.properties
    (a jar shaded elsewhere may keep them)."""
    try:
        recorded = packed_connector(jar)
    except zipfile.BadZipFile:
        raise ConnectorMismatch(f"{jar} is not a jar (zip) file") from None
    if recorded is not None and recorded.artifact == CONNECTOR_ARTIFACT:
        return recorded.version
    try:
        with zipfile.ZipFile(jar) as archive:
            text = archive.read(CONNECTOR_PROPERTIES).decode("utf-8")
    except zipfile.BadZipFile:
        raise ConnectorMismatch(f"{jar} is not a jar (zip) file") from None
    except KeyError:
        raise ConnectorMismatch(
            f"{jar} records no Kinesis connector ({MANIFEST_CONNECTOR} in its manifest, or "
            f"{CONNECTOR_PROPERTIES}): not a jar with the Kinesis connector"
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--source", type=Path, help=f"the connector's source tree (${SOURCE_ENV})")
    parser.add_argument("--pom", type=Path, default=POM)
    parser.add_argument(
        "--check", action="store_true", help="only say whether the jar is cached (exit 1 if not)"
    )
    args = parser.parse_args(argv)
    if args.check:
        target = cached_jar(args.pom)
        print(target if target.is_file() else f"not cached: {target}")
        return 0 if target.is_file() else 1
    try:
        print(shaded_jar(args.pom, source=args.source))
    except ConnectorUnavailable as error:
        print(f"flink-connector: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
