"""What the stack's end-to-end, dashboard and browser tests share: `qos up` as a subprocess,
Debian's Chromium under playwright, a JSON GET, and a data directory seeded for the dashboard."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import pytest

from qos_infra.dashboard.sample import Seeded, generate, seed
from qos_infra.dashboard.screenshot import CHROMIUM_ARGS
from qos_infra.dashboard.server import DashboardHTTPServer, serving
from qos_shared.testing.views_oracle import views

# The dashboard tests' realtime windows and allowed lateness.
WINDOW_S = 10
LATENESS_S = 2.0
WINDOW_MS = WINDOW_S * 1000


def chromium_path(needed_by: str) -> str:
    candidates = [os.environ.get("QOS_CHROMIUM", ""), "/usr/bin/chromium"]
    found = next((c for c in candidates if c and Path(c).is_file()), None) or shutil.which(
        "chromium"
    )
    if found is None:
        pytest.fail(
            f"Chromium is missing: {needed_by} needs Debian's chromium "
            "(`apt-get install -y chromium`, as root) or QOS_CHROMIUM=/path/to/chromium",
            pytrace=False,
        )
    return found


@contextmanager
def chromium(needed_by: str) -> Iterator[Any]:
    """Headless Debian Chromium driven by playwright (`executable_path`: no browser download)."""
    executable = chromium_path(needed_by)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "playwright is missing: install infra's test extra (pip install -e 'infra[test]')",
            pytrace=False,
        )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def keep_screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot under the test's directory, also copied to `QOS_SCREENSHOT_OUT`
    (a directory, or a .png path) when that is set."""
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    out = os.environ.get("QOS_SCREENSHOT_OUT")
    if out:
        target = Path(out)
        if target.suffix != ".png":
            target.mkdir(parents=True, exist_ok=True)
            target = target / name
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
    return shot


@dataclass
class Stack:
    """`qos up` as a subprocess; every output line is read as it comes (so the stack never
    blocks on a full pipe) and kept with the monotonic time it was read."""

    process: subprocess.Popen[str]
    lines: list[tuple[float, str]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.changed:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, pattern: str, timeout_s: float) -> tuple[float, str]:
        """The first line matching `pattern` and when it was read."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        with self.changed:
            while True:
                for at, line in self.lines[seen:]:
                    if re.search(pattern, line):
                        return at, line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise AssertionError(
                        f"`qos up` printed no line matching {pattern!r}"
                        f" (exit code {self.process.poll()}); its output:\n" + self.output()
                    )
                self.changed.wait(min(left, 0.5))

    def url(self, component: str) -> str:
        _, line = self.wait_for(rf"^\s+{component}\s+http://", 10)
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, line
        return found.group(0)

    def output(self) -> str:
        with self.changed:
            return "\n".join(line for _, line in self.lines[-200:])

    def stop(self) -> None:
        """Ctrl-C, as a developer stops it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("`qos up` did not stop within 60 s of Ctrl-C") from None


def processes_using(path: Path) -> list[str]:
    """Command lines of the processes that name `path` (the stack's components all do)."""
    found: list[str] = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def get_json(base: str, path: str, **params: Any) -> Any:
    """GET base+path?params (None values left out); asserts a 200 and returns the JSON."""
    parts = urlsplit(base)
    query = urlencode({k: v for k, v in params.items() if v is not None})
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        conn.request("GET", path + (f"?{query}" if query else ""))
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 200, (path, params, response.status, body[:500])
    return orjson.loads(body)


def start_qos(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`qos <argv>` as a subprocess: stdout and stderr in one text pipe, no stdin; `env` is added
    to this process's environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "qos_infra.cli", *argv],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def with_closed_views(records: list[dict[str, Any]], until_ms: int) -> list[dict[str, Any]]:
    """The records and the records of their views (the oracle's) that close before `until_ms`:
    what a window ending there counts, in any engine whose watermark has passed its end."""
    return [*records, *(v for v in views(records) if v["event_time"] < until_ms)]


def dashboard_fixtures(
    name: str, *, seed_number: int, sessions: int, span_s: int
) -> tuple[Any, Any]:
    """The module-scoped fixtures `seeded` (a data directory filled by the real code from
    generated sessions that end now: most records in the lake, the newest in the log's tail,
    all in the metric store in `WINDOW_S` windows, the newest still open) and `server` (the
    dashboard over it). Assign them at a test module's top level: `seeded, server = ...`."""

    @pytest.fixture(scope="module")
    def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
        data_dir = tmp_path_factory.mktemp(name)
        now_ms = int(time.time() * 1000)
        records = generate(
            now_ms, seed=seed_number, sessions=sessions, span_s=span_s, summary_every_s=10
        )
        return data_dir, seed(
            data_dir, records, window_s=WINDOW_S, allowed_lateness_s=LATENESS_S, lake_share=0.85
        )

    @pytest.fixture(scope="module")
    def server(seeded: tuple[Path, Seeded]) -> Iterator[DashboardHTTPServer]:
        with serving(seeded[0]) as running:
            yield running

    return seeded, server
