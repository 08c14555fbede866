"""Leaves the CDK tests out where aws-cdk-lib, cfn-lint or Node.js is missing, and says so.

They are marked `infra`, but `-m "not infra"` deselects tests only after importing their
modules, and these import aws_cdk (which starts Node.js) at the top. Under CI nothing is left
out: a missing tool makes the run fail instead of quietly shrinking it. The setup function's
own tests (`test_setup_handler.py`) need none of these and always run.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

CDK_TEST_FILES = ["test_stack.py"]


def _missing() -> list[str]:
    missing = [
        f"{module} (the `infra` extra)"
        for module in ("aws_cdk", "cfnlint")
        if importlib.util.find_spec(module) is None
    ]
    if shutil.which("node") is None:
        missing.append("node (Node.js, which jsii runs aws-cdk-lib in)")
    return missing


_MISSING = _missing()
if _MISSING and os.environ.get("CI"):
    raise pytest.UsageError(f"CI needs every infra test; missing: {', '.join(_MISSING)}")
collect_ignore_glob = CDK_TEST_FILES if _MISSING else []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _MISSING:
        terminalreporter.write_line(
            f"{', '.join(CDK_TEST_FILES)} not collected, missing: {', '.join(_MISSING)}"
        )
