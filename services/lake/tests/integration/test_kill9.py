"""A real `kill -9` of the writer process while events keep coming: each event exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from qos_lake.service import CONSUMER
from qos_shared.eventlog import EventLog

from ..lake import BASE_MS, HOUR_MS, append, event_ids, summary, writer_argv


def start_writer(log_path: Path, root: Path, output: Path) -> subprocess.Popen[bytes]:
    """Start a writer whose output goes to a file (a pipe nobody reads could fill and block it)."""
    with output.open("wb") as sink:
        process = subprocess.Popen(
            writer_argv(log_path, root, "--flush-records", "120", "--flush-seconds", "0.05"),
            stdout=sink,
            stderr=subprocess.STDOUT,
            # Small reads and quick polls: many flushes, so a kill lands inside one now and then.
            env={**os.environ, "QOS_LAKE_READ_BATCH": "40", "QOS_LAKE_POLL_INTERVAL_S": "0.005"},
        )
    deadline = time.monotonic() + 30
    while b"qos-lake-writer consuming" not in output.read_bytes():
        assert process.poll() is None, output.read_text()
        assert time.monotonic() < deadline, "the writer did not start"
        time.sleep(0.01)
    return process


def test_kill_9_mid_run_then_restart_gives_each_event_exactly_once(tmp_path: Path) -> None:
    log_path, root = tmp_path / "events.sqlite", tmp_path / "lake"
    sent: list[str] = []
    with EventLog(log_path) as log:
        for run in range(3):  # three kills, each at a different point of the writer's work
            process = start_writer(log_path, root, tmp_path / f"run-{run}.out")
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                n = len(sent)
                events = [summary(BASE_MS + (i % 3) * HOUR_MS + n) for i in range(15)]
                append(log, events)
                sent.extend(e["event_id"] for e in events)
                time.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            assert process.returncode == -signal.SIGKILL
        assert log.checkpoint(CONSUMER) < log.last_position()  # work was cut off

        output = tmp_path / "drain.out"
        process = start_writer(log_path, root, output)
        try:
            deadline = time.monotonic() + 60
            while log.checkpoint(CONSUMER) < log.last_position():
                assert time.monotonic() < deadline, "the writer did not drain the log"
                time.sleep(0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        assert process.returncode == 0, output.read_text()
        assert output.read_text().rstrip().endswith("qos-lake-writer stopped")

    counts = Counter(event_ids(root))
    assert set(counts) == set(sent)
    assert max(counts.values()) == 1
    assert len(sent) > 1000
    assert not list(root.rglob(".tmp-*"))
