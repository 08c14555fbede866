"""`python3 dev.py`, the quickstart's entry: a stop signal to `dev.py up`'s own process stops the
whole stack and leaves no process behind; `dev.py qos …` runs the `qos` command line from the
stack's environment; `qos`'s help names itself `qos` for each command."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from qos_up_support import processes_using

from qos_infra.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "dev.py"
# The first run makes .tools/ and the up session's environment: minutes, not seconds.
FIRST_START_S = 900


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a process, None when there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0]


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc."""
    tree: dict[int, list[int]] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        stat = _stat(int(proc.name))
        if stat is not None:
            tree.setdefault(stat[0], []).append(int(proc.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def running(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the stack's processes in /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_to_dev_py_up_stops_everything(tmp_path: Path, signum: int) -> None:
    data_dir = tmp_path / "data"
    argv = ["up", "--data-dir", str(data_dir), "--no-search", "--port", "0"]
    argv += ["--dashboard-port", "0", "--player-port", "0"]
    dev = subprocess.Popen(
        [sys.executable, str(DEV), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert dev.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + FIRST_START_S
        for line in dev.stdout:
            lines.append(line.rstrip("\n"))
            if "qos: press Ctrl-C to stop" in line or time.monotonic() > deadline:
                break
        assert "qos: press Ctrl-C to stop" in lines, "\n".join(lines[-50:])
        below = descendants(dev.pid)
        commands = {p: Path(f"/proc/{p}/cmdline").read_bytes() for p in below}
        # nox, `qos up` and its components (ingest, realtime, lake, dashboard at least).
        assert sum(str(data_dir).encode() in c for c in commands.values()) >= 5, commands
        assert any(b"nox" in c for c in commands.values()), commands
        dev.send_signal(signum)  # to dev.py's own process only, not its group
        out, _ = dev.communicate(timeout=90)
    finally:
        if dev.poll() is None:
            dev.kill()
            dev.wait()
    lines += out.splitlines()
    text = "\n".join(lines)
    assert f"dev.py: stopping (signal {signum})" in text
    assert "qos: stopped" in text, text[-3000:]
    left = {pid: commands[pid] for pid in below if running(pid)}
    assert left == {}, f"still running after dev.py returned: {left}"
    assert processes_using(data_dir) == []


def test_dev_py_qos_runs_the_command_line_from_the_stack_environment(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(DEV), "qos", "status", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=FIRST_START_S,
    )
    assert done.returncode == 1, done.stderr
    assert f"qos: no event log at {tmp_path / 'events.sqlite'}" in done.stderr
    done = subprocess.run(
        [sys.executable, str(DEV), "qos", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.startswith("usage: qos "), done.stdout
    # ... from the caller's directory (a relative --data-dir is the caller's).
    done = subprocess.run(
        [sys.executable, str(DEV), "qos", "status", "--data-dir", "here"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert "qos: no event log at here/events.sqlite" in done.stderr


def test_dev_py_without_a_command_shows_its_usage() -> None:
    done = subprocess.run([sys.executable, str(DEV)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "python3 dev.py qos [qos arguments]" in done.stderr


@pytest.mark.parametrize("command", ["up", "status", "reset", "simulate"])
def test_qos_help_is_named_qos_for_each_command(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main([command, "--help"])
    except SystemExit as exited:  # argparse's own exit (`qos simulate` returns its code)
        code = exited.code  # type: ignore[assignment]
    assert code == 0
    assert re.match(rf"usage: qos {command}\b", capsys.readouterr().out)


def test_qos_up_help_lists_every_port_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["up", "--help"])
    out = capsys.readouterr().out
    for flag in ("--port", "--search-port", "--dashboard-port", "--player-port"):
        assert flag in out


def test_qos_up_refuses_a_port_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["up", "--player-port", "70000"])
    assert exited.value.code == 2
    assert "--player-port must be between 0 and 65535" in capsys.readouterr().err
