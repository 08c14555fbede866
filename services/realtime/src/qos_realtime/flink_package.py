"""Builds the Managed Service for Apache Flink application zip of the window job.

    python -m qos_realtime.flink_package [--jar JAR] [--out ZIP]

Build tooling, not runtime code: it sits beside the service's layers, not in them, because it
vendors their files by path (so it must ship with the sources it packs) and needs no CDK (the
Flink test session, which has no aws-cdk-lib, builds and checks the zip); the CDK apps call it
through `qos_realtime.api`.

Layout of the zip (MSF runs `main.py`; the packages beside it are importable from it):

    main.py                           qos_realtime/entrypoints/flink_job.py
    qos_realtime/__init__.py          a bare package marker
    qos_realtime/adapters/__init__.py a bare package marker (the real one names the DuckDB engine)
    qos_realtime/adapters/flink/*.py  the job's SQL modules (sql, tables)
    qos_shared/__init__.py            a bare package marker (the real one imports pydantic)
    qos_shared/catalogue.py           the metric catalogue and its SQL renderer, and the views'
    qos_shared/catalogue_sql.py       definition as SQL, which import only the standard library
    qos_shared/views.py
    lib/qos-realtime-flink-connectors.jar   the shaded Kinesis connector (services/realtime/flink)

No third-party Python package is shipped: the job's Python only renders SQL, and the check at the
end runs the zip's main.py with `python -I -S` (no site-packages) to prove it. The application's
runtime properties (`property_groups`) carry, besides the job's own group, MSF's
`kinesis.analytics.flink.run.options`: `python` = `main.py`, `jarfile` = `lib/<jar>`.

Without --jar, the jar is the pom's shaded jar (services/realtime/flink/pom.xml), cached by the
pom's hash and built with Maven when missing (Java 11+ and Maven on PATH); where Maven Central
does not serve the Kinesis connector, `--connector-source DIR` builds it from its Apache source
release first (`qos_realtime.flink_connector`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import qos_shared.catalogue
from qos_realtime import flink_connector
from qos_realtime.adapters.flink import sql
from qos_realtime.entrypoints import flink_job as job

PACKAGE = Path(__file__).resolve().parent  # qos_realtime
FLINK_SQL = PACKAGE / "adapters" / "flink"
SERVICE = PACKAGE.parents[1]  # services/realtime, in a source checkout
POM = SERVICE / "flink" / "pom.xml"
JAR_NAME = flink_connector.JAR_NAME
JAR_PATH = f"lib/{JAR_NAME}"
DEFAULT_ZIP = SERVICE / "build" / "qos-realtime-flink.zip"
JOB_MODULES = ("__init__.py", "sql.py", "tables.py")  # of adapters/flink
SHARED_MODULES = ("catalogue.py", "catalogue_sql.py", "views.py")
RUN_OPTIONS_GROUP = "kinesis.analytics.flink.run.options"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same zip


def property_groups(
    *,
    input_stream_arn: str,
    output_stream_arn: str,
    views_stream_arn: str,
    region: str,
    window_s: int = 60,
    allowed_lateness_s: float = 5.0,
    init_position: str = "LATEST",
    idle_timeout_s: int = 60,
    source_options: Mapping[str, str] | None = None,
    sink_options: Mapping[str, str] | None = None,
    dedupe_ttl_s: int = job.DEFAULT_DEDUPE_TTL_S,
    view_timeout_s: int = job.DEFAULT_VIEW_TIMEOUT_S,
    view_max_length_s: int = job.DEFAULT_VIEW_MAX_LENGTH_S,
    revision_horizon_s: int = job.DEFAULT_REVISION_HORIZON_S,
) -> list[dict[str, object]]:
    """The application's runtime properties, in the shape of MSF's PropertyGroups; the
    connector options go through as `source.connector.<option>` / `sink.connector.<option>`."""
    return [
        {
            "PropertyGroupId": RUN_OPTIONS_GROUP,
            "PropertyMap": {"python": "main.py", "jarfile": JAR_PATH},
        },
        {
            "PropertyGroupId": job.PROPERTY_GROUP,
            "PropertyMap": {
                "input.stream.arn": input_stream_arn,
                "output.stream.arn": output_stream_arn,
                "views.stream.arn": views_stream_arn,
                "aws.region": region,
                "window.seconds": str(window_s),
                "allowed.lateness.seconds": str(allowed_lateness_s),
                "source.init.position": init_position,
                "source.idle.seconds": str(idle_timeout_s),
                **{job.SOURCE_OPTION_PREFIX + k: v for k, v in (source_options or {}).items()},
                **{job.SINK_OPTION_PREFIX + k: v for k, v in (sink_options or {}).items()},
                "dedupe.ttl.seconds": str(dedupe_ttl_s),
                "views.timeout.seconds": str(view_timeout_s),
                "views.max.length.seconds": str(view_max_length_s),
                "revision.horizon.seconds": str(revision_horizon_s),
            },
        },
    ]


def build_jar(pom: Path = POM, *, source: Path | None = None) -> Path:
    """The shaded connector jar of `pom`: cached by the pom's hash, else built with Maven (the
    connector from Maven Central, or from its source release: `qos_realtime.flink_connector`)."""
    if not pom.is_file():
        raise SystemExit(f"{pom} not found (not a source checkout?): pass --jar")
    try:
        return flink_connector.shaded_jar(pom, source=source)
    except flink_connector.ConnectorUnavailable as error:
        raise SystemExit(str(error)) from error


def _bare_package(doc: str) -> bytes:
    return f'"""{doc}"""\n'.encode()


def entries(jar: Path) -> Iterator[tuple[str, bytes]]:
    """(path in the zip, content) of every file of the application."""
    yield "main.py", Path(job.__file__).read_bytes()
    yield (
        "qos_realtime/__init__.py",
        _bare_package("QoS realtime: only the Flink job's modules (application zip)."),
    )
    yield (
        "qos_realtime/adapters/__init__.py",
        _bare_package("QoS realtime's adapters: only the Flink job's SQL (application zip)."),
    )
    for name in JOB_MODULES:
        yield f"qos_realtime/adapters/flink/{name}", (FLINK_SQL / name).read_bytes()
    shared = Path(qos_shared.catalogue.__file__).resolve().parent
    yield (
        "qos_shared/__init__.py",
        _bare_package("The metric catalogue of the QoS platform's shared package (vendored)."),
    )
    for name in SHARED_MODULES:
        yield f"qos_shared/{name}", (shared / name).read_bytes()
    yield JAR_PATH, jar.read_bytes()


def write_zip(target: Path, jar: Path) -> list[str]:
    target.parent.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in entries(jar):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            # The jar is compressed already.
            info.compress_type = (
                zipfile.ZIP_STORED if name.endswith(".jar") else zipfile.ZIP_DEFLATED
            )
            archive.writestr(info, data)
            names.append(name)
    return names


def check_zip(target: Path) -> str:
    """Unpack the zip and render the job's SQL with its own main.py in a Python without
    site-packages; returns the SQL (proof that the zip's Python needs only the stdlib), after
    checking that it runs every INSERT of the job as one statement set."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(target) as archive:
            archive.extractall(root)
        properties = root / "application_properties.json"
        arn = "arn:aws:kinesis:us-east-1:000000000000:stream/"
        properties.write_text(
            json.dumps(
                property_groups(
                    input_stream_arn=arn + "events",
                    output_stream_arn=arn + "metrics",
                    views_stream_arn=arn + "views",
                    region="x",
                )
            )
        )
        done = subprocess.run(  # noqa: S603 - this interpreter, the zip's own main.py
            [
                sys.executable,
                "-I",
                "-S",
                str(root / "main.py"),
                "--print-sql",
                "--properties",
                str(properties),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=root,
        )
        if done.returncode != 0:
            raise SystemExit(f"the zip's main.py failed without site-packages:\n{done.stderr}")
        inserts = len(sql.inserts(job.SINK_TABLE, job.VIEWS_SINK_TABLE))
        statement_set = done.stdout.partition("EXECUTE STATEMENT SET\nBEGIN\n")[2]
        if statement_set.count("INSERT INTO") != inserts or "table.exec.state.ttl" not in (
            done.stdout
        ):
            raise SystemExit(
                f"the zip's main.py did not render {inserts} INSERTs in one statement set"
                " and the deduplication's state TTL"
            )
        return done.stdout


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jar", type=Path, help="a shaded connector jar built already")
    parser.add_argument("--pom", type=Path, default=POM)
    parser.add_argument(
        "--connector-source",
        type=Path,
        help="the Kinesis connector's source release, where Maven Central lacks it "
        f"(${flink_connector.SOURCE_ENV})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--runtime", help="MSF runtime, e.g. FLINK-2_2 (default: the pom's)")
    args = parser.parse_args(argv)

    jar = args.jar if args.jar else build_jar(args.pom, source=args.connector_source)
    # A jar for another Flink than the runtime's is refused.
    flink_connector.require_connector_for(jar, args.runtime, args.pom)
    print(f"connector jar: {jar} ({jar.stat().st_size / 1e6:.1f} MB)", flush=True)
    names = write_zip(args.out, jar)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB):", flush=True)
    for name in names:
        print(f"  {name}")
    script = check_zip(args.out)
    print(
        f"checked: the zip's main.py renders {script.count(';')} statements with no"
        " site-packages, the INSERTs as one statement set"
    )
    print(f"runtime properties: {RUN_OPTIONS_GROUP} python=main.py jarfile={JAR_PATH}")


if __name__ == "__main__":
    main()
