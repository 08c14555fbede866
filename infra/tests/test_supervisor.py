"""`qos up`'s supervisor with stand-in components (small Python processes): a component that
exits is restarted after a backoff while the others keep running, on the port it had; one that
keeps exiting is given up on and said so; a finite one may end; what a component started dies
with it; `stack.json` and `qos status` show each component's state."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from qos_infra import local
from qos_infra.cli import main
from qos_infra.dashboard.app import Dashboard
from qos_infra.stack_state import read_state

PYTHON = sys.executable
FAST = local.RestartPolicy(
    first_delay_s=0.2, max_delay_s=0.8, stable_after_s=30, give_up_after=4, give_up_window_s=60
)
SERVING = local.Component("server", [PYTHON, "-c", "import time; time.sleep(120)"])
# Listens on --port (0: a free one) and says where, as the stack's servers do.
LISTENER = """
import socket, sys, time
port = int(sys.argv[sys.argv.index("--port") + 1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen()
print(f"listening on http://127.0.0.1:{s.getsockname()[1]}", flush=True)
time.sleep(120)
"""


@contextmanager
def supervised(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *parts: local.Component,
    policy: local.RestartPolicy = FAST,
) -> Iterator[tuple[local.LocalStack, list[str], list[str], list[int]]]:
    """A started stack of `parts` supervised in a thread: (stack, stdout lines, stderr lines,
    wait()'s return value once stopped)."""
    monkeypatch.setattr(local, "components", lambda _options: list(parts))
    out: list[str] = []
    err: list[str] = []
    options = local.StackOptions(data_dir=tmp_path, restart=policy)
    stack = local.LocalStack(options, out=out.append, err=err.append)
    stack.start()
    codes: list[int] = []
    waiter = threading.Thread(target=lambda: codes.append(stack.wait()))
    waiter.start()
    try:
        yield stack, out, err, codes
    finally:
        stack.request_stop()
        waiter.join(10)
        stack.stop()
    assert all(r.process.poll() is not None for r in stack.running)
    assert json.loads((tmp_path / "stack.json").read_text())["state"] == "stopped"


def until(condition: object, timeout_s: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def component_state(data_dir: Path, name: str) -> dict[str, object]:
    state = read_state(data_dir)
    assert state is not None
    component: dict[str, object] = state["components"][name]
    return component


def test_a_killed_component_restarts_on_its_port_and_the_others_keep_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    listener = local.Component(
        "listener",
        [PYTHON, "-c", LISTENER, "--port", "0"],
        ready_pattern=re.compile(r"listening on (?P<url>\S+)"),
    )
    with supervised(tmp_path, monkeypatch, SERVING, listener) as (stack, out, err, _):
        server, served = stack.running
        url, first_pid, server_pid = served.url, served.process.pid, server.process.pid
        assert url is not None and component_state(tmp_path, "listener")["state"] == "running"
        os.kill(first_pid, signal.SIGKILL)
        until(lambda: served.state == "running" and served.process.pid != first_pid)
        # Back on the URL it announced (port 0 asked for a free one the first time only).
        assert served.url == url and served.restarts == 1
        assert f"qos: listener exited with code {-signal.SIGKILL}; restarting it in 0.2 s" in err
        assert "qos: restarting listener (restart 1)" in out
        assert server.process.pid == server_pid and server.process.poll() is None
        until(lambda: component_state(tmp_path, "listener")["state"] == "running")
        shown = component_state(tmp_path, "listener")
        assert shown["pid"] == served.process.pid and shown["restarts"] == 1
        assert shown["last_exit"]["code"] == -signal.SIGKILL  # type: ignore[index]
        # The dashboard's health shows it...
        health = Dashboard(tmp_path).health("")["stack"]
        assert health["alive"] is True and health["pid"] == os.getpid()
        assert health["components"]["listener"]["restarts"] == 1
        assert health["components"]["server"]["pid"] == server_pid
        # ... and `qos status`, beside the event log (none here).
        assert main(["status", "--data-dir", str(tmp_path)]) == 1
        status = capsys.readouterr().out
        assert f"qos up pid {os.getpid()}" in status
        assert f"listener    running    pid {served.process.pid}, 1 restarts" in status
        assert f"last exit code {-signal.SIGKILL}" in status


def test_a_component_that_keeps_failing_is_given_up_on_and_the_rest_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = tmp_path / "starts"
    # Ready at once, then exits 3 a moment later: every start counted in a file.
    flaky = local.Component(
        "flaky",
        [
            PYTHON,
            "-c",
            f"import time; open({str(counter)!r}, 'a').write('x'); time.sleep(0.1);"
            " raise SystemExit(3)",
        ],
    )
    with supervised(tmp_path, monkeypatch, SERVING, flaky) as (stack, _out, err, codes):
        server, failing = stack.running
        until(lambda: failing.state == "failed", timeout_s=20)
        # 4 exits within the window: 3 restarts, with delays doubling to the cap.
        assert failing.restarts == 3 and len(counter.read_text()) == 4
        delays = [line.rsplit(" in ", 1)[1] for line in err if "restarting it in" in line]
        assert delays == ["0.2 s", "0.4 s", "0.8 s"]
        (said,) = [line for line in err if "FAILED" in line]
        assert "qos: flaky FAILED: it exited 4 times within 60 s (last exit code 3)" in said
        assert "not restarting it" in said and "the rest of the stack goes on" in said.lower()
        time.sleep(1.5)  # not looped: no further start
        assert len(counter.read_text()) == 4 and server.process.poll() is None
        assert component_state(tmp_path, "flaky")["state"] == "failed"
        assert component_state(tmp_path, "server")["state"] == "running"
        stack.request_stop()
        until(lambda: codes != [])
        assert codes == [1]  # `qos up` ends with 1 after a component failed


def test_the_backoff_starts_over_once_a_component_stayed_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up longer than `stable_after_s` before each exit: every restart waits the first delay."""
    policy = local.RestartPolicy(first_delay_s=0.2, max_delay_s=0.8, stable_after_s=0.5)
    lasting = local.Component(
        "lasting", [PYTHON, "-c", "import time; time.sleep(0.9); raise SystemExit(4)"]
    )
    with supervised(tmp_path, monkeypatch, SERVING, lasting, policy=policy) as running:
        stack, _out, err, _codes = running
        until(lambda: stack.running[1].restarts >= 3, timeout_s=20)
        delays = [line.rsplit(" in ", 1)[1] for line in err if "restarting it in" in line]
        assert delays[:3] == ["0.2 s", "0.2 s", "0.2 s"], err


def test_a_finite_component_may_end_and_one_that_fails_is_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = local.Component("viewers", [PYTHON, "-c", "print('sent')"], finite=True)
    marker = tmp_path / "failed-once"
    # Fails the first time (exit 3), ends its work the second (exit 0).
    once = local.Component(
        "retried",
        [
            PYTHON,
            "-c",
            f"import os; p = {str(marker)!r}\n"
            "if not os.path.exists(p): open(p, 'w').close(); raise SystemExit(3)",
        ],
        finite=True,
    )
    with supervised(tmp_path, monkeypatch, SERVING, done, once) as (stack, out, err, codes):
        server, viewers, retried = stack.running
        until(lambda: viewers.state == "finished" and retried.state == "finished")
        assert "qos: viewers finished; the stack goes on" in out
        assert viewers.restarts == 0 and retried.restarts == 1
        assert "qos: retried exited with code 3; restarting it in 0.2 s" in err
        assert server.state == "running" and codes == []
        stack.request_stop()
        until(lambda: codes != [])
        assert codes == [0]
    assert component_state(tmp_path, "viewers")["state"] == "finished"


def test_what_a_killed_component_started_dies_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the OpenSearch node's launcher starts its JVM in a session of its own: killing the
    launcher outright would leave the JVM holding the port and the data directory."""
    pid_file = tmp_path / "child.pid"
    launcher = local.Component(
        "launcher",
        [
            PYTHON,
            "-c",
            "import subprocess, sys, time\n"
            "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
            " start_new_session=True)\n"
            f"open({str(pid_file)!r}, 'w').write(str(c.pid)); print('up', flush=True)\n"
            "time.sleep(120)",
        ],
        ready_pattern=re.compile("up"),
    )
    with supervised(tmp_path, monkeypatch, launcher) as (stack, _out, _err, _codes):
        (running,) = stack.running
        child = int(pid_file.read_text())
        until(lambda: any(pid == child for pid, _ in running.descendants))
        os.kill(running.process.pid, signal.SIGKILL)
        until(lambda: not _alive(child))
        until(lambda: running.state == "running" and running.restarts == 1)
        second = int(pid_file.read_text())
        assert second != child and _alive(second)
    # ... and the stop ends the new one's child too.
    until(lambda: not _alive(second))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_status_says_when_the_stack_was_killed_outright(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = 2**22 + 1  # above Linux's default pid_max: no such process
    (tmp_path / "stack.json").write_text(
        json.dumps(
            {
                "pid": gone,
                "state": "running",
                "started_at": "2026-12-01T10:00:00+00:00",
                "updated_at": "2026-12-01T10:05:00+00:00",
                "components": {
                    "ingest": {
                        "state": "running",
                        "pid": 1234,
                        "url": None,
                        "restarts": 2,
                        "last_exit": {"code": -9, "at": "2026-12-01T10:04:00+00:00"},
                        "finite": False,
                    }
                },
            }
        )
    )
    state = read_state(tmp_path)
    assert state is not None and state["alive"] is False
    main(["status", "--data-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert f"stack: not running (qos up pid {gone} is gone without stopping it" in out
    assert "ingest      running    no pid, 2 restarts, last exit code -9" in out


def test_restart_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="delays"):
        local.RestartPolicy(first_delay_s=5, max_delay_s=1)
    with pytest.raises(ValueError, match="give_up_after"):
        local.RestartPolicy(give_up_after=0)


def test_a_busy_port_is_an_error_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for flag, name in (("--port", "ingest"), ("--dashboard-port", "dashboard")):
            argv = ["up", "--data-dir", str(tmp_path), "--no-search", "--player-port", "0"]
            argv += ["--port", "0", "--dashboard-port", "0", flag, str(port)]
            assert main(argv) == 1
            err = capsys.readouterr().err
            assert f"qos: {name}'s port {port} on 127.0.0.1 is not free" in err
            assert f"choose another with {flag} (0: any free port)" in err
    # Nothing was started: no stack state written.
    assert not (tmp_path / "stack.json").exists()
