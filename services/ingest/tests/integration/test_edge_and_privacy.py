"""The local server's edge and privacy rules: JSON 405s, viewer headers believed only from a
configured proxy, user ids pseudonymised with a key made on first run."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import os
import stat
from pathlib import Path
from typing import Any

import orjson
import pytest

from qos_ingest.settings import IngestSettings

from ..events import batch, summary
from .conftest import RunningServer, server_running

SPOOFED = {
    "CloudFront-Viewer-Country": "AQ",
    "CloudFront-Viewer-City": "McMurdo",
    "CloudFront-Viewer-Latitude": "-77.85",
    "CloudFront-Viewer-Longitude": "166.67",
    "CloudFront-Is-SmartTV-Viewer": "true",
}
VIEWER_FIELDS = {"viewer_country", "viewer_city", "viewer_latitude", "viewer_longitude"}


def request(
    server: RunningServer, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "TRACE", "PROPFIND"])
@pytest.mark.parametrize(
    ("path", "allowed"), [("/v1/events", "POST, OPTIONS"), ("/healthz", "GET, OPTIONS")]
)
def test_other_methods_get_a_json_405_with_allow(
    running_server: RunningServer, method: str, path: str, allowed: str
) -> None:
    status, payload, headers = request(running_server, method, path, batch(summary()))
    assert status == 405 and headers["Allow"] == allowed
    assert headers["Content-Type"] == "application/json"
    assert method in orjson.loads(payload)["error"]
    assert running_server.stored() == []


def test_head_gets_a_405_without_a_body_and_get_on_an_ingest_path_too(
    running_server: RunningServer,
) -> None:
    status, payload, headers = request(running_server, "HEAD", "/v1/events")
    assert (status, payload, headers["Allow"]) == (405, b"", "POST, OPTIONS")
    status, payload, headers = request(running_server, "GET", "/streams")
    assert status == 405 and headers["Allow"] == "POST, OPTIONS"
    assert "GET" in orjson.loads(payload)["error"]
    status, payload, _ = request(running_server, "PUT", "/nowhere")
    assert status == 404 and orjson.loads(payload)["error"]


def test_a_malformed_request_line_is_a_json_400(running_server: RunningServer) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", running_server.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/events extra-word HTTP/1.1\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):  # the server closes the connection after its reply
            reply += chunk
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head
    assert orjson.loads(payload)["error"]


def stored_one(server: RunningServer, headers: dict[str, str]) -> dict[str, Any]:
    event = summary(**{"CloudFront-Viewer-Country": "AQ", "CloudFront-Is-Tablet-Viewer": "true"})
    status, _, _ = server.post("/v1/events", batch(event), headers=headers)
    assert status == 200
    (record,) = [r for r in server.stored() if r["event_id"] == event["event_id"]]
    return record


def test_spoofed_viewer_headers_and_fields_from_a_client_are_not_stored(
    running_server: RunningServer,
) -> None:
    record = stored_one(running_server, SPOOFED)
    assert not (VIEWER_FIELDS | {"device_class", "extra_fields"}) & set(record)


def test_viewer_headers_from_a_configured_proxy_are_stored(tmp_path: Path) -> None:
    settings = IngestSettings(
        port=0, log_path=tmp_path / "events.sqlite", trusted_proxies="10.9.0.0/16, 127.0.0.1"
    )
    with server_running(settings) as server:
        record = stored_one(server, SPOOFED)
    assert record["viewer_country"] == "AQ" and record["viewer_city"] == "McMurdo"
    assert record["viewer_latitude"] == pytest.approx(-77.85)
    assert record["device_class"] == "smarttv"  # the header's, not the body's tablet


def test_a_proxy_list_without_this_client_is_not_trust(tmp_path: Path) -> None:
    settings = IngestSettings(
        port=0, log_path=tmp_path / "events.sqlite", trusted_proxies="10.9.0.0/16"
    )
    with server_running(settings) as server:
        record = stored_one(server, SPOOFED)
    assert not (VIEWER_FIELDS | {"device_class"}) & set(record)


def test_a_bad_proxy_entry_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not-an-address"):
        IngestSettings(log_path=tmp_path / "e.sqlite", trusted_proxies="127.0.0.1,not-an-address")


def test_user_ids_are_pseudonymised_with_a_key_made_on_first_run(tmp_path: Path) -> None:
    log_path = tmp_path / "data" / "events.sqlite"
    key_path = log_path.parent / "pseudonym.key"
    settings = IngestSettings(port=0, log_path=log_path)
    with server_running(settings) as server:
        assert server.post("/v1/events", batch(summary(user_id="viewer-1")))[0] == 200
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key = key_path.read_bytes().strip()
    assert len(key) >= 32
    # A restart keeps the key, so the same viewer keeps the same pseudonym.
    with server_running(settings) as server:
        assert server.post("/v1/events", batch(summary(user_id="viewer-1")))[0] == 200
        records = server.stored()
    expected = hmac.new(key, b"viewer-1", hashlib.sha256).hexdigest()[:32]
    assert [r["user_id"] for r in records] == [expected, expected]
    assert all(r["user_id_pseudonymised"] is True for r in records)
    assert b"viewer-1" not in log_path.read_bytes()


def test_a_key_file_others_can_read_stops_the_start(tmp_path: Path) -> None:
    log_path = tmp_path / "events.sqlite"
    key_path = tmp_path / "pseudonym.key"
    key_path.write_text("0123456789abcdef0123456789abcdef\n")
    os.chmod(key_path, 0o644)
    with (
        pytest.raises(PermissionError, match="chmod 600"),
        server_running(IngestSettings(port=0, log_path=log_path)),
    ):
        pass
