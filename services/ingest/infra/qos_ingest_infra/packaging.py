"""Builds the ingest Lambda's deployment directory (code plus dependencies) without Docker.

The bundle is made of wheels only: the repo's own `qos-shared` and `qos-ingest` are built into
wheels, then installed with their dependencies for the Lambda platform (manylinux x86_64,
CPython 3.12) into a plain directory that CDK zips as the function's code. Because nothing is
compiled here, the host's OS and Python version don't matter.

Run it alone with `python -m qos_ingest_infra.packaging --out DIR`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# infra/qos_ingest_infra/packaging.py -> services/ingest -> repo root
INGEST_ROOT = Path(__file__).resolve().parents[2]
REPO_ROOT = INGEST_ROOT.parents[1]
SHARED_ROOT = REPO_ROOT / "shared"

# The Lambda x86_64 runtimes run on Amazon Linux 2023 (glibc 2.34), so manylinux2014 wheels
# (glibc 2.17) are always loadable there; asking for the older tag keeps the resolution wide.
UV_PLATFORM = "x86_64-manylinux2014"
PIP_PLATFORM = "manylinux2014_x86_64"

# Written into every bundle so that a rebuild only ever wipes a directory this module made.
MARKER_FILE = ".qos-lambda-asset"

# Only runtime code belongs in the function: the CDK code rides along in the qos-ingest wheel,
# and console scripts, bytecode caches and uv's lock file of the target dir are useless (or
# stale) on Lambda.
_DROPPED_TOP_LEVEL = ("qos_ingest_infra", "bin", ".lock")
_DROPPED_ANYWHERE = ("__pycache__",)
_DROPPED_SUFFIXES = (".pyc", ".pyo")
_VOLATILE_METADATA = ("direct_url.json", "uv_cache.json")

Progress = Callable[[str], None]


class AssetBuildError(RuntimeError):
    """The Lambda bundle could not be built; the message says which step failed and why."""


def _stderr_progress(message: str) -> None:
    print(f"[qos-ingest asset] {message}", file=sys.stderr, flush=True)


def build_lambda_asset(
    out_dir: Path,
    *,
    python_version: str = "3.12",
    progress: Progress | None = _stderr_progress,
) -> Path:
    """Build the Lambda code directory into `out_dir` (replacing it) and return its path.

    `out_dir` must be absent, empty, or a bundle this function built before; anything else is
    refused rather than deleted. The new bundle is assembled next to `out_dir` and swapped in
    only once complete, so a failed build leaves the previous bundle in place.
    """
    say = progress or (lambda _message: None)
    out_dir = out_dir.resolve()
    _check_sources()
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    installer = _find_installer()
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        wheel_dir = staging / "wheels"
        bundle = staging / "bundle"
        say(f"building wheels of {SHARED_ROOT.name} and {INGEST_ROOT.name} with {installer.name}")
        wheels = [
            installer.build_wheel(project, wheel_dir) for project in (SHARED_ROOT, INGEST_ROOT)
        ]
        say(
            f"installing {', '.join(w.name for w in wheels)} and dependencies "
            f"for CPython {python_version} on {PIP_PLATFORM}"
        )
        installer.install_for_lambda(wheels, bundle, python_version)
        say("pruning the bundle")
        _prune(bundle)
        (bundle / MARKER_FILE).write_text(
            "Built by qos_ingest_infra.packaging; safe to delete.\n", encoding="utf-8"
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        bundle.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    size_mb = _tree_size(out_dir) / 1_000_000
    say(f"bundle ready in {out_dir} ({size_mb:.1f} MB, {time.monotonic() - started:.1f}s)")
    return out_dir


def _check_sources() -> None:
    for project in (SHARED_ROOT, INGEST_ROOT):
        if not (project / "pyproject.toml").is_file():
            raise AssetBuildError(
                f"no pyproject.toml in {project}: the asset is built from the repo's sources, "
                "so qos_ingest_infra must be imported from a checkout (an editable install), "
                "not from an installed wheel"
            )


def _check_replaceable(out_dir: Path) -> None:
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise AssetBuildError(f"{out_dir} exists and is not a directory")
    if any(out_dir.iterdir()) and not (out_dir / MARKER_FILE).is_file():
        raise AssetBuildError(
            f"{out_dir} is not empty and was not built by this module ({MARKER_FILE} missing); "
            "refusing to delete it: pick an empty or new directory"
        )


class _Installer:
    """Runs the wheel build and the cross-platform install with uv, or with pip if uv is absent."""

    def __init__(self, name: str, base_cmd: list[str]) -> None:
        self.name = name
        self._base = base_cmd

    def build_wheel(self, project: Path, wheel_dir: Path) -> Path:
        before = set(wheel_dir.glob("*.whl")) if wheel_dir.exists() else set()
        if self.name == "uv":
            args = ["build", "--wheel", "--quiet", "--out-dir", str(wheel_dir)]
        else:
            args = ["wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheel_dir)]
        _run([*self._base, *args, str(project)], f"building the wheel of {project}")
        built = sorted(set(wheel_dir.glob("*.whl")) - before)
        if len(built) != 1:
            raise AssetBuildError(f"expected one wheel from {project}, found {built}")
        return built[0]

    def install_for_lambda(self, wheels: Sequence[Path], target: Path, python_version: str) -> None:
        if self.name == "uv":
            cmd = [
                *self._base,
                "pip",
                "install",
                "--quiet",
                "--no-progress",
                "--target",
                str(target),
                "--python-platform",
                UV_PLATFORM,
                "--python-version",
                python_version,
                "--only-binary",
                ":all:",
                # Real copies, not hardlinks into uv's cache: the bundle is pruned and handed
                # to CDK, and must not share inodes with the cache.
                "--link-mode",
                "copy",
            ]
        else:
            cmd = [
                *self._base,
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                "--target",
                str(target),
                "--platform",
                PIP_PLATFORM,
                "--implementation",
                "cp",
                "--python-version",
                python_version,
                "--only-binary=:all:",
            ]
        cmd.extend(str(w) for w in wheels)
        _run(cmd, "installing the wheels and their dependencies for the Lambda platform")


def _find_installer() -> _Installer:
    uv = shutil.which("uv")
    if uv:
        return _Installer("uv", [uv])
    if importlib.util.find_spec("pip") is not None:
        return _Installer("pip", [sys.executable, "-m", "pip"])
    raise AssetBuildError(
        "neither uv (on PATH) nor pip (in this interpreter) is available to build the bundle"
    )


def _run(cmd: list[str], what: str) -> None:
    # The bundle must not depend on whichever virtualenv happens to be active.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)  # noqa: S603 - argv built here, never a shell
    if result.returncode != 0:
        output = "\n".join(part for part in (result.stdout, result.stderr) if part.strip())
        tail = "\n".join(output.strip().splitlines()[-40:])
        raise AssetBuildError(
            f"{what} failed (exit {result.returncode}).\ncommand: {' '.join(cmd)}\n{tail}"
        )


def _prune(bundle: Path) -> None:
    for name in _DROPPED_TOP_LEVEL:
        path = bundle / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    for path in sorted(bundle.rglob("*"), reverse=True):
        if path.is_dir() and path.name in _DROPPED_ANYWHERE:
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in _DROPPED_SUFFIXES:
            path.unlink()
    # These record where and when each wheel was installed from (a temporary path, a
    # timestamp): they differ on every build and would change the asset hash, forcing a
    # Lambda update on every deploy even when no code changed.
    for dist_info in bundle.glob("*.dist-info"):
        dropped = {name for name in _VOLATILE_METADATA if (dist_info / name).is_file()}
        if not dropped:
            continue
        for name in dropped:
            (dist_info / name).unlink()
        record = dist_info / "RECORD"
        if record.is_file():
            lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = [line for line in lines if _record_path_name(line) not in dropped]
            record.write_text("".join(kept), encoding="utf-8")


def _record_path_name(record_line: str) -> str:
    return record_line.split(",", 1)[0].rsplit("/", 1)[-1]


def _tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qos_ingest_infra.packaging",
        description="Build the ingest Lambda's code directory (no Docker needed).",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=INGEST_ROOT / ".build" / "lambda",
        help="directory to (re)build; default: %(default)s",
    )
    parser.add_argument("--python-version", default="3.12", help="default: %(default)s")
    args = parser.parse_args(argv)
    try:
        build_lambda_asset(args.out, python_version=args.python_version)
    except AssetBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
