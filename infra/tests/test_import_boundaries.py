"""Packages import each other only through published surfaces.

Walks every Python file of the repository with `ast` and checks each import against the layout
rules of docs/conventions.md:

- a service (`qos_<svc>`, its CDK package `qos_<svc>_infra`, its dev tooling) never imports
  another service, in any form;
- everything else (the composition `qos_infra`, its tests, `infra/aws`, `bench/`) imports a
  service only through `qos_<svc>.api` and a service's CDK package only through its root
  (`qos_<svc>_infra`), and no name starting with `_` from either;
- `qos_shared` (and its deploy kit) imports no service at all;
- a service's `domain/` imports no engine, cloud or network client (it is pure).

A failure names the file, the line and the import, so a move that reaches into a private module
is caught where it is written.
"""

from __future__ import annotations

import ast
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "ingest": "qos_ingest",
    "realtime": "qos_realtime",
    "search-indexer": "qos_search_indexer",
    "lake": "qos_lake",
}
# Top-level modules each service folder ships (runtime, CDK, dev tooling).
_FAMILIES: dict[str, set[str]] = {
    folder: {module, f"{module}_infra"} for folder, module in SERVICES.items()
}
_FAMILIES["search-indexer"].add("qos_search_node")
_OWNER = {module: folder for folder, modules in _FAMILIES.items() for module in modules}


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str  # the absolute module imported from (or imported)
    names: tuple[str, ...]  # names taken from it (empty for `import x.y`)

    def __str__(self) -> str:
        what = (
            f"from {self.module} import {', '.join(self.names)}"
            if self.names
            else (f"import {self.module}")
        )
        return f"{self.path.relative_to(ROOT)}:{self.line}: {what}"


def _python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    # A file deleted in the work tree but still in the index is gone: skip it.
    return [ROOT / name for name in listed if "node_modules" not in name and (ROOT / name).exists()]


def _imports(path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(path, node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = tuple(alias.name for alias in node.names)
            found.append(Import(path, node.lineno, node.module, names))
    return found


def _family_of(path: Path) -> str | None:
    """The service folder a file belongs to, or None for shared/, infra/, bench/ and the root."""
    parts = path.relative_to(ROOT).parts
    if parts[0] == "services" and len(parts) > 1:
        return parts[1]
    return None


def _violation(imp: Import) -> str | None:
    top = imp.module.split(".")[0]
    owner = _OWNER.get(top)
    if owner is None:
        return None  # not a service module
    here = _family_of(imp.path)
    if here == owner:
        return None  # a service's own code, tests and stack use it freely
    if here is not None:
        return f"services/{here} imports services/{owner}"
    if imp.path.relative_to(ROOT).parts[0] == "shared":
        return f"shared/ imports services/{owner}"
    public = f"{top}.api" if not top.endswith("_infra") else top
    if top == "qos_search_node":
        public = top
    if imp.module == top and imp.names == ("api",) and public.endswith(".api"):
        return None  # `from qos_x import api`
    if imp.module != public:
        return f"reaches past {public} into {imp.module}"
    private = [name for name in imp.names if name.startswith("_")]
    if private:
        return f"takes private {', '.join(private)} from {public}"
    return None


# What a domain module may not import: engines, clouds, HTTP and storage clients.
ENGINES = {
    "aws_cdk",
    "aws_lambda_powertools",
    "boto3",
    "botocore",
    "duckdb",
    "http",
    "opensearchpy",
    "pyarrow",
    "pyflink",
    "requests",
    "socket",
    "sqlite3",
    "urllib3",
}


def _in_domain(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    return parts[0] == "services" and "src" in parts and "domain" in parts


def test_every_domain_is_pure() -> None:
    bad = [
        str(imp)
        for path in _python_files()
        if _in_domain(path)
        for imp in _imports(path)
        if imp.module.split(".")[0] in ENGINES
    ]
    assert not bad, "a domain module imports an engine or client:\n" + "\n".join(bad)


def test_every_service_has_the_same_shape() -> None:
    """domain/, service.py (or service/ when its use cases share nothing), adapters/,
    entrypoints/, settings.py, bootstrap.py and api.py in every service."""
    for folder, module in SERVICES.items():
        package = ROOT / "services" / folder / "src" / module
        present = {p.name for p in package.iterdir()}
        missing = {"domain", "adapters", "entrypoints", "settings.py", "bootstrap.py", "api.py"}
        missing -= present
        if not present & {"service.py", "service"}:
            missing.add("service.py")
        assert not missing, f"services/{folder}: {sorted(missing)} missing"


def test_every_package_imports_services_only_through_their_public_api() -> None:
    bad = [
        f"{imp}  ({why})"
        for path in _python_files()
        for imp in _imports(path)
        if (why := _violation(imp))
    ]
    assert not bad, "imports past a service's public API:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("where", "source", "expected"),
    [
        ("infra/src/qos_infra/x.py", "from qos_lake.api import LakeReader", None),
        ("infra/src/qos_infra/x.py", "from qos_lake.writer import LakeWriter", "reaches past"),
        ("bench/lake/run.py", "import qos_realtime.adapters.store", "reaches past"),
        ("bench/lake/run.py", "from qos_lake.api import _add", "takes private"),
        ("infra/aws/app.py", "from qos_ingest_infra import add_ingest_stack", None),
        ("infra/aws/app.py", "from qos_ingest_infra.stack import IngestStack", "reaches past"),
        ("services/lake/src/qos_lake/x.py", "from qos_realtime.api import X", "imports services"),
        ("services/lake/infra/qos_lake_infra/x.py", "from qos_lake.domain import q", None),
        ("shared/src/qos_shared/x.py", "from qos_ingest.api import ingest", "shared/ imports"),
        ("infra/tests/test_x.py", "import json", None),
        ("infra/src/qos_infra/x.py", "from qos_ingest import api", None),
        ("infra/src/qos_infra/x.py", "from qos_ingest import domain", "reaches past"),
    ],
)
def test_the_rule_itself(where: str, source: str, expected: str | None) -> None:
    """The checker flags what it must and passes what it may (so the test above can fail)."""
    tree = ast.parse(source)
    node = tree.body[0]
    if isinstance(node, ast.Import):
        imp = Import(ROOT / where, 1, node.names[0].name, ())
    else:
        assert isinstance(node, ast.ImportFrom) and node.module
        imp = Import(ROOT / where, 1, node.module, tuple(a.name for a in node.names))
    why = _violation(imp)
    assert (why is None) if expected is None else (why is not None and expected in why)
