"""Builds the setup function's code directory (code, dependencies, saved objects) without Docker.

The same recipe as the other services' bundles (services share no code, so it is repeated here
in short): `qos-shared` and `qos-search-indexer` are built into wheels, then installed with their
runtime dependencies and the `aws` extra (Powertools, boto3) for the Lambda platform (manylinux
x86_64, CPython 3.12), wheels only, into a plain directory that CDK zips. Nothing is compiled, so
the host's OS and Python don't matter. The Dashboards saved objects (the committed NDJSON) are
copied to the bundle's root, where the handler reads them.

Run it alone with `python -m qos_search_indexer_infra.packaging --out DIR`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from qos_search_indexer.api import SAVED_OBJECTS_FILENAME

# infra/qos_search_indexer_infra/packaging.py -> services/search-indexer -> repo root
SEARCH_ROOT = Path(__file__).resolve().parents[2]
REPO_ROOT = SEARCH_ROOT.parents[1]
SHARED_ROOT = REPO_ROOT / "shared"
DEFAULT_OUT = SEARCH_ROOT / ".build" / "setup-lambda"  # gitignored
# Written by the dashboards generator (`qos_search_indexer.dashboards`) and committed.
DEFAULT_SAVED_OBJECTS = SEARCH_ROOT / "dashboards" / SAVED_OBJECTS_FILENAME
LAMBDA_EXTRA = "aws"

UV_PLATFORM = "x86_64-manylinux2014"
PIP_PLATFORM = "manylinux2014_x86_64"
MARKER_FILE = ".qos-lambda-asset"  # a rebuild only ever wipes a directory this module made

# Not runtime code of the function: the CDK code rides in the wheel; console scripts and caches
# are useless on Lambda; install metadata naming a temporary path would change the asset hash.
_DROPPED = ("qos_search_indexer_infra", "bin", ".lock")
_VOLATILE_METADATA = ("direct_url.json", "uv_cache.json")


class AssetBuildError(RuntimeError):
    """The Lambda bundle could not be built; the message says which step failed and why."""


def build_lambda_asset(
    out_dir: Path,
    *,
    saved_objects: Path = DEFAULT_SAVED_OBJECTS,
    python_version: str = "3.12",
    quiet: bool = False,
) -> Path:
    """Build the setup function's code directory into `out_dir` (replacing a previous bundle).

    `out_dir` must be absent, empty, or a bundle built here; anything else is refused. The bundle
    is assembled beside it and swapped in only once complete.
    """
    out_dir = out_dir.resolve()
    for project in (SHARED_ROOT, SEARCH_ROOT):
        if not (project / "pyproject.toml").is_file():
            raise AssetBuildError(f"no pyproject.toml in {project}: build from a checkout")
    if not saved_objects.is_file():
        raise AssetBuildError(
            f"no Dashboards saved objects at {saved_objects}: generate them first "
            "(`qos_search_indexer.dashboards`), or name a file in context "
            "(`qos:search-indexer:savedObjects`)"
        )
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MARKER_FILE).is_file():
        raise AssetBuildError(f"{out_dir} was not built by this module; refusing to delete it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    uv = shutil.which("uv")
    if not quiet:
        print(f"[qos-search-indexer asset] building {out_dir}", file=sys.stderr, flush=True)

    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        wheels, bundle = staging / "wheels", staging / "bundle"
        built: dict[str, Path] = {}
        for project in (SHARED_ROOT, SEARCH_ROOT):
            before = set(wheels.glob("*.whl")) if wheels.exists() else set()
            if uv:
                cmd = [uv, "build", "--wheel", "--quiet", "--out-dir", str(wheels), str(project)]
            else:
                cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels)]
                cmd.append(str(project))
            _run(cmd, f"building the wheel of {project.name}")
            (wheel,) = set(wheels.glob("*.whl")) - before
            built[project.name] = wheel
        # The service's wheel with its `aws` extra, as a direct reference (a bare path takes none).
        requirements = [
            str(built[SHARED_ROOT.name]),
            f"qos-search-indexer[{LAMBDA_EXTRA}] @ {built[SEARCH_ROOT.name].as_uri()}",
        ]
        if uv:
            cmd = [uv, "pip", "install", "--quiet", "--no-progress", "--target", str(bundle)]
            cmd += ["--python-platform", UV_PLATFORM, "--python-version", python_version]
            cmd += ["--only-binary", ":all:", "--link-mode", "copy", *requirements]
        else:
            cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-compile"]
            cmd += ["--target", str(bundle), "--platform", PIP_PLATFORM, "--implementation", "cp"]
            cmd += ["--python-version", python_version, "--only-binary=:all:", *requirements]
        _run(cmd, "installing the wheels for the Lambda platform")
        _prune(bundle)
        shutil.copyfile(saved_objects, bundle / SAVED_OBJECTS_FILENAME)
        (bundle / MARKER_FILE).write_text("Built by qos_search_indexer_infra.packaging.\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        bundle.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def _run(cmd: list[str], what: str) -> None:
    # The bundle must not depend on whichever virtualenv happens to be active.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)  # noqa: S603 - argv built here, never a shell
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-40:])
        raise AssetBuildError(f"{what} failed (exit {result.returncode}): {' '.join(cmd)}\n{tail}")


def _prune(bundle: Path) -> None:
    for name in _DROPPED:
        path = bundle / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    for path in sorted(bundle.rglob("*"), reverse=True):
        if path.is_dir() and path.name == "__pycache__":
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in (".pyc", ".pyo"):
            path.unlink()
    for dist_info in bundle.glob("*.dist-info"):
        dropped = [name for name in _VOLATILE_METADATA if (dist_info / name).is_file()]
        for name in dropped:
            (dist_info / name).unlink()
        record = dist_info / "RECORD"
        if dropped and record.is_file():
            lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = [ln for ln in lines if ln.split(",", 1)[0].rsplit("/", 1)[-1] not in dropped]
            record.write_text("".join(kept), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qos_search_indexer_infra.packaging",
        description="Build the search setup function's code directory (no Docker needed).",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: %(default)s")
    parser.add_argument(
        "--saved-objects", type=Path, default=DEFAULT_SAVED_OBJECTS, help="default: %(default)s"
    )
    parser.add_argument("--python-version", default="3.12", help="default: %(default)s")
    args = parser.parse_args(argv)
    try:
        build_lambda_asset(
            args.out, saved_objects=args.saved_objects, python_version=args.python_version
        )
    except AssetBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
