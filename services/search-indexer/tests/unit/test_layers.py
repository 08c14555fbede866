"""The package's shape holds: a pure domain (also through what it imports), a working `api`, and
a runtime that never loads the local node (who may import what across packages:
`infra/tests/test_import_boundaries.py`).

Each check reads the code (its imports) rather than trusting a list kept by hand: a new module
that breaks a rule fails here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import qos_search_indexer
from qos_search_indexer import api

PACKAGE = Path(qos_search_indexer.__file__).parent
# Engines and clouds the domain must not load (directly or through what it imports).
ENGINES = ("opensearchpy", "botocore", "boto3", "sqlite3", "urllib.request", "pydantic_settings")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_domain_loads_no_engine_or_cloud_client() -> None:
    modules = sorted(
        f"qos_search_indexer.domain.{p.stem}" for p in (PACKAGE / "domain").glob("[!_]*.py")
    )
    assert "qos_search_indexer.domain.documents" in modules
    script = (
        "import sys\n"
        f"for name in {modules!r}: __import__(name)\n"
        f"print(sorted(m for m in {ENGINES!r} if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert run.stdout.strip() == "[]", run.stdout


def test_the_api_names_exist_and_the_local_indexer_runs_as_a_module() -> None:
    assert all(hasattr(api, name) for name in api.__all__)
    run = subprocess.run(
        [sys.executable, "-m", api.LOCAL_INDEXER_MODULE, "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "qos-search-indexer" in run.stdout


def test_the_runtime_package_does_not_import_the_local_node() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        assert not any(n.split(".")[0] == "qos_search_node" for n in _imports(path)), path
