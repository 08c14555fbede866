"""Builds the local Trino launcher with Maven (once, cached) and starts and stops its JVM.

Trino 483 runs in-process from its Maven Central artifacts: the small launcher in
``services/lake/trino`` (``dev.qos.lake.trino.LocalTrino``) starts a ``TestingTrinoServer``
coordinator, installs the Hive plugin and creates the catalog ``hive`` over the local file system
with a file metastore. The Maven build, its cache (keyed by a hash of the pom and the Java
sources) and the JVM's process handling are the shared :mod:`qos_shared.local_jvm`; this module
says what is Trino's: the JDK 25 it needs (located here), the JVM options and the wait for the
coordinator's ready line.

Only the standard library is used here.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from pathlib import Path

from qos_shared.local_jvm import Classpath as Classpath
from qos_shared.local_jvm import MavenLauncher, RunningJvm
from qos_shared.local_jvm import java_major as java_major
from qos_shared.local_jvm import log_tail as log_tail

#: The Maven module of the launcher: ``services/lake/trino``, this package's parent.
PROJECT = Path(__file__).resolve().parents[1]
MAIN_CLASS = "dev.qos.lake.trino.LocalTrino"
#: Trino 483 is compiled for, and refuses to run on anything older than, Java 25.
MIN_JAVA = 25
HOST = "127.0.0.1"
CATALOG = "hive"

START_TIMEOUT = 180.0
MAVEN_TIMEOUT = 1200.0
_READY = re.compile(r"LocalTrino ready on (http://[0-9.]+:[0-9]+)")
# Where JDKs are usually installed, looked through when neither JAVA_HOME nor PATH has Java 25.
_JDK_GLOBS = ("/usr/lib/jvm/*", "/opt/java/*", "/Library/Java/JavaVirtualMachines/*/Contents/Home")


class TrinoUnavailable(RuntimeError):
    """Trino cannot be built or started: no Java 25, no Maven, a Maven failure, a dead JVM."""


# --- tools ---------------------------------------------------------------------------------


def _candidates() -> list[Path]:
    homes = [os.environ.get("QOS_TRINO_JAVA_HOME"), os.environ.get("JAVA_HOME")]
    found = [Path(h) / "bin" / "java" for h in homes if h]
    on_path = shutil.which("java")
    if on_path is not None:
        found.append(Path(on_path).resolve())
    for pattern in _JDK_GLOBS:
        found += [Path(home) / "bin" / "java" for home in sorted(glob.glob(pattern), reverse=True)]
    return found


def find_java_home() -> Path | None:
    """A JDK of Java 25 or newer: ``$QOS_TRINO_JAVA_HOME``, ``$JAVA_HOME``, PATH's ``java``, then
    the usual install folders (``/usr/lib/jvm/*``); None when there is none."""
    seen: set[Path] = set()
    for java in _candidates():
        if java in seen or not java.is_file():
            continue
        seen.add(java)
        major = java_major(java)
        # A JDK (javac beside java): Maven compiles the launcher with it.
        if major is not None and major >= MIN_JAVA and (java.parent / "javac").is_file():
            return java.parent.parent
    return None


LAUNCHER = MavenLauncher(
    name="qos_lake_trino",
    product="Trino 483",
    min_java=MIN_JAVA,
    find_jdk=find_java_home,
    jdk_hint="set JAVA_HOME or QOS_TRINO_JAVA_HOME to one",
    project=PROJECT,
    main_class=MAIN_CLASS,
    error=TrinoUnavailable,
    download_size="~350 MB of",
    maven_timeout=MAVEN_TIMEOUT,
    start_timeout=START_TIMEOUT,
)

available = LAUNCHER.available

# --- prepare: Maven once (with the JDK found), then a cache --------------------------------

default_cache_dir = LAUNCHER.default_cache_dir
prepare = LAUNCHER.prepare


# --- start: one JVM, its own process group -------------------------------------------------


class RunningTrino(RunningJvm):
    """A started coordinator. ``stop()`` (or leaving the ``with`` block) ends it: SIGTERM to its
    process group, then SIGKILL. ``url`` and ``port`` are set once the ready line is in the log."""

    def __repr__(self) -> str:
        state = "running" if self.alive else f"exited {self.process.returncode}"
        return f"RunningTrino({self.url or 'starting'}, pid={self.pid}, {state})"


def start(
    data_dir: Path,
    port: int | None = None,
    heap: str = "1g",
    *,
    classpath: Classpath | None = None,
    timeout: float = START_TIMEOUT,
    tie_to_parent: bool = True,
) -> RunningTrino:
    """Start a Trino coordinator on 127.0.0.1 (``port``, default a free one chosen by Trino) with
    its metastore in ``data_dir``; wait until it accepts queries.

    Its output goes to ``data_dir/trino.log`` (appended). With ``tie_to_parent`` (the default)
    it also stops when this Python process dies (its stdin closes). Raises
    :class:`TrinoUnavailable` when it cannot start; the message has the tail of its log.
    """
    classpath = classpath or prepare()
    data_dir = data_dir.resolve()
    (data_dir / "tmp").mkdir(parents=True, exist_ok=True)
    jvm_options = [
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:+ExitOnOutOfMemoryError",
        # Trino's block encodings use the Vector API (an incubator module in Java 25).
        "--add-modules=jdk.incubator.vector",
        "--enable-native-access=ALL-UNNAMED",
        # Athena's session time zone: a DATE becomes UTC midnight.
        "-Duser.timezone=UTC",
        "-Dfile.encoding=UTF-8",
        f"-Djava.io.tmpdir={data_dir / 'tmp'}",
    ]
    arguments = ["--data-dir", str(data_dir), "--port", str(port or 0)]
    log_path = data_dir / "trino.log"
    process, log_file, offset = LAUNCHER.spawn(
        classpath, data_dir, log_path, jvm_options, arguments, tie_to_parent=tie_to_parent
    )
    server = RunningTrino(process, data_dir, log_path, log_file)

    def ready(starting: RunningTrino) -> str | None:
        """None once this run's ready line is in the log (``url`` and ``port`` are then set)."""
        with starting.log_path.open("rb") as log:
            log.seek(offset)
            match = _READY.search(log.read().decode("utf-8", errors="replace"))
        if match is None:
            return "no ready line yet"
        starting.url = match.group(1).rstrip("/")
        starting.port = int(starting.url.rsplit(":", 1)[1])
        return None

    return LAUNCHER.wait_until_ready(server, ready, timeout=timeout, interval=0.25)
