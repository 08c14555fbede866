"""Fixtures: a real local ingest server on a free port, backed by a real event log file."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from qos_ingest.entrypoints.local_server import IngestHTTPServer, serve
from qos_ingest.settings import IngestSettings
from qos_shared.eventlog import EventLog
from qos_shared.testing.aws import mocked_aws


@dataclass
class RunningServer:
    server: IngestHTTPServer
    log_path: Path

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("POST", path, body=body, headers=headers or {})
            response = conn.getresponse()
            payload = response.read()
            return response.status, orjson.loads(payload), dict(response.getheaders())
        finally:
            conn.close()

    def stored(self) -> list[dict[str, Any]]:
        with EventLog(self.log_path) as log:
            return [orjson.loads(e.data) for e in log.read(limit=1_000_000)]


@contextmanager
def server_running(settings: IngestSettings) -> Iterator[RunningServer]:
    """The local server on these settings, serving on a thread while inside."""
    server = serve(settings)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield RunningServer(server, settings.log_path)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def running_server(tmp_path: Path) -> Iterator[RunningServer]:
    log_path = tmp_path / "events.sqlite"
    settings = IngestSettings(port=0, log_path=log_path, cors_allow_origins="https://app.example")
    with server_running(settings) as running:
        yield running


@pytest.fixture
def aws() -> Iterator[None]:
    """moto for every AWS API, with fake credentials so nothing can reach a real account."""
    with mocked_aws():
        yield
