"""The local stack: every component as a child process over one data directory.

Each component is an ordinary command (the same one a developer can run alone); the supervisor
starts them in order, waits until each says it is ready, relays their output with a name prefix,
and on Ctrl-C or SIGTERM stops them all. A component that exits while the stack runs is restarted
after a backoff (its own checkpoints resume its work) while the others keep serving; one that
keeps exiting is given up on ("failed", said on stderr) and the rest of the stack goes on (ADR
0021). A finite component, the demo's simulator, may end its work with exit code 0. Each
component's state, pid, restarts and last exit are in `<data_dir>/stack.json` (`qos status`, the
dashboard's /api/health). Data lives under one directory and survives restarts.
"""

from __future__ import annotations

import contextlib
import json
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
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import qos_search_node as search_node
from qos_infra.stack_state import STACK_FILE, STOPPED
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
class RestartPolicy:
    """How the supervisor restarts a component that exits: after `first_delay_s`, doubling up to
    `max_delay_s`; back to `first_delay_s` once it has stayed up `stable_after_s`. A component
    that exits `give_up_after` times within `give_up_window_s` is given up on ("failed")."""

    first_delay_s: float = 0.5
    max_delay_s: float = 30.0
    stable_after_s: float = 60.0
    give_up_after: int = 8
    give_up_window_s: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.first_delay_s <= self.max_delay_s:
            raise ValueError("restart delays: 0 < first_delay_s <= max_delay_s")
        if self.give_up_after < 1 or self.give_up_window_s <= 0 or self.stable_after_s <= 0:
            raise ValueError("restart policy: give_up_after >= 1, positive durations")


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
    player_port: int = 8790  # the demo page (0: any free port)
    dashboard_port: int = 8800
    demo_viewers: int = 0  # > 0: a simulator sends this many viewers' traffic (`qos up --demo`)
    restart: RestartPolicy = field(default_factory=RestartPolicy)


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


# A component's state, as `stack.json` and `qos status` show it.
STARTING, RUNNING, RESTARTING, FAILED, FINISHED = (
    "starting",
    "running",
    "restarting",
    "failed",
    "finished",
)


@dataclass
class _Running:
    """One component under supervision: its current process and its history."""

    component: Component
    argv: list[str]  # as resolved at its first start (and its port, once known, kept)
    process: subprocess.Popen[str]
    ready: threading.Event = field(default_factory=threading.Event)
    url: str | None = None
    state: str = STARTING
    started_at: float = 0.0  # monotonic, of the current process
    ready_deadline: float = 0.0
    restarts: int = 0
    last_exit: int | None = None
    last_exit_at: float | None = None  # epoch seconds
    exits: list[float] = field(default_factory=list)  # monotonic times of unexpected exits
    delay_s: float = 0.0  # the next restart's delay
    restart_at: float = 0.0  # monotonic
    # What the process started (pid, start time), seen while it ran: ended with it.
    descendants: set[tuple[int, int]] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "pid": self.process.pid if self.process.poll() is None else None,
            "url": self.url,
            "restarts": self.restarts,
            "last_exit": None
            if self.last_exit is None
            else {"code": self.last_exit, "at": _iso(self.last_exit_at)},
            "finite": self.component.finite,
        }


def _iso(epoch_s: float | None) -> str | None:
    if epoch_s is None:
        return None
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds")


def _proc_stat(pid: int | str) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process, from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ... starttime(22nd) ...": comm may hold spaces and parentheses.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[19])


def descendants(pid: int) -> set[tuple[int, int]]:
    """Every live descendant of `pid` as (pid, start time) (Linux; empty without /proc)."""
    tree: dict[int, list[tuple[int, int]]] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        stat = _proc_stat(proc.name)
        if stat is not None:
            tree.setdefault(stat[0], []).append((int(proc.name), stat[1]))
    found: set[tuple[int, int]] = set()
    todo = [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child[0])
    return found


def _kill_all(processes: set[tuple[int, int]]) -> None:
    """SIGKILL each (pid, start time) still alive as that same process (not a reused pid)."""
    for pid, started in processes:
        stat = _proc_stat(pid)
        if stat is None or stat[1] != started:
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


class LocalStack:
    """Starts the components in order, then supervises them (`wait`) until a stop is asked."""

    def __init__(
        self,
        options: StackOptions,
        *,
        out: Callable[[str], None] = print,
        err: Callable[[str], None] | None = None,
    ) -> None:
        self.options = options
        self.out = out
        self.err = err or (lambda line: print(line, file=sys.stderr, flush=True))
        self.running: list[_Running] = []
        self._stopping = threading.Event()
        self._state = STARTING
        self._started_at = time.time()

    # -- start ----------------------------------------------------------------------------------

    def start(self) -> dict[str, str | None]:
        """Start every component; return name -> URL (None for components without one)."""
        self.options.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_state()
        try:
            for component in components(self.options):
                self._start(component)
        except BaseException:
            self.stop()
            raise
        self._state = RUNNING
        self._write_state()
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

    def _spawn(self, component: Component, argv: list[str]) -> tuple[subprocess.Popen[str], Any]:
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
        assert process.stdout is not None
        return process, process.stdout

    def _launch(self, running: _Running) -> None:
        """(Re)start `running`'s process; its relay thread marks it ready."""
        process, stdout = self._spawn(running.component, running.argv)
        running.process = process
        running.ready = threading.Event()
        running.state = STARTING
        running.started_at = time.monotonic()
        timeout = running.component.ready_timeout_s or self.options.ready_timeout_s
        running.ready_deadline = running.started_at + timeout
        running.descendants = set()
        threading.Thread(
            target=self._relay, args=(running, stdout, running.ready), daemon=True
        ).start()
        if running.component.ready_pattern is None:
            running.ready.set()

    def _start(self, component: Component) -> None:
        argv = self._argv(component)
        process, stdout = self._spawn(component, argv)
        running = _Running(component, argv, process)
        running.started_at = time.monotonic()
        running.delay_s = self.options.restart.first_delay_s
        self.running.append(running)
        threading.Thread(
            target=self._relay, args=(running, stdout, running.ready), daemon=True
        ).start()
        if component.ready_pattern is None:
            running.ready.set()
        timeout = component.ready_timeout_s or self.options.ready_timeout_s
        deadline = time.monotonic() + timeout
        while not running.ready.wait(0.05):
            if process.poll() is not None:
                running.state = FAILED
                running.last_exit, running.last_exit_at = process.returncode, time.time()
                raise StackError(
                    f"{component.name} exited with code {process.returncode} while starting"
                )
            if time.monotonic() > deadline:
                raise StackError(f"{component.name} not ready after {timeout:g} s")
        self._became_ready(running)
        self._write_state()

    def _became_ready(self, running: _Running) -> None:
        running.state = RUNNING
        # A restart binds the port it announced, not another free one (clients keep its URL).
        if running.url is not None and "--port" in running.argv:
            at = running.argv.index("--port") + 1
            if at < len(running.argv) and running.argv[at] == "0":
                port = running.url.rsplit(":", 1)[1].split("/", 1)[0]
                running.argv = [*running.argv[:at], port, *running.argv[at + 1 :]]

    def _relay(self, running: _Running, stream: IO[str], ready: threading.Event) -> None:
        pattern = running.component.ready_pattern
        for line in stream:
            line = line.rstrip("\n")
            if pattern is not None and not ready.is_set() and (m := pattern.search(line)):
                found = URL_PATTERN.search(m.group(0))
                running.url = found.group(0) if found else running.url
                ready.set()
            self.out(f"[{running.component.name}] {line}")

    # -- supervise ------------------------------------------------------------------------------

    def wait(self) -> int:
        """Supervise until a stop is requested: a component that exits is restarted (after its
        backoff) unless it keeps failing; a finite one that ends with exit code 0 has done its
        work. Returns 0, or 1 when a component was given up on."""
        last_scan = 0.0
        while not self._stopping.wait(0.1):
            changed = False
            now = time.monotonic()
            scan = now - last_scan >= 1.0
            if scan:
                last_scan = now
            for running in self.running:
                changed |= self._supervise(running, now, scan)
            if changed:
                self._write_state()
        return 1 if any(r.state == FAILED for r in self.running) else 0

    def _supervise(self, running: _Running, now: float, scan: bool) -> bool:
        """One look at a component; True when its state changed."""
        name, policy = running.component.name, self.options.restart
        if running.state in (FAILED, FINISHED, STOPPED):
            return False
        if running.state == RESTARTING:
            if now < running.restart_at:
                return False
            running.restarts += 1
            self.out(f"qos: restarting {name} (restart {running.restarts})")
            self._launch(running)
            return True
        code = running.process.poll()
        if code is None:
            if scan:  # what it started, to end with it should it die (a JVM of its own group)
                running.descendants |= descendants(running.process.pid)
            if running.state == STARTING and running.ready.is_set():
                self._became_ready(running)
                return True
            if running.state == STARTING and now > running.ready_deadline:
                self.err(f"qos: {name} not ready in time after a restart; killing it")
                self._kill(running)
            elif running.state == RUNNING and now - running.started_at >= policy.stable_after_s:
                running.delay_s = policy.first_delay_s
            return False
        # It has exited: leave nothing of it behind, then decide.
        _kill_all(running.descendants)
        running.last_exit, running.last_exit_at = code, time.time()
        if code == 0 and running.component.finite:
            running.state = FINISHED
            self.out(f"qos: {name} finished; the stack goes on")
            return True
        running.exits = [t for t in running.exits if now - t < policy.give_up_window_s] + [now]
        if len(running.exits) >= policy.give_up_after:
            running.state = FAILED
            self.err(
                f"qos: {name} FAILED: it exited {len(running.exits)} times within"
                f" {policy.give_up_window_s:g} s (last exit code {code}); not restarting it."
                " The rest of the stack goes on; see its output above"
            )
            return True
        running.state = RESTARTING
        running.restart_at = now + running.delay_s
        self.err(f"qos: {name} exited with code {code}; restarting it in {running.delay_s:g} s")
        running.delay_s = min(running.delay_s * 2, policy.max_delay_s)
        return True

    def _kill(self, running: _Running) -> None:
        _kill_all(running.descendants | descendants(running.process.pid))
        if running.process.poll() is None:
            running.process.kill()

    def state(self) -> dict[str, Any]:
        """What `stack.json` holds: the supervisor's pid and each component's state."""
        return {
            "pid": os.getpid(),
            "state": self._state,
            "started_at": _iso(self._started_at),
            "updated_at": _iso(time.time()),
            "components": {r.component.name: r.as_dict() for r in self.running},
        }

    def _write_state(self) -> None:
        """`<data_dir>/stack.json`, replaced atomically (a reader never sees half of it)."""
        path = self.options.data_dir / STACK_FILE
        temporary = path.with_name(f".{STACK_FILE}.{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps(self.state(), indent=2) + "\n")
            os.replace(temporary, path)
        except OSError as exc:
            self.err(f"qos: cannot write {path}: {exc}")

    # -- stop -----------------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stopping.set()

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM every component in reverse start order, then SIGKILL what does not exit (and
        anything a component left running)."""
        self._stopping.set()
        self._state = "stopping"
        self._write_state()
        for running in reversed(self.running):
            if running.process.poll() is None:
                running.descendants |= descendants(running.process.pid)
                running.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for running in reversed(self.running):
            try:
                running.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.out(f"{running.component.name} did not stop in time; killing it")
                self._kill(running)
                running.process.wait()
            _kill_all(running.descendants)
            if running.state not in (FAILED, FINISHED):
                running.state = STOPPED
        self._state = STOPPED
        self._write_state()
