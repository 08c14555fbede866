"""Durability: kill -9 of the local server right after a 2xx loses no acknowledged event."""

from __future__ import annotations

import http.client
import signal
import subprocess
import threading
from collections import Counter
from pathlib import Path

import orjson

from qos_ingest.api import start_local_server
from qos_shared.eventlog import EventLog

from ..events import batch, summary


def start_server(log_path: Path) -> tuple[subprocess.Popen[str], int]:
    process, url = start_local_server(
        log_path, env={"QOS_INGEST_LOG_SYNCHRONOUS": "FULL"}, stderr=subprocess.STDOUT
    )
    assert url.startswith("http://"), url
    return process, int(url.rsplit(":", 1)[1])


def post(port: int, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/v1/events", body=body)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_kill_9_right_after_acknowledgement_loses_nothing(tmp_path: Path) -> None:
    log_path = tmp_path / "events.sqlite"
    batches = [[summary() for _ in range(20)] for _ in range(60)]
    acknowledged: list[str] = []
    killed = threading.Event()
    process, port = start_server(log_path)

    def client() -> None:
        for events in batches:
            try:
                status = post(port, batch(*events))
            except OSError:
                return  # the server is gone: this batch was never acknowledged
            if status == 200:
                acknowledged.extend(e["event_id"] for e in events)
            if len(acknowledged) >= 300 and not killed.is_set():
                process.send_signal(signal.SIGKILL)  # right after a 2xx, no graceful anything
                killed.set()
                return

    sender = threading.Thread(target=client)
    sender.start()
    sender.join(timeout=120)
    process.wait(timeout=30)
    assert killed.is_set() and process.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 300

    with EventLog(log_path) as log:
        ids = [e.event_id for e in log.read(limit=1_000_000)]
    assert set(acknowledged) <= set(ids)

    # The SDK re-sends whatever it has not seen acknowledged; here it re-sends everything.
    process, port = start_server(log_path)
    try:
        for events in batches:
            assert post(port, batch(*events)) == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0

    with EventLog(log_path) as log:
        entries = log.read(limit=1_000_000)
    counts = Counter(e.event_id for e in entries)
    sent = {e["event_id"] for events in batches for e in events}
    assert set(counts) == sent
    assert max(counts.values()) == 1
    assert all(orjson.loads(e.data)["event_id"] == e.event_id for e in entries)
