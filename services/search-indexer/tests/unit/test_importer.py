"""The import request, against a local HTTP server that captures it and answers as Dashboards
does: method, path, query, headers, the multipart body, and each kind of answer."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from qos_search_indexer.dashboards.__main__ import main
from qos_search_indexer.dashboards.importer import (
    DashboardsImportError,
    ImportResult,
    import_saved_objects,
)
from qos_search_indexer.dashboards.saved_objects import render_ndjson

NDJSON = b'{"attributes":{"title":"a"},"id":"x","references":[],"type":"visualization"}\n'


@dataclass
class Captured:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeDashboards:
    """Answers every request with `status` and `answer`; keeps what it received."""

    url: str = ""
    status: int = 200
    answer: bytes = b'{"success":true,"successCount":1,"successResults":[]}'
    requests: list[Captured] = field(default_factory=list)


@pytest.fixture
def dashboards() -> Iterator[FakeDashboards]:
    fake = FakeDashboards()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            parts = urlsplit(self.path)
            fake.requests.append(
                Captured(
                    method="POST",
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
            )
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(fake.answer)))
            self.end_headers()
            self.wfile.write(fake.answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def file_parts(request: Captured) -> list[tuple[str, str | None, str, bytes]]:
    """The multipart form's parts: (field name, file name, content type, payload)."""
    raw = b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + request.body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    assert message.is_multipart()
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        parts.append(
            (
                str(part.get_param("name", header="content-disposition")),
                part.get_filename(),
                part.get_content_type(),
                payload,
            )
        )
    return parts


def test_the_request_is_a_multipart_post_with_the_xsrf_header(dashboards: FakeDashboards) -> None:
    ndjson = render_ndjson()
    result = import_saved_objects(dashboards.url + "/", ndjson)
    assert result == ImportResult(success=True, success_count=1, errors=())
    [request] = dashboards.requests
    assert request.method == "POST"
    assert request.path == "/api/saved_objects/_import"
    assert request.query == {"overwrite": ["true"]}
    assert request.headers["osd-xsrf"] == "true"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert "authorization" not in request.headers
    [(name, filename, content_type, payload)] = file_parts(request)
    assert (name, filename, content_type) == ("file", "qos.ndjson", "application/ndjson")
    assert payload == ndjson  # exactly the NDJSON, byte for byte


def test_under_a_path_prefix_with_auth_and_no_overwrite(dashboards: FakeDashboards) -> None:
    # OpenSearch Service serves Dashboards under /_dashboards.
    import_saved_objects(
        dashboards.url + "/_dashboards", NDJSON, overwrite=False, auth=("admin", "s3cret:x")
    )
    [request] = dashboards.requests
    assert request.path == "/_dashboards/api/saved_objects/_import"
    assert request.query == {}
    expected = "Basic " + base64.b64encode(b"admin:s3cret:x").decode()
    assert request.headers["authorization"] == expected


def test_a_partial_import_raises_with_each_failure(dashboards: FakeDashboards) -> None:
    dashboards.answer = json.dumps(
        {
            "success": False,
            "successCount": 1,
            "errors": [
                {
                    "id": "qos-dashboard",
                    "type": "dashboard",
                    "title": "QoS",
                    "error": {
                        "type": "missing_references",
                        "references": [{"type": "visualization", "id": "qos-gone"}],
                    },
                },
                {"id": "x", "type": "visualization", "error": {"type": "conflict"}},
            ],
        }
    ).encode()
    with pytest.raises(DashboardsImportError) as caught:
        import_saved_objects(dashboards.url, NDJSON)
    error = caught.value
    assert error.status == 200
    assert error.result is not None and error.result.success is False
    assert [e.reason for e in error.result.errors] == ["missing_references", "conflict"]
    message = str(error)
    assert "2 saved object(s) not imported (1 imported)" in message
    assert "dashboard/qos-dashboard (QoS): missing references visualization/qos-gone" in message
    assert "visualization/x: conflict" in message
    assert "\n" not in message


def test_a_refused_request_raises_with_the_servers_message(dashboards: FakeDashboards) -> None:
    dashboards.status = 400
    dashboards.answer = (
        b'{"statusCode":400,"error":"Bad Request","message":"Invalid file extension .txt"}'
    )
    with pytest.raises(DashboardsImportError) as caught:
        import_saved_objects(dashboards.url, NDJSON)
    assert caught.value.status == 400
    assert str(caught.value) == (
        "Dashboards refused the import: HTTP 400: Invalid file extension .txt"
    )


def test_an_answer_that_is_not_an_import_result_raises(dashboards: FakeDashboards) -> None:
    dashboards.answer = b"<html>OpenSearch</html>"  # e.g. the cluster's URL, not Dashboards'
    with pytest.raises(DashboardsImportError, match="not JSON"):
        import_saved_objects(dashboards.url, NDJSON)
    dashboards.answer = b'{"name": "node-1"}'
    with pytest.raises(DashboardsImportError, match="without an import result"):
        import_saved_objects(dashboards.url, NDJSON)


def test_the_command_imports_the_generated_objects(
    dashboards: FakeDashboards,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DASH_PW", "pw")
    dashboards.answer = b'{"success":true,"successCount":37}'
    argv = ["import", "--endpoint", dashboards.url, "--user", "u", "--password-env", "DASH_PW"]
    assert main(argv) == 0
    assert "imported 37 saved objects" in capsys.readouterr().out
    [request] = dashboards.requests
    [(_, _, _, payload)] = file_parts(request)
    assert payload == render_ndjson()
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"u:pw").decode()

    dashboards.status = 500
    dashboards.answer = b'{"statusCode":500,"error":"Internal Server Error","message":"boom"}'
    assert main(["import", "--endpoint", dashboards.url]) == 1
    err = capsys.readouterr().err
    assert err == "error: Dashboards refused the import: HTTP 500: boom\n"
