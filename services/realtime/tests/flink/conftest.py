"""Tests marked `flink` run a job: they need apache-flink (its own virtualenv) and Java.

Without them those tests skip, with the reason in pytest's summary. QOS_REQUIRE_FLINK=1 (set by
the `flink` nox session) turns a missing pyflink or Java into an error: CI must run the parity
test, not skip it.

The job is slow to start, so it runs once per session over the golden records (`job_output`,
`records`), and every module reads its output; `run_job` runs it over other inputs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .events import LATENESS_S, WINDOW_S, Record, generate
from .late import revision_horizon_s, with_late_records

REQUIRED = os.environ.get("QOS_REQUIRE_FLINK") == "1"


def _missing() -> str | None:
    if importlib.util.find_spec("pyflink") is None:
        return "apache-flink is not installed (`nox -s realtime_flink` installs it)"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime for the Flink mini-cluster"
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "flink: runs a PyFlink job on the local mini-cluster")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    flink_items = [item for item in items if item.get_closest_marker("flink")]
    reason = _missing() if flink_items else None
    if reason is None:
        return
    if REQUIRED:
        raise pytest.UsageError(f"QOS_REQUIRE_FLINK=1 but {reason}")
    for item in flink_items:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def records() -> list[Record]:
    return generate()


def read_parts(folder: Path) -> list[str]:
    """The lines of the part files a filesystem sink wrote to `folder`."""
    parts = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    return [line for p in sorted(parts) for line in p.read_text().splitlines()]


def run_job(records: list[Record], work: Path, *extra: str) -> list[str]:
    """The JSON lines the job writes for `records`, in this order: they go to a filesystem JSON
    source, the job's main (`python -m qos_realtime.entrypoints.flink_job`) runs the production
    SQL over them (a bounded source, so every window closes; parallelism 1, and a watermark after
    every record, so the order of the file alone decides what is late), and the part files it
    writes are read back. Its VIEW records are in `work / "views"` (`read_parts`); `extra`
    arguments go to the job's main."""
    events, out = work / "events.ndjson", work / "rows"
    events.write_text("".join(json.dumps(r) + "\n" for r in records))
    command = [
        sys.executable,
        "-m",
        "qos_realtime.entrypoints.flink_job",
        "--events",
        str(events),
        "--out",
        str(out),
        "--views-out",
        str(work / "views"),
        "--window-s",
        str(WINDOW_S),
        "--lateness-s",
        str(LATENESS_S),
        "--parallelism",
        "1",
        *extra,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**os.environ}, check=False
    )
    assert done.returncode == 0, f"the Flink job failed:\n{done.stdout}\n{done.stderr[-6000:]}"
    lines = read_parts(out)
    assert lines, "the job wrote no row"
    return lines


@pytest.fixture(scope="session")
def job_work(records: list[Record], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the job's run over the golden records (out of order within the allowed
    lateness, each once)."""
    work = tmp_path_factory.mktemp("flink")
    run_job(records, work)
    return work


@pytest.fixture(scope="session")
def job_output(job_work: Path) -> list[str]:
    """The JSON lines (rows) the job writes for the golden records."""
    return read_parts(job_work / "rows")


@pytest.fixture(scope="session")
def job_views(job_work: Path) -> list[dict[str, object]]:
    """The VIEW records the job writes for the golden records."""
    return [json.loads(line) for line in read_parts(job_work / "views")]


@pytest.fixture(scope="session")
def late_input(records: list[Record]) -> list[Record]:
    return with_late_records(records)


@pytest.fixture(scope="session")
def late_output(late_input: list[Record], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The job's rows for `late_input`, with the revision horizon of `revision_horizon_s`."""
    work: Path = tmp_path_factory.mktemp("late")
    horizon = str(revision_horizon_s(late_input))
    return run_job(late_input, work, "--revision-horizon-s", horizon)
