"""The local HTTP server end to end: routes, status codes, CORS, and what lands in the log."""

from __future__ import annotations

import http.client
import logging
import socket
import struct
import time
from typing import Any

import orjson
import pytest

from qos_shared.examples import ORIGINAL_SAMPLE_DATA

from ..events import ORIGINAL_SAMPLE_BODY, batch, summary
from .conftest import RunningServer


def test_original_payload_on_streams_lands_in_the_log(running_server: RunningServer) -> None:
    status, body, _ = running_server.post("/streams", ORIGINAL_SAMPLE_BODY)
    assert (status, body) == (200, {"accepted": 1, "rejected": [], "failed": []})
    (record,) = running_server.stored()
    assert record["live_latency_ms"] == 2000
    assert isinstance(record["received_at"], int) and record["event_time"] == record["received_at"]
    assert record["session_id"] == ORIGINAL_SAMPLE_DATA["session_id"]


def test_two_identical_records_in_one_envelope_are_both_stored(
    running_server: RunningServer,
) -> None:
    """What ingest acknowledges it stores: two identical old-player records, two records in
    the log; the whole envelope re-sent adds none."""
    body = orjson.dumps({"Records": [{"Data": dict(ORIGINAL_SAMPLE_DATA)}] * 2})
    status, answer, _ = running_server.post("/streams", body)
    assert (status, answer["accepted"]) == (200, 2)
    stored = running_server.stored()
    assert len(stored) == 2 and len({r["event_id"] for r in stored}) == 2


def test_old_player_latency_in_seconds_is_normalised(running_server: RunningServer) -> None:
    data = {k: v for k, v in ORIGINAL_SAMPLE_DATA.items() if k != "live_latency_ms"}
    data["live_latency_sec"] = "3"
    status, _, _ = running_server.post("/streams", orjson.dumps({"Records": [{"Data": data}]}))
    assert status == 200
    (record,) = running_server.stored()
    assert record["live_latency_ms"] == 3000 and "live_latency_sec" not in record


def test_mixed_batch_stores_three_and_names_two(running_server: RunningServer) -> None:
    events = [summary(), summary(is_live="sometimes"), summary(), summary(), {"metric_type": "X"}]
    status, body, _ = running_server.post("/v1/events", batch(*events))
    assert status == 207
    assert body["accepted"] == 3
    assert [(r["index"], bool(r["reason"])) for r in body["rejected"]] == [(1, True), (4, True)]
    stored_ids = {r["event_id"] for r in running_server.stored()}
    assert stored_ids == {events[i]["event_id"] for i in (0, 2, 3)}


def test_a_retried_batch_is_stored_once(running_server: RunningServer) -> None:
    body = batch(summary(), summary())
    for _ in range(3):
        assert running_server.post("/v1/events", body)[0] == 200
    assert len(running_server.stored()) == 2


def test_bad_bodies_get_4xx_and_store_nothing(running_server: RunningServer) -> None:
    assert running_server.post("/v1/events", b"{nope")[0] == 400
    assert running_server.post("/v1/events", b'{"events": []}')[0] == 400
    too_many = batch(*[summary() for _ in range(501)])
    status, body, _ = running_server.post("/v1/events", too_many)
    assert status == 413 and "501 events" in body["error"]
    assert running_server.stored() == []


def test_oversize_body_is_413_without_reading_it(running_server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", running_server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n" + b"{" * 1000
        )
        reply = sock.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 413") and "Connection: close" in reply


def test_missing_content_length_is_411(running_server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", running_server.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 411")


def test_healthz_unknown_routes_and_cors(running_server: RunningServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", running_server.port, timeout=10)
    conn.request("GET", "/healthz")
    response = conn.getresponse()
    assert (response.status, orjson.loads(response.read())) == (
        200,
        {"status": "ok", "sink": "local"},
    )
    conn.request("POST", "/v2/nothing", body=b"{}")
    response = conn.getresponse()
    response.read()
    assert response.status == 404
    conn.close()  # the server closes after an unread body; the client reconnects
    conn.request("OPTIONS", "/v1/events", headers={"Origin": "https://app.example"})
    response = conn.getresponse()
    response.read()
    assert response.status == 204
    assert response.getheader("Access-Control-Allow-Origin") == "https://app.example"
    assert "POST" in (response.getheader("Access-Control-Allow-Methods") or "")
    conn.request("OPTIONS", "/v1/events", headers={"Origin": "https://evil.example"})
    response = conn.getresponse()
    response.read()
    assert response.getheader("Access-Control-Allow-Origin") is None
    conn.close()


def test_sendbeacon_style_text_plain_body_is_accepted(running_server: RunningServer) -> None:
    status, _, _ = running_server.post(
        "/v1/events", batch(summary()), {"Content-Type": "text/plain;charset=UTF-8"}
    )
    assert status == 200


def test_a_client_gone_mid_request_is_one_quiet_line_and_nothing_stored(
    running_server: RunningServer,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A tab closed (or a simulator stopped) while its request was on the wire: the body was
    never acknowledged, so nothing is lost; the server says so in one debug line instead of
    printing a traceback, and goes on serving."""
    caplog.set_level(logging.DEBUG, logger="qos_ingest.server")
    body = batch(summary())
    with socket.create_connection(("127.0.0.1", running_server.port)) as sock:
        sock.sendall(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        time.sleep(0.2)  # the handler is reading the body
        # Close with a reset (SO_LINGER 0), as a killed client's kernel does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    deadline = time.monotonic() + 5
    while "went away" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "went away" in caplog.text
    assert "Traceback" not in capfd.readouterr().err
    assert running_server.stored() == []
    assert running_server.post("/v1/events", body)[0] == 200


def test_the_playback_fields_land_typed_in_the_log(running_server: RunningServer) -> None:
    """The SDK's playback fields are contract fields: stored as sent (the page URL cut to the
    contract's length), none of them in extra_fields; an event without them stays valid."""
    fields: dict[str, Any] = {
        "playback_id": "3f2c0d9e-5a7b-4c1d-9e8f-0a1b2c3d4e5f",
        "page_url": "https://www.example.com/watch/" + "x" * 1100,
        "referrer_host": "search.example.net",
        "sdk_version": "0.2.0",
        "player_version": "hls.js 1.7.4",
        "bandwidth_estimate_bps": 4_250_000,
    }
    with_fields, without = summary(**fields), summary()
    status, body, _ = running_server.post("/v1/events", batch(with_fields, without))
    assert (status, body["accepted"]) == (200, 2)
    stored = {r["event_id"]: r for r in running_server.stored()}
    record = stored[with_fields["event_id"]]
    for name, value in fields.items():
        expected = value[:1024] if name == "page_url" else value
        assert record[name] == expected, name
    assert "extra_fields" not in record
    assert not set(fields) & set(stored[without["event_id"]])
