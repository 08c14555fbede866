"""Builds the local OpenSearch launcher with Maven (once, cached) and starts and stops its JVM.

OpenSearch 2.19 runs in-process from its Maven Central artifacts: the small launcher in
``services/search-indexer/node`` (``dev.qos.search.LocalNode``) subclasses ``Node`` and passes the
modules (HTTP, painless, geo, ...) as classpath plugins. The Maven build, its cache (keyed by a
hash of the pom and the Java sources) and the JVM's process handling are the shared
:mod:`qos_shared.local_jvm`; this module says what is OpenSearch's: the JVM options, the node's
settings, its port and the wait for the cluster to be yellow.

Only the standard library is used here.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from qos_shared.local_jvm import Classpath as Classpath
from qos_shared.local_jvm import MavenLauncher, RunningJvm
from qos_shared.local_jvm import log_tail as log_tail

#: The Maven module of the launcher: ``services/search-indexer/node``, this package's parent.
NODE_PROJECT = Path(__file__).resolve().parents[1]
MAIN_CLASS = "dev.qos.search.LocalNode"
HOST = "127.0.0.1"


class NodeUnavailable(RuntimeError):
    """The node cannot be built or started: Java or Maven missing, a Maven failure, a dead JVM."""


LAUNCHER = MavenLauncher(
    name="qos_search_node",
    product="OpenSearch 2.19",
    project=NODE_PROJECT,
    main_class=MAIN_CLASS,
    error=NodeUnavailable,
    download_size="~150 MB of",
)
# Java 17 and the build and start timeouts: the shared launcher's defaults.
MIN_JAVA = LAUNCHER.min_java
MAVEN_TIMEOUT = LAUNCHER.maven_timeout
START_TIMEOUT = LAUNCHER.start_timeout

available = LAUNCHER.available
default_cache_dir = LAUNCHER.default_cache_dir
prepare = LAUNCHER.prepare


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


def _get_json(url: str, timeout: float) -> dict[str, object]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
        body: dict[str, object] = json.loads(response.read().decode("utf-8"))
        return body


class RunningNode(RunningJvm):
    """A started node. ``stop()`` (or leaving the ``with`` block) ends it: SIGTERM, then SIGKILL."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        data_dir: Path,
        log_path: Path,
        log_file: IO[bytes],
    ) -> None:
        super().__init__(
            process, data_dir, log_path, log_file, url=f"http://{HOST}:{port}", port=port
        )

    def __repr__(self) -> str:
        state = "running" if self.alive else f"exited {self.process.returncode}"
        return f"RunningNode({self.url}, pid={self.pid}, {state}, data_dir={self.data_dir})"

    def health(self, timeout: float = 10.0) -> dict[str, object]:
        """``GET /_cluster/health`` as a dict."""
        return _get_json(f"{self.url}/_cluster/health", timeout)


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
    LAUNCHER.require_tools()
    classpath = classpath or prepare()
    data_dir = data_dir.resolve()
    for folder in ("data", "logs", "tmp"):
        (data_dir / folder).mkdir(parents=True, exist_ok=True)
    if port is None:
        port = free_port()
    elif _port_in_use(port):
        raise NodeUnavailable(f"port {port} on {HOST} is already in use")

    heap_mb = _heap_mb(heap)
    jvm_options = [
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
    ]
    settings = [
        f"-Epath.home={data_dir}",
        f"-Epath.data={data_dir / 'data'}",
        f"-Epath.logs={data_dir / 'logs'}",
        f"-Ehttp.port={port}",
    ]
    log_path = data_dir / "logs" / "node.log"
    process, log_file, _ = LAUNCHER.spawn(
        classpath, data_dir, log_path, jvm_options, settings, tie_to_parent=tie_to_parent
    )
    node = RunningNode(process, port, data_dir, log_path, log_file)
    return LAUNCHER.wait_until_ready(node, _yellow, timeout=timeout, interval=0.5)


def _yellow(node: RunningNode) -> str | None:
    """None once the cluster is yellow or green, else what the node said."""
    health_url = f"{node.url}/_cluster/health?wait_for_status=yellow&timeout=5s"
    try:
        health = _get_json(health_url, timeout=10)
    except (urllib.error.URLError, OSError, ValueError) as error:  # refused, 408, reset...
        return str(error)
    if health.get("status") in ("yellow", "green") and not health.get("timed_out"):
        return None
    return f"health {health.get('status')}"
