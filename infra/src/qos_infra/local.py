"""The local stack: every component as a child process over one data directory.

Each component is an ordinary command (the same one a developer can run alone); the supervisor
starts them in order, waits until each says it is ready, relays their output with a name prefix,
and on Ctrl-C or SIGTERM stops them all. A component that dies stops the stack with its exit code,
so a broken stack never looks healthy (only a finite one, the demo's simulator, may end its work
with exit code 0 while the stack goes on). Data lives under one directory and survives restarts.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import qos_search_node as search_node
from qos_ingest import api as ingest_api

URL_PATTERN = re.compile(r"https?://[\w.\-]+:\d+")
# An argv item may name the URL of a component started before it: `{url:ingest}`.
URL_REFERENCE = re.compile(r"\{url:([\w-]+)\}")
PLAYER_DIR = Path(__file__).resolve().parents[3] / "player"


class StackError(RuntimeError):
    """The stack could not start; the message says which component and why."""


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]
    ready_pattern: re.Pattern[str] | None = None  # a line matching it means ready; None: at once
    description: str = ""
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout_s: float | None = None  # None: the stack's default
    finite: bool = False  # its work may end (exit 0) while the stack goes on: the demo's viewers


@dataclass(frozen=True)
class StackOptions:
    data_dir: Path
    host: str = "127.0.0.1"
    ingest_port: int = 8780
    window_s: int = 60
    view_timeout_s: int = 180  # a view closes this long after its last event
    revision_horizon_s: float = 600.0  # closed windows are revised by records this much later
    ready_timeout_s: float = 60.0
    search_port: int | None = None  # None: run without search (no Java or Maven, or asked)
    player_port: int = 8790  # the demo page; a free port instead when this one is taken
    dashboard_port: int = 8800
    demo_viewers: int = 0  # > 0: a simulator sends this many viewers' traffic (`qos up --demo`)


def components(options: StackOptions) -> list[Component]:
    """What `qos up` runs, in start order. Later services add their consumers here."""
    python = sys.executable
    return [
        Component(
            name="ingest",
            argv=ingest_api.local_server_argv(
                options.data_dir / "events.sqlite",
                port=options.ingest_port,
                host=options.host,
                python=python,
            ),
            ready_pattern=ingest_api.READY_PATTERN,
            description="POST /v1/events, POST /streams (original sample's envelope), GET /healthz",
            env={
                "QOS_INGEST_SINK": "local",
                # The demo page (the player component) posts from its own origin, whose port may
                # fall back to any free one: allow any origin unless the developer chose otherwise.
                "QOS_INGEST_CORS_ALLOW_ORIGINS": os.environ.get(
                    "QOS_INGEST_CORS_ALLOW_ORIGINS", "*"
                ),
                # No CloudFront here: the simulator on this machine sets the viewer headers as the
                # edge would, so they are believed from loopback only (any other client's are
                # ignored) unless the developer chose otherwise.
                "QOS_INGEST_TRUSTED_PROXIES": os.environ.get(
                    "QOS_INGEST_TRUSTED_PROXIES", "127.0.0.1,::1"
                ),
            },
        ),
        Component(
            name="realtime",
            argv=[
                python,
                "-m",
                "qos_realtime.entrypoints.local_engine",
                "--log-path",
                str(options.data_dir / "events.sqlite"),
                "--store-path",
                str(options.data_dir / "metrics.sqlite"),
                "--views-log-path",
                str(options.data_dir / "views.sqlite"),
                "--window-s",
                str(options.window_s),
                "--view-timeout-s",
                str(options.view_timeout_s),
                "--revision-horizon-s",
                str(options.revision_horizon_s),
            ],
            ready_pattern=re.compile(r"qos-realtime consuming"),
            description=f"{options.window_s} s windows into {options.data_dir / 'metrics.sqlite'}",
        ),
        Component(
            name="lake",
            argv=[
                python,
                "-m",
                "qos_lake.entrypoints.local_writer",
                "--log-path",
                str(options.data_dir / "events.sqlite"),
                "--views-log-path",
                str(options.data_dir / "views.sqlite"),
                "--lake-root",
                str(options.data_dir / "lake"),
            ],
            ready_pattern=re.compile(r"qos-lake-writer consuming"),
            description=(
                f"Parquet under {options.data_dir / 'lake'} (events/ and views/,"
                " dt=/hour= partitions)"
            ),
        ),
        *_search_components(options),
        Component(
            name="dashboard",
            argv=[
                python,
                "-m",
                "qos_infra.dashboard",
                "--data-dir",
                str(options.data_dir),
                "--host",
                options.host,
                "--port",
                str(options.dashboard_port),
            ],
            ready_pattern=re.compile(r"listening on (?P<url>https?://\S+)"),
            description="the local QoS dashboard (realtime windows, lake panels, sessions)",
        ),
        *_player_components(options),
        *_demo_components(options),
    ]


def _demo_components(options: StackOptions) -> list[Component]:
    """`qos up --demo`: simulated viewers, with half an hour of history sent at once (for the
    lake's panels; the realtime engine counts those as late) and live traffic after it."""
    if options.demo_viewers <= 0:
        return []
    return [
        Component(
            name="simulator",
            argv=[
                sys.executable,
                "-m",
                "qos_infra.simulator",
                "--endpoint",
                "{url:ingest}",
                "--viewers",
                str(options.demo_viewers),
                "--minutes",
                "120",
                "--prefill",
                "30m",
                "--data-dir",
                str(options.data_dir),
                # One truth file, replaced at each start, so demo runs don't pile up files.
                "--truth",
                str(options.data_dir / "simulator" / "demo.truth.json"),
                "--window-s",
                str(options.window_s),
                "--view-timeout-s",
                str(options.view_timeout_s),
            ],
            description=f"{options.demo_viewers} simulated viewers (docs/simulator.md)",
            finite=True,  # after its two hours, the stack keeps serving what it sent
        )
    ]


def _player_components(options: StackOptions) -> list[Component]:
    """The demo page with the SDK, hls.js and the HLS test stream, when node is present."""
    node = shutil.which("node")
    server = PLAYER_DIR / "tools" / "segment-server.mjs"
    if node is None or not server.exists():
        return []
    return [
        Component(
            name="player",
            argv=[
                node,
                str(server),
                "--host",
                options.host,
                "--port",
                str(options.player_port),
                "--port-fallback",
                # Made with ffmpeg in the background on the first start (cached afterwards).
                "--make-stream",
                "--ingest-url",
                "{url:ingest}",
            ],
            ready_pattern=re.compile(r"listening on (?P<url>https?://\S+)"),
            description="the demo page at /demo/ (SDK, hls.js, the HLS test stream)",
        ),
    ]


def _search_components(options: StackOptions) -> list[Component]:
    """A local OpenSearch node and the indexer feeding it, when search is on."""
    if options.search_port is None:
        return []
    # Here rather than at the top: the api loads opensearch-py, which `qos` needs only for this.
    from qos_search_indexer.api import LOCAL_INDEXER_MODULE

    python = sys.executable
    url = f"http://127.0.0.1:{options.search_port}"
    return [
        Component(
            name="opensearch",
            argv=[
                python,
                "-m",
                search_node.MODULE,
                "run",
                "--data-dir",
                str(options.data_dir / "opensearch"),
                "--port",
                str(options.search_port),
            ],
            # `qos_search_node run` says "OpenSearch <version> <url> ready in ...".
            ready_pattern=re.compile(r"OpenSearch\b.*? (?P<url>https?://\S+) ready"),
            description="a local OpenSearch 2.19 node (indices qos-events-*, qos-views-*)",
            # The first start builds the launcher and fetches its jars with Maven.
            ready_timeout_s=900.0,
        ),
        Component(
            name="search",
            argv=[
                python,
                "-m",
                LOCAL_INDEXER_MODULE,
                "run",
                "--url",
                url,
                "--log-path",
                str(options.data_dir / "events.sqlite"),
                "--dead-letter-path",
                str(options.data_dir / "search-dead-letters.sqlite"),
                "--views-log-path",
                str(options.data_dir / "views.sqlite"),
                "--views-dead-letter-path",
                str(options.data_dir / "search-view-dead-letters.sqlite"),
            ],
            ready_pattern=re.compile(r"qos-search-indexer indexing"),
            description=f"the event log into {url}/qos-events-*, the views log into qos-views-*",
        ),
    ]


@dataclass
class _Running:
    component: Component
    process: subprocess.Popen[str]
    ready: threading.Event = field(default_factory=threading.Event)
    url: str | None = None


class LocalStack:
    def __init__(self, options: StackOptions, *, out: Callable[[str], None] = print) -> None:
        self.options = options
        self.out = out
        self.running: list[_Running] = []
        self._stopping = threading.Event()

    def start(self) -> dict[str, str | None]:
        """Start every component; return name -> URL (None for components without one)."""
        self.options.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            for component in components(self.options):
                self._start(component)
        except BaseException:
            self.stop()
            raise
        return {r.component.name: r.url for r in self.running}

    def _argv(self, component: Component) -> list[str]:
        """The component's argv with `{url:NAME}` replaced by the URL NAME announced."""
        urls = {r.component.name: r.url for r in self.running}

        def url_of(match: re.Match[str]) -> str:
            url = urls.get(match.group(1))
            if url is None:
                raise StackError(f"{component.name} needs the URL of {match.group(1)}; none known")
            return url

        return [URL_REFERENCE.sub(url_of, arg) for arg in component.argv]

    def _start(self, component: Component) -> None:
        argv = self._argv(component)
        process = subprocess.Popen(  # noqa: S603 - argv built by components(), no shell
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **component.env},
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops children in order
        )
        running = _Running(component, process)
        self.running.append(running)
        assert process.stdout is not None
        threading.Thread(target=self._relay, args=(running, process.stdout), daemon=True).start()
        if component.ready_pattern is None:
            running.ready.set()
        timeout = component.ready_timeout_s or self.options.ready_timeout_s
        deadline = time.monotonic() + timeout
        while not running.ready.wait(0.05):
            if process.poll() is not None:
                raise StackError(
                    f"{component.name} exited with code {process.returncode} while starting"
                )
            if time.monotonic() > deadline:
                raise StackError(f"{component.name} not ready after {timeout:g} s")

    def _relay(self, running: _Running, stream: IO[str]) -> None:
        pattern = running.component.ready_pattern
        for line in stream:
            line = line.rstrip("\n")
            if pattern is not None and not running.ready.is_set() and (m := pattern.search(line)):
                found = URL_PATTERN.search(m.group(0))
                running.url = found.group(0) if found else None
                running.ready.set()
            self.out(f"[{running.component.name}] {line}")

    def wait(self) -> int:
        """Block until a stop is requested (0) or a component dies (its exit code, or 1). A
        finite component that ends with exit code 0 has done its work: the stack goes on."""
        finished: set[str] = set()
        while not self._stopping.wait(0.2):
            for running in self.running:
                name = running.component.name
                code = running.process.poll()
                if code is None or name in finished:
                    continue
                if code == 0 and running.component.finite:
                    finished.add(name)
                    self.out(f"{name} finished; the stack goes on")
                    continue
                self.out(f"{name} exited with code {code}; stopping the stack")
                return code or 1
        return 0

    def request_stop(self) -> None:
        self._stopping.set()

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM every component in reverse start order, then SIGKILL what does not exit."""
        for running in reversed(self.running):
            if running.process.poll() is None:
                running.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for running in reversed(self.running):
            try:
                running.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.out(f"{running.component.name} did not stop in time; killing it")
                running.process.kill()
                running.process.wait()
