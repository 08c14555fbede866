#!/usr/bin/env python3
"""The two quickstart commands: `python3 dev.py up` runs the local stack, `python3 dev.py test`
runs every test; `python3 dev.py qos …` runs the `qos` command line (e.g. `qos status`) from the
stack's environment. Needs only Python 3.11+; the tools (nox, uv) go into `.tools/`, a virtualenv
of their own, on first use.

SIGINT or SIGTERM to dev.py goes to everything it started (nox and what nox runs), and dev.py
returns once all of it has stopped: `up` waits for `qos up` to stop its components.

`test` also checks the system tools that some suites need (Node.js for the CDK synth tests, Java
17 for the Flink tests). On a
Debian-like machine where it runs as root it installs what is missing with apt-get; elsewhere it
names exactly what to install and stops.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
UP_ENV = ROOT / ".nox" / "up"  # the `up` session's virtualenv: where `qos` is installed
# Sent on to what dev.py runs (SIGHUP: the terminal closed).
STOP_SIGNALS = [signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if os.name != "nt" else [])]
STOP_GRACE_S = 60.0  # after a stop signal, what still runs this much later is killed
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


def _descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (Linux's /proc; none elsewhere)."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if fields[0] != "Z":  # a zombie has ended; its parent reaps it
            tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _become_subreaper() -> bool:
    """Linux: orphans of what this process starts become its children (not init's), so that it
    can wait for them. False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(36, 1, 0, 0, 0)) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def run_group(argv: list[str], env: dict[str, str], *, wait_for_all: bool) -> int:
    """Run `argv` in a process group of its own and return its exit status. A stop signal to
    this process is sent on to that group; with `wait_for_all`, as SIGTERM, and this returns
    only once every process started under it has ended (what still runs `STOP_GRACE_S` after a
    stop signal is killed). SIGTERM because nox answers SIGINT by killing its command within a
    second, before `qos up` has stopped its components; SIGTERM ends nox at once and lets
    `qos up` (in the same group) stop in order."""
    if os.name == "nt":
        return subprocess.call(argv, env=env)
    reaper = wait_for_all and _become_subreaper()
    child = subprocess.Popen(argv, env=env, start_new_session=True)
    stop_asked: list[float] = []

    def forward(signum: int, _frame: object) -> None:
        if not stop_asked:
            _say(f"stopping (signal {signum}); waiting for what runs to stop")
        stop_asked.append(time.monotonic())
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGTERM if wait_for_all else signum)

    previous = {signum: signal.signal(signum, forward) for signum in STOP_SIGNALS}
    try:
        code = child.wait()
        if wait_for_all:
            _wait_for_descendants(stop_asked, reaper)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code


def _wait_for_descendants(stop_asked: list[float], reaper: bool) -> None:
    """Until nothing started under this process runs (the group leader has exited: `qos up`
    may still be stopping its components); after the grace period, kill what is left."""
    ended_at = time.monotonic()
    while left := _descendants(os.getpid()):
        start = stop_asked[0] if stop_asked else ended_at
        if time.monotonic() - start > STOP_GRACE_S:
            _say(f"killing {len(left)} processes that did not stop in {STOP_GRACE_S:g} s")
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        _reap(reaper)
        time.sleep(0.1)
    _reap(reaper)


def _reap(reaper: bool) -> None:
    """Collect the exit status of the orphans that became this process's children."""
    if reaper:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass


def qos_command() -> Path:
    """The `qos` of the up session's environment (created first when missing)."""
    qos = UP_ENV / ("Scripts/qos.exe" if os.name == "nt" else "bin/qos")
    if not qos.exists():
        _say("creating the stack's environment (.nox/up) once")
        nox = ensure_tools()
        env = {**os.environ, "PATH": f"{_tools_bin()}{os.pathsep}{os.environ.get('PATH', '')}"}
        subprocess.run([str(nox), "-s", "up", "--install-only"], env=env, cwd=ROOT, check=True)
    return qos


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):
        _say("Python 3.11 or newer is needed")
        return 1
    if not argv or argv[0] not in {"up", "test", "nox", "qos"}:
        print(
            "usage: python3 dev.py up [qos up options]   start the local stack\n"
            "       python3 dev.py qos [qos arguments]   the qos command line, e.g. qos status\n"
            "       python3 dev.py test [nox options]    run every test (the default nox run)\n"
            "       python3 dev.py nox [nox options]     any nox session, e.g. nox -s bench",
            file=sys.stderr,
        )
        return 2
    command, rest = argv[0], argv[1:]
    if command == "qos":
        qos = qos_command()
        # In the caller's directory (its --data-dir), as the process itself: signals, terminal.
        os.execv(qos, [str(qos), *rest])  # noqa: S606
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
    return run_group([str(nox), *args], env, wait_for_all=command == "up")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
