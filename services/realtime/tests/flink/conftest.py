"""Tests marked `flink` run a job: they need apache-flink (its own virtualenv) and Java.

Without them those tests skip, with the reason in pytest's summary. QOS_REQUIRE_FLINK=1 (set by
the `flink` nox session) turns a missing pyflink or Java into an error: CI must run the parity
test, not skip it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

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
