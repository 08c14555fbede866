#!/usr/bin/env python3
"""The two quickstart commands: `python3 dev.py up` runs the local stack, `python3 dev.py test`
runs every test. Needs only Python 3.11+; the tools (nox, uv) go into `.tools/`, a virtualenv
of their own, on first use.

`test` also checks the system tools that some suites need (Node.js for the CDK synth tests, Java
17 for the Flink tests). On a
Debian-like machine where it runs as root it installs what is missing with apt-get; elsewhere it
names exactly what to install and stops.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
TOOL_REQUIREMENTS = ["nox==2026.10.20", "uv==0.13.9"]
# command -> (Debian package, why it is needed)
SYSTEM_NEEDS: dict[str, tuple[str, str]] = {
    "node": ("nodejs", "the AWS CDK (jsii) runs on Node.js in the infra tests"),
    "java": ("openjdk-17-jdk-headless", "the PyFlink tests run Flink's mini-cluster on Java"),
    "javac": ("openjdk-17-jdk-headless", "the local OpenSearch node's launcher is compiled"),
    "mvn": ("maven", "the local OpenSearch node is assembled from Maven Central by Maven"),
    "chromium": ("chromium", "the dashboard and player browser tests run headless Chromium"),
    "ffmpeg": ("ffmpeg", "the player's browser tests play an HLS stream made with ffmpeg"),
    "jq": ("jq", "the lake's stack tests run Firehose's partition-key query with jq 1.6"),
}


def _say(message: str) -> None:
    print(f"dev.py: {message}", flush=True)


def _tools_bin() -> Path:
    return TOOLS / ("Scripts" if os.name == "nt" else "bin")


def ensure_tools() -> Path:
    """Create `.tools/` with pinned nox and uv unless it already has them."""
    nox = _tools_bin() / "nox"
    marker = TOOLS / "requirements.txt"
    wanted = "\n".join(TOOL_REQUIREMENTS)
    if nox.exists() and marker.exists() and marker.read_text() == wanted:
        return nox
    _say(f"installing {', '.join(TOOL_REQUIREMENTS)} into {TOOLS.relative_to(ROOT)}/ (once)")
    venv.EnvBuilder(with_pip=True, clear=True).create(TOOLS)
    python = _tools_bin() / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *TOOL_REQUIREMENTS,
        ],
        check=True,
    )
    marker.write_text(wanted)
    return nox


def ensure_system_tools() -> None:
    missing = {cmd: need for cmd, need in SYSTEM_NEEDS.items() if shutil.which(cmd) is None}
    if not missing:
        return
    packages = sorted({package for package, _ in missing.values()})
    can_apt = shutil.which("apt-get") is not None and hasattr(os, "geteuid") and os.geteuid() == 0
    if can_apt:
        _say(f"installing {' '.join(packages)} with apt-get")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        return
    for cmd, (package, why) in missing.items():
        _say(f"missing `{cmd}` ({why}); install it, e.g. the Debian package `{package}`")
    raise SystemExit(1)


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):
        _say("Python 3.11 or newer is needed")
        return 1
    if not argv or argv[0] not in {"up", "test", "nox"}:
        print(
            "usage: python3 dev.py up [qos up options]   start the local stack\n"
            "       python3 dev.py test [nox options]    run every test (the default nox run)\n"
            "       python3 dev.py nox [nox options]     any nox session, e.g. nox -s bench",
            file=sys.stderr,
        )
        return 2
    command, rest = argv[0], argv[1:]
    nox = ensure_tools()
    env = {**os.environ, "PATH": f"{_tools_bin()}{os.pathsep}{os.environ.get('PATH', '')}"}
    if command == "up":
        args = ["-s", "up", "--", *rest]
    elif command == "test":
        ensure_system_tools()
        args = rest
    else:
        args = rest
    os.chdir(ROOT)
    return subprocess.call([str(nox), *args], env=env)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
