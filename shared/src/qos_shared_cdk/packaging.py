"""Builds a service's Lambda deployment directory (code plus dependencies) without Docker.

The bundle is made of wheels only: the repo's own `qos-shared` and the service's distribution
are built into wheels, then installed with their dependencies (and the service's Lambda extra,
if it names one) for the Lambda platform (manylinux x86_64, CPython 3.12) into a plain directory
that CDK zips as the function's code. Because nothing is compiled here, the host's OS and Python
version don't matter. Each service describes its bundle once (`LambdaBundle`) in its
`<svc>_infra.packaging`, which also gives it a command line (`cli`).

Plain Python (no aws_cdk), so building a bundle doesn't pay for jsii.
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# qos_shared_cdk/packaging.py -> shared/src/qos_shared_cdk -> shared
SHARED_ROOT = Path(__file__).resolve().parents[2]
REPO_ROOT = SHARED_ROOT.parent

# The Lambda x86_64 runtimes run on Amazon Linux 2023 (glibc 2.34), so manylinux2014 wheels
# (glibc 2.17) are always loadable there; asking for the older tag keeps the resolution wide.
UV_PLATFORM = "x86_64-manylinux2014"
PIP_PLATFORM = "manylinux2014_x86_64"
DEFAULT_PYTHON_VERSION = "3.12"

# Written into every bundle so that a rebuild only ever wipes a directory this module made.
MARKER_FILE = ".qos-lambda-asset"

# Only runtime code belongs in the function: the deploy kit rides along in the qos-shared wheel,
# and console scripts, bytecode caches and uv's lock file of the target dir are useless (or
# stale) on Lambda.
_ALWAYS_DROPPED = ("qos_shared_cdk", "bin", ".lock")
_DROPPED_ANYWHERE = ("__pycache__",)
_DROPPED_SUFFIXES = (".pyc", ".pyo")
_VOLATILE_METADATA = ("direct_url.json", "uv_cache.json")

Progress = Callable[[str], None]


class AssetBuildError(RuntimeError):
    """The Lambda bundle could not be built; the message says which step failed and why."""


@dataclass(frozen=True)
class LambdaBundle:
    """What goes into one service's Lambda bundle.

    service_root: the service's folder (its pyproject.toml builds the wheel).
    distribution / infra_package: `qos-<svc>` and its CDK package, which rides in the wheel and is
        dropped from the bundle.
    extra: the distribution's extra the function needs (installed through a direct reference).
    dropped: further top-level paths of the bundle that are not the function's code.
    out_name: the folder under the service's `.build/` that the apps build into by default.
    """

    service_root: Path
    distribution: str
    infra_package: str
    extra: str | None = None
    dropped: tuple[str, ...] = ()
    out_name: str = "lambda"

    @property
    def label(self) -> str:
        return f"{self.distribution} asset"

    @property
    def default_out(self) -> Path:
        return self.service_root / ".build" / self.out_name  # gitignored

    def build(
        self,
        out_dir: Path,
        *,
        files: Mapping[str, Path] | None = None,
        python_version: str = DEFAULT_PYTHON_VERSION,
        progress: Progress | Literal["stderr"] | None = "stderr",
    ) -> Path:
        """Build the bundle into `out_dir` (see `build_lambda_asset`); progress on stderr."""
        say = self._stderr if progress == "stderr" else progress
        return build_lambda_asset(
            self, out_dir, files=files, python_version=python_version, progress=say
        )

    def cli(
        self,
        argv: Sequence[str] | None,
        *,
        description: str,
        build: Callable[[Path, str, argparse.Namespace], Path] | None = None,
        options: Callable[[argparse.ArgumentParser], None] | None = None,
    ) -> int:
        """`python -m <svc>_infra.packaging`: `--out`, `--python-version`, and the service's
        own `options`; `build(out, python_version, args)` (default: `self.build`)."""
        parser = argparse.ArgumentParser(prog=f"python -m {self.infra_package}.packaging")
        parser.description = description
        parser.add_argument(
            "--out",
            type=Path,
            default=self.default_out,
            help="directory to (re)build; default: %(default)s",
        )
        parser.add_argument(
            "--python-version", default=DEFAULT_PYTHON_VERSION, help="default: %(default)s"
        )
        if options is not None:
            options(parser)
        args = parser.parse_args(argv)
        try:
            if build is None:
                self.build(args.out, python_version=args.python_version)
            else:
                build(args.out, args.python_version, args)
        except AssetBuildError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0

    def _stderr(self, message: str) -> None:
        print(f"[{self.label}] {message}", file=sys.stderr, flush=True)


def build_lambda_asset(
    bundle: LambdaBundle,
    out_dir: Path,
    *,
    files: Mapping[str, Path] | None = None,
    python_version: str = DEFAULT_PYTHON_VERSION,
    progress: Progress | None = None,
) -> Path:
    """Build the Lambda code directory into `out_dir` (replacing it) and return its path.

    `files` are copied to the bundle's root under the given names. `out_dir` must be absent,
    empty, or a bundle this function built before; anything else is refused rather than
    deleted. The new bundle is assembled next to `out_dir` and swapped in only once complete,
    so a failed build leaves the previous bundle in place.
    """
    say = progress or (lambda _message: None)
    out_dir = out_dir.resolve()
    projects = (SHARED_ROOT, bundle.service_root)
    _check_sources(projects, bundle.infra_package)
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    installer = _find_installer()
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        wheel_dir, target = staging / "wheels", staging / "bundle"
        say(f"building wheels of {' and '.join(p.name for p in projects)} with {installer.name}")
        shared_wheel, service_wheel = (installer.build_wheel(p, wheel_dir) for p in projects)
        requirements = [str(shared_wheel), str(service_wheel)]
        if bundle.extra:
            # The service's wheel with its extra, as a direct reference (a bare path takes none).
            requirements[1] = f"{bundle.distribution}[{bundle.extra}] @ {service_wheel.as_uri()}"
        say(
            f"installing {shared_wheel.name}, {service_wheel.name} and dependencies "
            f"for CPython {python_version} on {PIP_PLATFORM}"
        )
        installer.install_for_lambda(requirements, target, python_version)
        say("pruning the bundle")
        _prune(target, (bundle.infra_package, *_ALWAYS_DROPPED, *bundle.dropped))
        for name, source in (files or {}).items():
            shutil.copyfile(source, target / name)
        (target / MARKER_FILE).write_text(
            f"Built by {bundle.infra_package}.packaging; safe to delete.\n", encoding="utf-8"
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        target.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    size_mb = _tree_size(out_dir) / 1_000_000
    say(f"bundle ready in {out_dir} ({size_mb:.1f} MB, {time.monotonic() - started:.1f}s)")
    return out_dir


def _check_sources(projects: Sequence[Path], infra_package: str) -> None:
    for project in projects:
        if not (project / "pyproject.toml").is_file():
            raise AssetBuildError(
                f"no pyproject.toml in {project}: the asset is built from the repo's sources, "
                f"so {infra_package} must be imported from a checkout (an editable install), "
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


@dataclass
class _Installer:
    """Runs the wheel build and the cross-platform install with uv, or with pip if uv is absent."""

    name: str
    base: list[str] = field(default_factory=list)

    def build_wheel(self, project: Path, wheel_dir: Path) -> Path:
        before = set(wheel_dir.glob("*.whl")) if wheel_dir.exists() else set()
        if self.name == "uv":
            args = ["build", "--wheel", "--quiet", "--out-dir", str(wheel_dir)]
        else:
            args = ["wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheel_dir)]
        _run([*self.base, *args, str(project)], f"building the wheel of {project}")
        built = sorted(set(wheel_dir.glob("*.whl")) - before)
        if len(built) != 1:
            raise AssetBuildError(f"expected one wheel from {project}, found {built}")
        return built[0]

    def install_for_lambda(
        self, requirements: Sequence[str], target: Path, python_version: str
    ) -> None:
        if self.name == "uv":
            cmd = [*self.base, "pip", "install", "--quiet", "--no-progress", "--target"]
            cmd += [str(target), "--python-platform", UV_PLATFORM]
            cmd += ["--python-version", python_version, "--only-binary", ":all:"]
            # Real copies, not hardlinks into uv's cache: the bundle is pruned and handed to
            # CDK, and must not share inodes with the cache.
            cmd += ["--link-mode", "copy"]
        else:
            cmd = [*self.base, "install", "--quiet", "--disable-pip-version-check"]
            cmd += ["--no-compile", "--target", str(target), "--platform", PIP_PLATFORM]
            cmd += ["--implementation", "cp", "--python-version", python_version]
            cmd += ["--only-binary=:all:"]
        _run([*cmd, *requirements], "installing the wheels and their dependencies for Lambda")


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


def _prune(bundle: Path, dropped_top_level: Sequence[str]) -> None:
    for name in dropped_top_level:
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
