"""The infra-test conftest: which test modules need the CDK (and are left out without it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qos_shared_cdk.testing.infra_tests import needs_cdk


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import pytest\nfrom aws_cdk import App\n", True),
        ("import aws_cdk.assertions\n", True),
        ("def test_lint():\n    from cfnlint.api import lint_file\n", True),
        ("from botocore.credentials import Credentials\n", False),
        ('"""Not the aws_cdk: only the setup handler."""\nimport json\n', False),
    ],
)
def test_needs_cdk(tmp_path: Path, source: str, expected: bool) -> None:
    module = tmp_path / "test_x.py"
    module.write_text(source)
    assert needs_cdk(module) is expected


def test_the_services_cdk_tests_are_recognised() -> None:
    services = Path(__file__).resolve().parents[3] / "services"
    assert needs_cdk(services / "search-indexer" / "tests" / "infra" / "test_stack.py")
    assert not needs_cdk(services / "search-indexer" / "tests" / "infra" / "test_setup_handler.py")
