"""`qos up` end to end: starts ingest over a data directory, serves, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from qos_infra.cli import main
from qos_shared.eventlog import EventLog
from qos_shared.examples import original_sample_envelope


def read_until(process: subprocess.Popen[str], pattern: str, timeout: float = 60) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"no line matching {pattern!r}; got:\n" + "\n".join(lines))


def test_up_serves_ingest_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-m", "qos_infra.cli", "up", "--data-dir", str(data_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = read_until(process, r"Ctrl-C to stop")
        (ingest_line,) = [line for line in lines if line.strip().startswith("ingest ")]
        url = re.search(r"http://127\.0\.0\.1:(\d+)", ingest_line)
        assert url, ingest_line
        conn = http.client.HTTPConnection("127.0.0.1", int(url.group(1)), timeout=10)
        conn.request("POST", "/streams", body=orjson.dumps(original_sample_envelope()))
        response = conn.getresponse()
        assert response.status == 200, response.read()
        conn.close()
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    assert "qos: stopped" in out
    with EventLog(data_dir / "events.sqlite") as log:
        (entry,) = log.read()
    record = orjson.loads(entry.data)
    assert record["live_latency_ms"] == 2000
    assert record["received_at"] == record["event_time"]


def test_up_reports_a_port_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = subprocess.run(
            [
                sys.executable,
                "-m",
                "qos_infra.cli",
                "up",
                "--data-dir",
                str(tmp_path),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert process.returncode == 1
    assert "ingest exited with code 2 while starting" in process.stderr
    assert "Address already in use" in process.stdout


def test_status_reads_the_log_and_explains_an_empty_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--data-dir", str(tmp_path)]) == 1
    assert "no event log" in capsys.readouterr().err
    with EventLog(tmp_path / "events.sqlite") as log:
        log.commit("lake", 0)
    assert main(["status", "--data-dir", str(tmp_path)]) == 0
    assert "0 events" in capsys.readouterr().out
