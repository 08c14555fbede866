"""`qos up` end to end: starts ingest over a data directory, serves, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import http.client
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from qos_up_support import start_qos

from qos_infra.cli import main
from qos_lake.api import live_dataset_files
from qos_realtime.api import MetricReader
from qos_shared.eventlog import EventLog
from qos_shared.examples import ORIGINAL_SAMPLE_DATA, original_sample_envelope


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


def wait_for_rows(path: Path, *, deadline: float) -> dict[str, float | None]:
    while time.monotonic() < deadline:
        if path.exists():
            store = MetricReader(path)
            try:
                windows = store.windows()
                if windows:
                    return {
                        r.metric: r.value
                        for r in store.window(windows[-1])
                        if r.dimension == "all" and not r.split
                    }
            finally:
                store.close()
        time.sleep(0.2)
    raise AssertionError("the metric store showed no window in time")


def wait_for_lake_files(root: Path, *, deadline: float) -> list[Path]:
    while time.monotonic() < deadline:
        files = live_dataset_files(root) if root.exists() else []
        if files:
            return files
        time.sleep(0.2)
    raise AssertionError("the lake writer wrote no file in time")


def search_count(lines: list[str], *, deadline: float) -> int:
    """Documents in the local node's qos-events-* indices, once there are any."""
    (node_line,) = [line for line in lines if line.strip().startswith("opensearch ")]
    url = re.search(r"http://127\.0\.0\.1:(\d+)", node_line)
    assert url, node_line
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", int(url.group(1)), timeout=10)
        conn.request("GET", "/qos-events-*/_count")
        response = conn.getresponse()
        body = orjson.loads(response.read())
        conn.close()
        if response.status == 200 and body["count"]:
            return int(body["count"])
        time.sleep(0.5)
    raise AssertionError("the search indexer indexed nothing in time")


def test_up_serves_ingest_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    argv = ["up", "--data-dir", str(data_dir), "--port", "0", "--search-port", "0"]
    argv += ["--dashboard-port", "0"]
    process = start_qos(argv, env={"QOS_LAKE_FLUSH_SECONDS": "1"})
    try:
        lines = read_until(process, r"Ctrl-C to stop", timeout=180)
        (ingest_line,) = [line for line in lines if line.strip().startswith("ingest ")]
        url = re.search(r"http://127\.0\.0\.1:(\d+)", ingest_line)
        assert url, ingest_line
        conn = http.client.HTTPConnection("127.0.0.1", int(url.group(1)), timeout=10)
        conn.request("POST", "/streams", body=orjson.dumps(original_sample_envelope()))
        response = conn.getresponse()
        assert response.status == 200, response.read()
        posted = time.monotonic()
        conn.close()
        # The realtime engine shows the open window's values (provisional) well before it
        # closes; the issue asks for no more than window length + 2 s.
        rows = wait_for_rows(data_dir / "metrics.sqlite", deadline=posted + 60 + 2)
        assert rows["concurrency"] == 1
        assert rows["live_latency"] == pytest.approx(2.0)
        assert rows["rebuffering_ratio"] == 0
        # The lake writer flushes within its interval (1 s here) into the dt=/hour= layout.
        files = wait_for_lake_files(data_dir / "lake", deadline=time.monotonic() + 30)
        table = pq.read_table(files)
        assert table.column("session_id").to_pylist() == [ORIGINAL_SAMPLE_DATA["session_id"]]
        assert table.column("live_latency_ms").to_pylist() == [2000]
        # ... and `qos-lake query` answers from it.
        (event_time,) = table.column("event_time").to_pylist()
        today = datetime.fromtimestamp(event_time / 1000, UTC).date().isoformat()
        answer = subprocess.run(
            [
                sys.executable,
                "-m",
                "qos_lake.entrypoints.cli",
                "query",
                "kpis",
                "--from",
                today,
                "--to",
                today,
                "--lake-root",
                str(data_dir / "lake"),
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        (day,) = orjson.loads(answer.stdout)
        assert day["concurrency"] == 1
        assert day["live_latency"] == pytest.approx(2.0)
        # The search indexer put it into the local OpenSearch node.
        assert search_count(lines, deadline=time.monotonic() + 30) == 1
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


def test_up_reports_a_port_in_use(tmp_path: Path) -> None:
    """A taken port is an error naming the option to change, before anything starts (the
    player's too: never silently another port)."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        flags = [("--port", "ingest")]
        if shutil.which("node") is not None:
            flags.append(("--player-port", "player"))
        for flag, name in flags:
            argv = ["up", "--data-dir", str(tmp_path), "--no-search", "--port", "0"]
            argv += ["--dashboard-port", "0", "--player-port", "0", flag, str(port)]
            process = subprocess.run(
                [sys.executable, "-m", "qos_infra.cli", *argv],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert process.returncode == 1, process.stderr
            assert f"{name}'s port {port} on 127.0.0.1 is not free" in process.stderr
            assert f"choose another with {flag}" in process.stderr
            assert "qos: ready" not in process.stdout


def test_status_reads_the_log_and_explains_an_empty_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--data-dir", str(tmp_path)]) == 1
    assert "no event log" in capsys.readouterr().err
    with EventLog(tmp_path / "events.sqlite") as log:
        log.commit("lake", 0)
    assert main(["status", "--data-dir", str(tmp_path)]) == 0
    assert "0 events" in capsys.readouterr().out


def test_qos_lake_is_the_lake_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lake", "queries"]) == 0
    assert "popular-channels" in capsys.readouterr().out
    assert (
        main(
            [
                "lake",
                "query",
                "popular-channels",
                "--from",
                "2026-11-02",
                "--to",
                "2026-11-01",
                "--lake-root",
                str(tmp_path),
            ]
        )
        != 0
    )
    assert "the range is reversed" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("node") is None, reason="the player component needs node")
def test_up_serves_the_player_demo_pointed_at_ingest(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port free now, for --player-port
        probe.bind(("127.0.0.1", 0))
        wanted = probe.getsockname()[1]
    argv = ["up", "--data-dir", str(tmp_path / "data"), "--port", "0", "--no-search"]
    argv += ["--dashboard-port", "0", "--player-port", str(wanted)]
    process = start_qos(argv)
    try:
        lines = read_until(process, r"Ctrl-C to stop", timeout=120)
        (ingest_line,) = [line for line in lines if line.strip().startswith("ingest ")]
        (player_line,) = [line for line in lines if line.strip().startswith("player ")]
        ingest = re.search(r"http://127\.0\.0\.1:\d+", ingest_line)
        player = re.search(r"http://127\.0\.0\.1:(\d+)", player_line)
        assert ingest and player, lines
        assert int(player.group(1)) == wanted  # the port asked for
        conn = http.client.HTTPConnection("127.0.0.1", int(player.group(1)), timeout=10)
        conn.request("GET", "/demo/")
        response = conn.getresponse()
        assert response.status == 200
        assert "QoS player SDK demo" in response.read().decode()
        # The page's default endpoint is this stack's ingest, whatever port it got.
        conn.request("GET", "/demo/config.json")
        response = conn.getresponse()
        assert response.status == 200
        assert orjson.loads(response.read())["endpoint"] == f"{ingest.group(0)}/v1/events"
        conn.close()
        # ... and ingest lets the demo's origin post to it (CORS preflight).
        port = int(ingest.group(0).rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("OPTIONS", "/v1/events", headers={"Origin": player.group(0)})
        response = conn.getresponse()
        response.read()
        assert response.getheader("Access-Control-Allow-Origin") in ("*", player.group(0))
        conn.close()
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out


def test_reset_asks_and_refuses_what_is_not_a_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    assert main(["reset", "--data-dir", str(data)]) == 0
    assert "nothing to reset" in capsys.readouterr().out
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["reset", "--data-dir", str(other), "--yes"]) == 1
    assert "not a QoS data directory" in capsys.readouterr().err
    assert (other / "notes.txt").exists()
    with EventLog(data / "events.sqlite"):
        pass
    # No terminal to ask on: refuse without --yes.
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["reset", "--data-dir", str(data)]) == 1
    assert "pass --yes" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["reset", "--data-dir", str(data)]) == 1
    assert data.exists()
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert main(["reset", "--data-dir", str(data)]) == 0
    assert not data.exists()


def test_simulate_is_the_simulator_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--viewers", "-3"]) == 2
    err = capsys.readouterr().err
    assert "viewers" in err and "Traceback" not in err
