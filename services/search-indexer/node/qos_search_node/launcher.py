"""Builds the local OpenSearch launcher with Maven (once, cached) and starts and stops its JVM.

OpenSearch 2.19 runs in-process from its Maven Central artifacts: the small launcher in
``services/search-indexer/node`` (``dev.qos.search.LocalNode``) subclasses ``Node`` and passes the
modules (HTTP, painless, geo, ...) as classpath plugins. This module builds it with Maven once,
caches the classpath keyed by a hash of the pom and the Java sources, starts the JVM in its own
process group and waits for the cluster to be yellow.

Only the standard library is used here.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

#: The Maven module of the launcher: ``services/search-indexer/node``, this package's parent.
NODE_PROJECT = Path(__file__).resolve().parents[1]
MAIN_CLASS = "dev.qos.search.LocalNode"
#: Minimum Java feature version (OpenSearch 2.19 runs on 17, the machines' default).
MIN_JAVA = 17
HOST = "127.0.0.1"

START_TIMEOUT = 120.0
MAVEN_TIMEOUT = 900.0
_LOG_TAIL_LINES = 40


class NodeUnavailable(RuntimeError):
    """The node cannot be built or started: Java or Maven missing, a Maven failure, a dead JVM."""


@dataclass(frozen=True)
class Classpath:
    """What ``java -cp`` needs to run the launcher: its compiled classes and the resolved jars."""

    classes_dir: Path
    jars: tuple[Path, ...]

    def argument(self) -> str:
        """The ``-cp`` argument."""
        return os.pathsep.join(str(p) for p in (self.classes_dir, *self.jars))

    def is_complete(self) -> bool:
        """True while the classes and every jar are still on disk (``~/.m2`` may be cleaned)."""
        launcher = self.classes_dir.joinpath(*MAIN_CLASS.split(".")).with_suffix(".class")
        return launcher.is_file() and all(jar.is_file() for jar in self.jars)


# --- tools ---------------------------------------------------------------------------------


def _java_major(java: str) -> int | None:
    """The feature version of ``java`` (17 for "17.0.15"), or None when it cannot be told."""
    try:
        out = subprocess.run(  # noqa: S603 - a resolved java binary, fixed arguments
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    # Java 8 and older say "1.8.0_..."
    return int(match.group(2) or 0) if major == 1 else major


def available() -> str | None:
    """None when a node can be built and run here, else the reason it cannot (for a message).

    Checks the launcher's Maven module, ``java`` (>= 17) and ``mvn`` on PATH; it does not run
    Maven (see :func:`prepare` for that).
    """
    if not (NODE_PROJECT / "pom.xml").is_file():
        return f"the launcher's Maven module is missing: {NODE_PROJECT / 'pom.xml'}"
    java = shutil.which("java")
    if java is None:
        return f"java not found on PATH (OpenSearch 2.19 needs Java {MIN_JAVA}+)"
    major = _java_major(java)
    if major is None:
        return f"could not tell the version of {java} (`java -version` failed)"
    if major < MIN_JAVA:
        return f"{java} is Java {major}; OpenSearch 2.19 needs Java {MIN_JAVA}+"
    if shutil.which("mvn") is None:
        return "mvn (Maven) not found on PATH; it builds the local OpenSearch launcher"
    return None


def _require_tools() -> tuple[str, str]:
    reason = available()
    if reason is not None:
        raise NodeUnavailable(reason)
    java, mvn = shutil.which("java"), shutil.which("mvn")
    assert java is not None and mvn is not None  # checked by available()
    return java, mvn


# --- prepare: Maven once, then a cache -----------------------------------------------------


def default_cache_dir() -> Path:
    """``$QOS_SEARCH_NODE_CACHE``, else ``$XDG_CACHE_HOME/qos-search-node`` (``~/.cache/...``)."""
    explicit = os.environ.get("QOS_SEARCH_NODE_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "qos-search-node"


def source_hash(project: Path = NODE_PROJECT) -> str:
    """A hash of the pom and every file under ``src/``: the cache key."""
    digest = hashlib.sha256()
    files = [project / "pom.xml", *sorted(p for p in (project / "src").rglob("*") if p.is_file())]
    for path in files:
        digest.update(path.relative_to(project).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def _read_classpath(entry: Path) -> Classpath | None:
    listing = entry / "classpath.txt"
    if not listing.is_file():
        return None
    text = listing.read_text(encoding="utf-8").strip()
    jars = tuple(Path(p) for p in text.split(os.pathsep) if p)
    classpath = Classpath(classes_dir=entry / "build" / "classes", jars=jars)
    return classpath if classpath.is_complete() else None


def _tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def prepare(cache_dir: Path | None = None, *, timeout: float = MAVEN_TIMEOUT) -> Classpath:
    """Build the launcher and resolve its classpath with Maven, once; later calls are instant.

    The result lives in ``cache_dir/<hash of pom + sources>/``; a changed pom or launcher source
    gives a new key, hence a rebuild. Raises :class:`NodeUnavailable` when Java or Maven is
    missing or Maven fails (with the tail of its output).
    """
    cache = (cache_dir or default_cache_dir()).resolve()
    entry = cache / source_hash()
    cached = _read_classpath(entry)
    if cached is not None:
        return cached

    _, mvn = _require_tools()
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{entry.name}.tmp-", dir=cache))
    output = work / "maven.log"
    command = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(NODE_PROJECT / "pom.xml"),
        f"-Dnode.build.dir={work / 'build'}",
        f"-Dmdep.outputFile={work / 'classpath.txt'}",
        "compile",
        "dependency:build-classpath",
    ]
    print(
        "qos_search_node: building the local OpenSearch launcher with Maven "
        "(the first run downloads ~150 MB of jars) ...",
        file=sys.stderr,
        flush=True,
    )
    started = time.monotonic()
    try:
        with output.open("w", encoding="utf-8") as log:
            try:
                result = subprocess.run(  # noqa: S603 - resolved mvn, fixed arguments
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise NodeUnavailable(
                    f"Maven did not finish within {timeout:.0f} s building {NODE_PROJECT}:\n"
                    + _tail(output.read_text(encoding="utf-8", errors="replace"))
                ) from None
        if result.returncode != 0:
            raise NodeUnavailable(
                f"Maven failed (exit {result.returncode}) building {NODE_PROJECT}:\n"
                + _tail(output.read_text(encoding="utf-8", errors="replace"))
            )
        if _read_classpath(work) is None:
            raise NodeUnavailable(
                f"Maven succeeded but left no complete classpath in {work}:\n"
                + _tail(output.read_text(encoding="utf-8", errors="replace"))
            )
        if entry.exists() and _read_classpath(entry) is None:  # stale: jars gone from ~/.m2
            shutil.rmtree(entry, ignore_errors=True)
        with contextlib.suppress(OSError):  # lost a race to another process: its build will do
            work.rename(entry)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    classpath = _read_classpath(entry)
    if classpath is None:
        raise NodeUnavailable(f"the cached launcher in {entry} is incomplete after the build")
    print(
        f"qos_search_node: launcher ready in {time.monotonic() - started:.0f} s ({entry})",
        file=sys.stderr,
        flush=True,
    )
    return classpath


# --- start: one JVM, its own process group -------------------------------------------------


def free_port(host: str = HOST) -> int:
    """A port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def _heap_mb(heap: str) -> int:
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", heap.strip())
    if match is None:
        raise ValueError(f"heap must look like 512m or 1g, got {heap!r}")
    number, unit = int(match.group(1)), match.group(2).lower()
    return {"": number // (1 << 20), "k": number // 1024, "m": number, "g": number * 1024}[unit]


def log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """The last lines of a log file ('' when it does not exist)."""
    try:
        return _tail(path.read_text(encoding="utf-8", errors="replace"), lines)
    except FileNotFoundError:
        return ""


def _get_json(url: str, timeout: float) -> dict[str, object]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
        body: dict[str, object] = json.loads(response.read().decode("utf-8"))
        return body


_RUNNING: weakref.WeakSet[RunningNode] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    """No node outlives the Python process that started it, even when a caller forgot stop()."""
    for node in list(_RUNNING):
        node.stop(timeout=15)


class RunningNode:
    """A started node. ``stop()`` (or leaving the ``with`` block) ends it: SIGTERM, then SIGKILL."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        data_dir: Path,
        log_path: Path,
        log_file: IO[bytes],
    ) -> None:
        self.process = process
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.pid = process.pid
        self.data_dir = data_dir
        self.log_path = log_path
        self._log_file = log_file
        self._lock = threading.Lock()
        _RUNNING.add(self)

    def __repr__(self) -> str:
        state = "running" if self.alive else f"exited {self.process.returncode}"
        return f"RunningNode({self.url}, pid={self.pid}, {state}, data_dir={self.data_dir})"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def health(self, timeout: float = 10.0) -> dict[str, object]:
        """``GET /_cluster/health`` as a dict."""
        return _get_json(f"{self.url}/_cluster/health", timeout)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM the node's process group, wait up to ``timeout`` s, then SIGKILL it.

        Returns the exit code. Idempotent. The data stays in ``data_dir``.
        """
        with self._lock:
            if self.process.poll() is None:
                self._signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
                    self.process.wait(timeout=30)
            # Closing our end of the stdin pipe would also stop it (--exit-on-stdin-eof).
            for stream in (self.process.stdin, self._log_file):
                if stream is not None and not stream.closed:
                    with contextlib.suppress(OSError):
                        stream.close()
            _RUNNING.discard(self)
            return self.process.returncode

    def _signal(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)  # its own group (start_new_session): pgid == pid

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start(
    data_dir: Path,
    port: int | None = None,
    heap: str = "1g",
    *,
    classpath: Classpath | None = None,
    timeout: float = START_TIMEOUT,
    tie_to_parent: bool = True,
) -> RunningNode:
    """Start a single-node OpenSearch on 127.0.0.1 with its data in ``data_dir``; wait for yellow.

    ``port`` defaults to a free one. The node's output goes to ``data_dir/logs/node.log``
    (appended, so a restart keeps the earlier runs). Data persist across starts on the same
    ``data_dir``. With ``tie_to_parent`` (the default) the node also stops when this Python
    process dies. Raises :class:`NodeUnavailable` when it cannot start; the message has the tail
    of the node's log.
    """
    java, _ = _require_tools()
    classpath = classpath or prepare()
    data_dir = data_dir.resolve()
    (data_dir / "data").mkdir(parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    if port is None:
        port = free_port()
    elif _port_in_use(port):
        raise NodeUnavailable(f"port {port} on {HOST} is already in use")

    heap_mb = _heap_mb(heap)
    command = [
        java,
        f"-Xms{min(256, heap_mb)}m",
        f"-Xmx{heap_mb}m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        "-Dfile.encoding=UTF-8",
        "-Djava.locale.providers=SPI,COMPAT",
        "-Dopensearch.set.netty.runtime.available.processors=false",
        "-Dio.netty.noUnsafe=true",
        "-Dio.netty.noKeySetOptimization=true",
        "-Dio.netty.recycler.maxCapacityPerThread=0",
        "-Dlog4j.shutdownHookEnabled=false",
        "-Dlog4j2.disable.jmx=true",
        f"-Djava.io.tmpdir={data_dir / 'tmp'}",
        "-cp",
        classpath.argument(),
        MAIN_CLASS,
        *(["--exit-on-stdin-eof"] if tie_to_parent else []),
        f"-Epath.home={data_dir}",
        f"-Epath.data={data_dir / 'data'}",
        f"-Epath.logs={data_dir / 'logs'}",
        f"-Ehttp.port={port}",
    ]
    (data_dir / "tmp").mkdir(exist_ok=True)
    log_path = data_dir / "logs" / "node.log"
    log_file = log_path.open("ab")
    log_file.write(f"\n=== qos_search_node: starting on port {port} ===\n".encode())
    log_file.flush()
    process = subprocess.Popen(  # noqa: S603 - resolved java, fixed arguments
        command,
        stdin=subprocess.PIPE if tie_to_parent else subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        cwd=data_dir,
        start_new_session=True,
    )
    node = RunningNode(process, port, data_dir, log_path, log_file)
    try:
        _wait_until_ready(node, timeout)
    except BaseException:
        node.stop(timeout=10)
        raise
    return node


def _wait_until_ready(node: RunningNode, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    health_url = f"{node.url}/_cluster/health?wait_for_status=yellow&timeout=5s"
    last_error = "no answer yet"
    while True:
        code = node.process.poll()
        if code is not None:
            raise NodeUnavailable(
                f"OpenSearch exited with code {code} while starting; {node.log_path}:\n"
                + log_tail(node.log_path)
            )
        try:
            health = _get_json(health_url, timeout=10)
            if health.get("status") in ("yellow", "green") and not health.get("timed_out"):
                return
            last_error = f"health {health.get('status')}"
        except (urllib.error.URLError, OSError, ValueError) as error:  # refused, 408, reset...
            last_error = str(error)
        if time.monotonic() >= deadline:
            raise NodeUnavailable(
                f"OpenSearch on port {node.port} not yellow within {timeout:.0f} s "
                f"(last: {last_error}); {node.log_path}:\n" + log_tail(node.log_path)
            )
        time.sleep(0.5)
