"""The local ingest server: the same service as the Lambda, over a small threaded HTTP server.

Routes: `POST /v1/events` (project body), `POST /streams` (the original sample's envelope; both
routes accept both bodies), `POST /eventbridge` (Amazon IVS stream events as EventBridge delivers
them, one or a JSON list: what the EventBridge rule's function takes on AWS), `GET /healthz`, and
CORS preflight; any other method on them is a JSON 405 naming the allowed ones, and every error
the HTTP layer itself answers is JSON too. It is a development and single-machine server (stdlib
`http.server`): on AWS, API Gateway and Lambda take its place.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from qos_ingest.bootstrap import build_service
from qos_ingest.domain import IngestRequest
from qos_ingest.service import IngestService
from qos_ingest.settings import IngestSettings
from qos_shared.activity import Figures, IntervalLog, configure_logging
from qos_shared.local_process import serve_until_stopped

log = logging.getLogger("qos_ingest.server")

EVENTBRIDGE_PATH = "/eventbridge"  # Amazon IVS stream events, EventBridge-shaped (one or a list)
INGEST_PATHS = frozenset(("/v1/events", "/streams", EVENTBRIDGE_PATH))
ALLOWED = {
    "/v1/events": "POST, OPTIONS",
    "/streams": "POST, OPTIONS",
    EVENTBRIDGE_PATH: "POST, OPTIONS",
    "/healthz": "GET, OPTIONS",
}


class IngestHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Many SDK tabs keep connections open; the default backlog of 5 drops bursts.
    request_queue_size = 256

    def __init__(
        self, address: tuple[str, int], service: IngestService, cors_origins: list[str]
    ) -> None:
        super().__init__(address, IngestRequestHandler)
        self.service = service
        self.cors_origins = cors_origins
        # What the requests did, one INFO line per interval (`qos_shared.activity`).
        self.activity = IntervalLog(log, _summary)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-request (a tab closed, a process killed) is routine: its request
        was not answered, so nothing it sent counts as accepted. One debug line, not the
        traceback `socketserver` prints; anything else is still printed in full."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):  # reset, aborted, broken pipe
            log.debug("client %s went away: %s", client_address[0], error)
            return
        super().handle_error(request, client_address)


class IngestRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: IngestHTTPServer
    timeout = 30  # a client that stops sending mid-body does not hold a thread forever
    # Headers and body go out in two writes; with Nagle on, delayed ACKs add ~40 ms per request.
    disable_nagle_algorithm = True
    server_version = "qos-ingest"

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path not in INGEST_PATHS:
            # The body is left unread, so the connection cannot carry another request.
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route POST {path}"}, close=True)
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._reply(
                HTTPStatus.LENGTH_REQUIRED, {"error": "send a Content-Length body"}, close=True
            )
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
            if length < 0:
                raise ValueError
        except ValueError:
            self._reply(
                HTTPStatus.LENGTH_REQUIRED,
                {"error": "a valid Content-Length is required"},
                close=True,
            )
            return
        limit = self.server.service.config.limits.max_body_bytes
        if length > limit:
            # Not reading an oversize body means the connection cannot be reused: close it.
            self._reply(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {"error": f"request body is {length} bytes; the limit is {limit}"},
                close=True,
            )
            return
        body = self.rfile.read(length)
        if len(body) < length:
            self._reply(
                HTTPStatus.BAD_REQUEST, {"error": "body shorter than Content-Length"}, close=True
            )
            return
        request = IngestRequest(
            body=body,
            headers={k.lower(): v for k, v in self.headers.items()},
            received_at_ms=time.time_ns() // 1_000_000,
            source_ip=self.client_address[0],
        )
        try:
            service = self.server.service
            reply = (
                service.handle_stream_events(body, request.received_at_ms)
                if path == EVENTBRIDGE_PATH
                else service.handle(request)
            )
        except Exception:
            log.exception("ingest failed on %s", path)
            self.server.activity.add(requests=1, errors=1)
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})
            return
        self._count(reply.status, reply.body)
        self._reply(reply.status, reply.body, extra_headers=reply.headers)

    def _count(self, status: int, body: dict[str, Any]) -> None:
        accepted = body.get("accepted")
        self.server.activity.add(
            requests=1,
            accepted=accepted if isinstance(accepted, int) else 0,
            rejected=len(body.get("rejected") or ()),
            failed=len(body.get("failed") or ()),
            errors=1 if status >= 500 else 0,
            refused=1 if 400 <= status < 500 else 0,
        )

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/healthz":
            self._reply(HTTPStatus.OK, {"status": "ok", "sink": self.server.service.sink.name})
        elif path in ALLOWED:
            self._not_allowed(path)
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route GET {path}"})

    def _not_allowed(self, path: str | None = None) -> None:
        """405 with Allow on a known path, 404 elsewhere; the body (if any) is left unread, so
        the connection is closed."""
        path = path or urlsplit(self.path).path
        allowed = ALLOWED.get(path)
        if allowed is None:
            self._reply(
                HTTPStatus.NOT_FOUND, {"error": f"no route {self.command} {path}"}, close=True
            )
            return
        self._reply(
            HTTPStatus.METHOD_NOT_ALLOWED,
            {"error": f"{self.command} is not allowed on {path}; allowed: {allowed}"},
            close=True,
            extra_headers={"Allow": allowed},
        )

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The HTTP layer's own errors (a bad request line, an unknown method, headers too long)
        as JSON, like every other reply, instead of http.server's HTML page."""
        if code == HTTPStatus.NOT_IMPLEMENTED:  # no do_<METHOD>: PUT, DELETE, PATCH, HEAD...
            self._not_allowed()
            return
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._reply(code, {"error": message or phrase}, close=True)

    def do_OPTIONS(self) -> None:
        self.send_response(HTTPStatus.NO_CONTENT)
        self._cors_headers()
        self.send_header("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _cors_headers(self) -> None:
        origins = self.server.cors_origins
        # No headers yet when the request line itself was refused.
        origin = self.headers.get("Origin") if getattr(self, "headers", None) else None
        if "*" in origins:
            self.send_header("Access-Control-Allow-Origin", "*")
        elif origin and origin in origins:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")

    def _reply(
        self,
        status: int,
        body: dict[str, Any],
        *,
        close: bool = False,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        payload = orjson.dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self._cors_headers()
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":  # a reply to HEAD has headers only
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def serve(settings: IngestSettings, service: IngestService | None = None) -> IngestHTTPServer:
    """Bind the server (port 0 picks a free port); the caller runs `serve_forever`."""
    return IngestHTTPServer(
        (settings.host, settings.port), service or build_service(settings), settings.cors_origins
    )


def _summary(f: Figures) -> str | None:
    if f.idle:
        return None
    line = (
        f"accepted {f.count('accepted'):.0f} events ({f.rate('accepted'):.0f}/s) in "
        f"{f.count('requests'):.0f} requests over {f.seconds:.0f} s"
    )
    problems = [
        f"{f.count(name):.0f} {what}"
        for name, what in (
            ("rejected", "events rejected"),
            ("failed", "events failed"),
            ("refused", "requests refused (4xx)"),
            ("errors", "server errors"),
        )
        if f.count(name)
    ]
    return line + ("; " + ", ".join(problems) if problems else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qos-ingest", description="Run the local ingest server.")
    parser.add_argument("--host", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8780; 0 picks a free one)")
    parser.add_argument("--log-path", type=Path, help="local event log file")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    try:
        configure_logging()
        settings = IngestSettings(**overrides)
        server = serve(settings)
    except (ValueError, OSError) as exc:
        print(f"qos-ingest: cannot start: {exc}", file=sys.stderr)
        return 2
    where = f" (event log {settings.log_path})" if settings.sink == "local" else ""
    stopped = threading.Event()
    server.activity.run_timer(stopped)
    try:
        serve_until_stopped(server, f"qos-ingest listening on {server.url}{where}")
    finally:
        stopped.set()
        server.activity.flush()
    print("qos-ingest stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
