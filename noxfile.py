"""Every task of the repository: one session per service, plus lint, schema, synth, up and bench.

`nox` alone runs the full test suite (the sessions in `nox.options.sessions`); `nox -l` lists all.
Virtualenvs are made by uv, so a warm run installs in seconds.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = not os.environ.get("CI")

# service folder -> the extras its test session installs
SERVICES: dict[str, list[str]] = {
    "ingest": ["test", "infra"],
    "realtime": ["local", "test", "infra"],
    "search-indexer": ["test", "infra"],
    "lake": ["test", "infra"],
}
# Sessions whose success CI requires (.ci/run checks nox's report; a skip there is a failure).
REQUIRED = [
    "lint",
    "schema_check",
    "shared",
    "ingest",
    "realtime",
    "realtime_flink",
    "search-indexer",
    "lake",
    "player",
    "infra",
    "lake_trino",
    "aws_e2e",
    "synth",
]
# jsii warns at length on every start under Node.js 20, the machines' version; the CDK still works.
JSII_ENV = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
nox.options.sessions = REQUIRED


def _editable(*paths: str) -> list[str]:
    args: list[str] = []
    for path in paths:
        args += ["-e", path]
    return args


def _has_tests(folder: Path) -> bool:
    return any(folder.rglob("test_*.py"))


def _pytest(session: nox.Session, folder: str, env: dict[str, str] | None = None) -> None:
    # pytest exits 5 when it collects nothing; nox treats any non-zero as a failure, as it should.
    session.run("pytest", folder, *session.posargs, env=env or {})


@nox.session
def shared(session: nox.Session) -> None:
    """The event contract and the local event log."""
    session.install(*_editable("shared[test,cdk]"))
    _pytest(session, "shared/tests", env=JSII_ENV)


def _service_session(name: str, extras: list[str]) -> None:
    @nox.session(name=name)
    def run(session: nox.Session) -> None:
        folder = ROOT / "services" / name
        if not _has_tests(folder / "tests"):
            session.skip(f"services/{name} has no tests yet")
        shared = "shared[cdk]" if "infra" in extras else "shared"
        session.install(*_editable(shared, f"services/{name}[{','.join(extras)}]"))
        _pytest(session, f"services/{name}/tests", env=JSII_ENV)

    run.__doc__ = f"Tests of services/{name} (unit, integration, and infra where it has a stack)."


for _name, _extras in SERVICES.items():
    _service_session(_name, _extras)


@nox.session
def realtime_flink(session: nox.Session) -> None:
    """The PyFlink job on the local mini-cluster (Java 17): parity with the local engine on the
    golden data, and the application zip. A virtualenv of its own: apache-flink pins pyarrow<17,
    numpy<2.2, pandas<2.3 and protobuf<6, which the other sessions need not share."""
    session.install(*_editable("shared", "services/realtime[local,test,flink]"))
    _pytest(session, "services/realtime/tests/flink", env={"QOS_REQUIRE_FLINK": "1"})


@nox.session
def lake_trino(session: nox.Session) -> None:
    """The lake's named queries, their deployed text unchanged, on a real Trino 483 (Athena
    engine v3) over the golden lake: the rows equal DuckDB's and the oracle's. Needs a JDK 25
    (JAVA_HOME, QOS_TRINO_JAVA_HOME or /usr/lib/jvm) and Maven; the first run builds the launcher
    (`python -m qos_lake_trino prepare`, Trino's jars from Maven Central) and caches it."""
    session.install(*_editable("shared[cdk]", "services/lake[test]"))
    session.run("python", "-m", "qos_lake_trino", "prepare")
    _pytest(session, "services/lake/tests/trino", env={"QOS_LAKE_TRINO": "1"})


def _twin(session: nox.Session, pytest_args: list[str], env: dict[str, str]) -> None:
    """The AWS twin's tests (infra/twin), after the connector jar."""
    session.install(
        *_editable(
            "shared",
            "services/ingest",
            "services/realtime[local,flink]",
            "services/lake",
            "services/search-indexer",
            "infra[twin]",
        )
    )
    source = [a.split("=", 1)[1] for a in session.posargs if a.startswith("--connector-source=")]
    args = [a for a in session.posargs if not a.startswith("--connector-source=")]
    if source:
        env = {**env, "QOS_FLINK_CONNECTOR_SOURCE": source[0]}
    # The jar first, with its own progress and error (a missing connector says how to build it).
    session.run("python", "-m", "qos_realtime.flink_connector", env=env)
    # Its own scratch folder: the moto, Flink and ingest logs stay there after a failure.
    basetemp = (Path(session.create_tmp()) / "pytest").resolve()
    with session.chdir(ROOT / "infra" / "twin"):
        session.run(
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--basetemp={basetemp}",
            ".",
            *pytest_args,
            *args,
            env=env,
        )


@nox.session
def aws_e2e(session: nox.Session) -> None:
    """The realtime path as on AWS, on this machine (infra/twin): the ingest Lambda behind an
    API Gateway twin, Kinesis and CloudWatch from moto's server, the Flink application zip with
    the real Kinesis connector on PyFlink's mini-cluster, the publisher Lambda behind an event
    source mapping twin; checked against the oracle. Needs Java 17 and Maven, and the Kinesis
    connector (`python -m qos_realtime.flink_connector`; `-- --connector-source=DIR` to build it
    from its source release where Maven Central does not serve it)."""
    _twin(session, [], {})


@nox.session
def bench_twin(session: nox.Session) -> None:
    """The twin's latency figure: seconds from a window's end to its datapoint in (moto's)
    CloudWatch, with live traffic, written to bench/realtime/results/."""
    results = ROOT / "bench" / "realtime" / "results"
    results.mkdir(parents=True, exist_ok=True)
    report = results / "twin-latency.txt"
    _twin(session, ["-k", "reaches_cloudwatch"], {"QOS_TWIN_REPORT": str(report)})
    session.log(report.read_text().strip())


@nox.session
def infra(session: nox.Session) -> None:
    """The local composition (`qos up`) and the AWS app of all stacks."""
    session.install(
        *_editable(
            "shared[cdk]",
            "services/ingest[infra]",
            "services/realtime[local,infra]",
            "services/lake[infra]",
            "services/search-indexer[infra]",
            "infra[test]",
        )
    )
    _pytest(session, "infra/tests", env=JSII_ENV)


@nox.session
def player(session: nox.Session) -> None:
    """The browser SDK: the package build (esbuild's ESM and IIFE bundles, tsc's declarations),
    type check (tsc over the JSDoc types), unit tests (node's test runner), the package tests
    (the bundle's size budget; the `npm pack` tarball loaded by fresh pages in headless Chromium),
    and browser tests in Debian's headless Chromium against the real local ingest, playing an
    HLS stream made with ffmpeg through a segment server the tests script.

    npm installs exactly the lockfile (no browser download: playwright-core drives the system
    Chromium); Node.js 20, npm, chromium and ffmpeg come from the machine (dev.py installs them).
    """
    session.install(*_editable("shared", "services/ingest"))
    python = str(Path(session.bin) / "python")  # the browser tests start the local ingest
    with session.chdir(ROOT / "player"):
        session.run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", external=True)
        session.run("npm", "run", "build", external=True)
        session.run("npm", "test", external=True)
        session.run("npm", "run", "test:package", external=True)
        session.run("npm", "run", "test:browser", external=True, env={"QOS_PYTHON": python})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy (strict) over every package."""
    session.install(
        "ruff",
        "mypy",
        *_editable(
            "shared[test,cdk]",
            *(f"services/{name}[{','.join(extras)}]" for name, extras in SERVICES.items()),
            "infra[test]",
        ),
        "nox",
        "types-jsonschema",
    )
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run(
        "mypy",
        "shared/src",
        "shared/tests",
        "services/ingest/src",
        "services/ingest/infra",
        "services/ingest/tests",
        "services/realtime/infra",
        "services/realtime/tests",
        "services/lake/infra",
        "services/lake/tests",
        "services/lake/trino",
        "services/search-indexer/infra",
        "services/search-indexer/node",
        "services/search-indexer/tests",
        "infra/src",
        "infra/tests",
        "infra/aws",
        "infra/twin",
        "bench",
        "noxfile.py",
        *(f"services/{name}/src" for name in SERVICES if name != "ingest"),
    )


@nox.session
def schema(session: nox.Session) -> None:
    """Regenerate the JSON Schema and docs/metrics.md from the models and the catalogue."""
    session.install(*_editable("shared"))
    session.run("qos-schema")
    session.run("python", "-m", "qos_shared.catalogue_doc")


@nox.session
def schema_check(session: nox.Session) -> None:
    """Fail if the committed JSON Schema or metrics page is not what the code generates."""
    session.install(*_editable("shared"))
    session.run("qos-schema", "--check")
    session.run("python", "-m", "qos_shared.catalogue_doc", "--check")


@nox.session
def synth(session: nox.Session) -> None:
    """Synthesize the AWS app (all stacks) into cdk.out/, cfn-lint and checkov every template.

    Runs infra/aws/app.py the way the CDK CLI does (cdk.json's context and the output folder in the
    environment), so no CLI is needed; `-- qos:env=prod` style arguments add context. checkov
    fails on any finding not skipped in the resource's metadata with a reason
    (`qos_shared_cdk.checkov`). The hosted demo page needs hls.js from player/node_modules.
    """
    session.install(
        *_editable(
            "shared[cdk]",
            "services/ingest[infra]",
            "services/realtime[infra]",
            "services/lake[infra]",
            "services/search-indexer[infra]",
            "infra",
        ),
        "checkov",
    )
    if not (ROOT / "player" / "node_modules" / "hls.js").exists():
        with session.chdir(ROOT / "player"):
            session.run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", external=True)
    out = ROOT / "cdk.out"
    context = json.loads((ROOT / "infra" / "cdk.json").read_text())["context"]
    context |= dict(arg.split("=", 1) for arg in session.posargs)
    with session.chdir(ROOT / "infra"):
        session.run(
            "python",
            "aws/app.py",
            env={**JSII_ENV, "CDK_OUTDIR": str(out), "CDK_CONTEXT_JSON": json.dumps(context)},
        )
    # W3005: the redundant DependsOn CDK adds to every function with a role (see the infra tests).
    templates = sorted(str(p) for p in out.glob("*.template.json"))
    session.run("cfn-lint", "--ignore-checks", "W3005", "--", *templates)
    for template in templates:
        session.run(
            "checkov",
            "--quiet",
            "--compact",
            "--skip-download",  # no guideline lookups online: the checks ship with checkov
            "--framework",
            "cloudformation",
            "--file",
            template,
        )


@nox.session
def up(session: nox.Session) -> None:
    """Start the whole pipeline locally (`qos up`); arguments after -- go to it."""
    session.install(
        *_editable(
            "shared",
            "services/ingest",
            "services/realtime[local]",
            "services/lake",
            "services/search-indexer",
            "infra",
        )
    )
    if shutil.which("npm"):
        # The demo page serves hls.js from player/node_modules (no CDN).
        with session.chdir(ROOT / "player"):
            if not (ROOT / "player" / "node_modules" / "hls.js").exists():
                session.run(
                    "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", external=True
                )
    session.run("qos", "up", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Throughput: ingest (in-process and over HTTP) and the realtime window engine."""
    session.install(*_editable("shared", "services/ingest", "services/realtime[local]"))
    session.run("python", "bench/ingest/run.py", *session.posargs)
    session.run("python", "bench/realtime/run.py", *session.posargs)


@nox.session
def bench_flink(session: nox.Session) -> None:
    """The Flink job's records per second per slot on the mini-cluster, beside the local
    engine's on the same records (Java 17; `-- --events 200000` by default)."""
    session.install(*_editable("shared", "services/ingest", "services/realtime[local,flink]"))
    args = session.posargs or ["--events", "200000"]
    session.run("python", "bench/realtime/run.py", "--only", "flink", *args)


@nox.session
def bench_lake(session: nox.Session) -> None:
    """The lake: write rate, every named query's time and bytes read, over one day of 10 M
    events by default (about 10 minutes; `-- --events 1000000` for a quick run)."""
    session.install(*_editable("shared", "services/lake"))
    session.run("python", "bench/lake/run.py", *session.posargs)


@nox.session
def bench_search(session: nox.Session) -> None:
    """Search: bulk indexing into a local OpenSearch node and every dashboard panel's latency
    over the lake benchmark's generated day (1 M events by default; needs Java 17 and Maven)."""
    # services/lake: the day's generator lives in bench/lake/run.py, which imports it.
    # The `aws` extra: Powertools, which the indexer Lambda's code path (`--indexer lambda`) runs.
    session.install(*_editable("shared", "services/search-indexer[aws]", "services/lake"))
    session.run("python", "bench/search/run.py", *session.posargs)


@nox.session
def bench_growth(session: nox.Session) -> None:
    """Growth curves: the window engine, the lake and the search indexer's document build as
    sessions per window (10k -> 1M), channels (10 -> 10,000) and days (1 -> 30) grow; time and
    peak memory per step, plotted into docs/images/growth.png (matplotlib: this session only)."""
    session.install(
        *_editable(
            "shared", "services/realtime[local]", "services/lake", "services/search-indexer"
        ),
        "matplotlib",
    )
    session.run("python", "bench/growth/run.py", *session.posargs)
