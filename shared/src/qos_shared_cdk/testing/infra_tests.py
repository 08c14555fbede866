"""The conftest of every `services/*/tests/infra`: leaves the CDK tests out where aws-cdk-lib,
cfn-lint or Node.js is missing, and says so.

A service's `tests/infra/conftest.py` is the one line
`from qos_shared_cdk.testing.infra_tests import *`: pytest refuses `pytest_plugins` outside the
root conftest, and a star import keeps these hooks scoped to that folder.

The CDK tests are marked `infra`, but `-m "not infra"` deselects tests only after importing their
modules, and these import aws_cdk (which starts Node.js) at the top. A test module of the folder
that imports neither aws_cdk nor cfnlint (the search setup function's tests) always runs. Under CI
nothing is left out: a missing tool makes the run fail instead of quietly shrinking it. The
`resources` fixture reads the Resources of the module's synthesized `template` fixture.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

__all__ = ["pytest_ignore_collect", "pytest_terminal_summary", "resources"]

# A top-level import of the CDK or cfn-lint; imports inside a test function count too.
_NEEDS_CDK = re.compile(r"^\s*(?:from|import)\s+(?:aws_cdk|cfnlint)\b", re.MULTILINE)


def missing_tools() -> list[str]:
    missing = [
        f"{module} (the `infra` extra)"
        for module in ("aws_cdk", "cfnlint")
        if importlib.util.find_spec(module) is None
    ]
    if shutil.which("node") is None:
        missing.append("node (Node.js, which jsii runs aws-cdk-lib in)")
    return missing


def needs_cdk(test_module: Path) -> bool:
    return _NEEDS_CDK.search(test_module.read_text(encoding="utf-8")) is not None


_MISSING = missing_tools()
if _MISSING and os.environ.get("CI"):
    raise pytest.UsageError(f"CI needs every infra test; missing: {', '.join(_MISSING)}")
_LEFT_OUT: list[str] = []


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    del config  # part of the hook's signature
    is_test_module = collection_path.suffix == ".py" and collection_path.name.startswith("test_")
    if _MISSING and is_test_module and needs_cdk(collection_path):
        _LEFT_OUT.append(collection_path.name)
        return True
    return None  # let the other rules decide


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _LEFT_OUT:
        terminalreporter.write_line(
            f"{', '.join(sorted(set(_LEFT_OUT)))} not collected, missing: {', '.join(_MISSING)}"
        )


@pytest.fixture(scope="module")
def resources(template: Any) -> dict[str, dict[str, Any]]:
    """The Resources of the test module's `template` fixture (an `aws_cdk.assertions.Template`)."""
    found: dict[str, dict[str, Any]] = template.to_json()["Resources"]
    return found
