"""The dashboard's HTTP server: the page, its static files, plotly.js and the JSON API.

A stdlib `ThreadingHTTPServer`, as the local ingest server (docs/adr/0004): no dependency, one
machine. plotly.js is served from the installed `plotly` Python package (its bundled
`package_data/plotly.min.js`), so the page needs neither a CDN nor npm. The page's Content
Security Policy allows this origin only.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import ipaddress
import logging
import mimetypes
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from qos_infra.dashboard.app import Dashboard
from qos_shared.activity import configure_logging
from qos_shared.local_process import serve_until_stopped

log = logging.getLogger("qos_infra.dashboard")

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEFAULT_PORT = 8800
# The Host names the dashboard answers to besides the bound host (docs/adr/0022): a page of
# another site whose name an attacker re-points at 127.0.0.1 (DNS rebinding) sends its own name.
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "127.0.0.1", "::1")
ALLOWED_HOSTS_ENV = "QOS_DASHBOARD_ALLOWED_HOSTS"
_STATIC_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
# plotly.js builds some code at run time (`new Function`), and sets inline styles.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def plotly_js_path() -> Path | None:
    """The plotly.js bundle that ships inside the `plotly` Python package (not imported)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


class _StaticFiles:
    """Static files read once and kept (with a gzip copy): they are few and small, except
    plotly.js, which is read only when first asked for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[bytes, bytes]] = {}

    def get(self, name: str) -> tuple[bytes, bytes] | None:
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None:
            return cached
        path = plotly_js_path() if name == "plotly.min.js" else STATIC_DIR / name
        if path is None or not path.is_file():
            return None
        data = path.read_bytes()
        entry = (data, gzip.compress(data, compresslevel=6))
        with self._lock:
            self._cache[name] = entry
        return entry


def host_name(header: str) -> str | None:
    """The name of a Host header without its port, lower case (`[::1]:8800` -> `::1`); None
    when it is malformed."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :]
        if end < 0 or (rest and not re.fullmatch(r":\d{1,5}", rest)):
            return None
        return value[1:end] or None
    name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    if not name or not re.fullmatch(r"[a-z0-9._-]{1,253}", name):
        return None
    return name.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostAllowlist:
    """The Host names a request may name: the loopback names, the bound host, and `extra`.

    An IP address is always accepted: DNS rebinding needs a name the attacker's DNS answers
    for, and a page that names an IP address directly is cross-origin to the dashboard anyway.
    """

    def __init__(self, bound_host: str, extra: Iterable[str] = ()) -> None:
        names = {*LOOPBACK_NAMES, *(n.strip().lower().rstrip(".") for n in extra if n.strip())}
        bound = bound_host.strip().lower().strip("[]")
        if bound and not _is_ip(bound):
            names.add(bound)
        self.names = frozenset(names)

    def allows(self, header: str | None) -> bool:
        if header is None:
            return False
        name = host_name(header)
        return name is not None and (name in self.names or _is_ip(name))

    def refusal(self, header: str | None) -> str:
        shown = "no Host header" if header is None else f"Host {header[:80]!r}"
        return (
            f"{shown} is not one this dashboard answers to ({', '.join(sorted(self.names))} or "
            f"an IP address): open it by one of those names, or start it with --allow-host NAME "
            f"(or {ALLOWED_HOSTS_ENV}=NAME,...) to add one"
        )


def allowed_hosts_from_env() -> list[str]:
    return [n for n in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if n.strip()]


class DashboardHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        dashboard: Dashboard,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        super().__init__(address, DashboardRequestHandler)
        self.dashboard = dashboard
        self.static = _StaticFiles()
        self.hosts = HostAllowlist(address[0], allowed_hosts)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class DashboardRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: DashboardHTTPServer
    timeout = 30
    disable_nagle_algorithm = True
    server_version = "qos-dashboard"

    def _host_refused(self) -> bool:
        """Answers 403 (and True) when the Host header is not one the dashboard answers to."""
        header = self.headers.get("Host")
        if self.server.hosts.allows(header):
            return False
        log.debug("refused Host %r from %s", header, self.address_string())
        self._json(HTTPStatus.FORBIDDEN, {"error": self.server.hosts.refusal(header)}, close=True)
        return True

    def do_GET(self) -> None:
        if self._host_refused():
            return
        try:
            parts = urlsplit(self.path)
        except ValueError:
            self._json(HTTPStatus.BAD_REQUEST, {"error": "the request path is not a valid URL"})
            return
        path = parts.path
        if path.startswith("/api/") or path == "/api":
            try:
                reply = self.server.dashboard.handle(path, parts.query)
            except Exception:
                log.exception("dashboard API failed on %s", self.path)
                self._json(
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    {"error": "internal error; the dashboard's log has the details"},
                )
                return
            self._json(reply.status, reply.body)
            return
        name = "index.html" if path in ("/", "/index.html") else path.removeprefix("/static/")
        if path not in ("/", "/index.html") and (
            not path.startswith("/static/") or not _STATIC_NAME.match(name)
        ):
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no route GET {path}"})
            return
        found = self.server.static.get(name)
        if found is None:
            hint = "; install the Python package plotly" if name == "plotly.min.js" else ""
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no file {name}{hint}"})
            return
        self._file(name, *found)

    def do_HEAD(self) -> None:
        self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use GET"}, allow="GET")

    def do_POST(self) -> None:
        self._json(
            HTTPStatus.METHOD_NOT_ALLOWED,
            {"error": "the dashboard is read-only: use GET"},
            allow="GET",
            close=True,
        )

    def do_PUT(self) -> None:
        self.do_POST()

    def do_DELETE(self) -> None:
        self.do_POST()

    def do_PATCH(self) -> None:
        self.do_POST()

    def _file(self, name: str, data: bytes, gzipped: bytes) -> None:
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        use_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        body = gzipped if use_gzip else data
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if use_gzip:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        cache = "public, max-age=86400" if name == "plotly.min.js" else "no-cache"
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        if name == "index.html":
            self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        self.wfile.write(body)

    def _json(
        self, status: int, body: dict[str, Any], *, allow: str | None = None, close: bool = False
    ) -> None:
        payload = orjson.dumps(body, default=str)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if allow is not None:
            self.send_header("Allow", allow)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def serve(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    allowed_hosts: Iterable[str] = (),
) -> DashboardHTTPServer:
    """Bind the server (port 0 picks a free one); the caller runs `serve_forever` and, after,
    `server_close()` and `server.dashboard.close()`. It answers requests whose Host is a
    loopback name, `host`, an IP address or one of `allowed_hosts` (and of
    QOS_DASHBOARD_ALLOWED_HOSTS)."""
    extra = [*allowed_hosts, *allowed_hosts_from_env()]
    return DashboardHTTPServer((host, port), Dashboard(data_dir), extra)


@contextmanager
def serving(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    allowed_hosts: Iterable[str] = (),
) -> Iterator[DashboardHTTPServer]:
    """The server running on a thread of this process while the block lasts (port 0: a free
    one), then stopped and closed: for the screenshot tool and tests."""
    server = serve(data_dir, host, port, allowed_hosts)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
        server.dashboard.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="qos-dashboard",
        description="Serve the local QoS dashboard over a `qos up` data directory.",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".qos-data"),
        help="the stack's data directory: events.sqlite, metrics.sqlite, lake/ (default .qos-data)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free)"
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this Host name (repeatable; the loopback names, the "
        f"bound host and IP addresses always are; also {ALLOWED_HOSTS_ENV}=NAME,...)",
    )
    args = parser.parse_args(argv)
    try:
        configure_logging()
    except ValueError as exc:
        print(f"qos-dashboard: cannot start: {exc}", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"qos-dashboard: cannot start: port {args.port} is not 0..65535", file=sys.stderr)
        return 2
    try:
        server = serve(args.data_dir, args.host, args.port, args.allow_host)
    except OSError as exc:
        print(f"qos-dashboard: cannot start: {exc}", file=sys.stderr)
        return 2
    if plotly_js_path() is None:
        print("qos-dashboard: plotly is not installed: the page will show no chart", flush=True)
    try:
        serve_until_stopped(
            server, f"qos-dashboard listening on {server.url} (data {args.data_dir})"
        )
    finally:
        server.dashboard.close()
    print("qos-dashboard stopped", flush=True)
    return 0
