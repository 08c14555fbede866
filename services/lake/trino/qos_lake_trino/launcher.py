"""Builds the local Trino launcher with Maven (once, cached) and starts and stops its JVM.

Trino 483 runs in-process from its Maven Central artifacts: the small launcher in
``services/lake/trino`` (``dev.qos.lake.trino.LocalTrino``) starts a ``TestingTrinoServer``
coordinator, installs the Hive plugin and creates the catalog ``hive`` over the local file system
with a file metastore. This module builds it with Maven once, caches the classpath keyed by a hash
of the pom and the Java sources, starts the JVM (Java 25, which Trino 483 needs) in its own
process group and waits for the coordinator's ready line.

Only the standard library is used here.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

#: The Maven module of the launcher: ``services/lake/trino``, this package's parent.
PROJECT = Path(__file__).resolve().parents[1]
MAIN_CLASS = "dev.qos.lake.trino.LocalTrino"
#: Trino 483 is compiled for, and refuses to run on anything older than, Java 25.
MIN_JAVA = 25
HOST = "127.0.0.1"
CATALOG = "hive"

START_TIMEOUT = 180.0
MAVEN_TIMEOUT = 1200.0
_LOG_TAIL_LINES = 40
_READY = re.compile(r"LocalTrino ready on (http://[0-9.]+:[0-9]+)")
# Where JDKs are usually installed, looked through when neither JAVA_HOME nor PATH has Java 25.
_JDK_GLOBS = ("/usr/lib/jvm/*", "/opt/java/*", "/Library/Java/JavaVirtualMachines/*/Contents/Home")


class TrinoUnavailable(RuntimeError):
    """Trino cannot be built or started: no Java 25, no Maven, a Maven failure, a dead JVM."""


@dataclass(frozen=True)
class Classpath:
    """What ``java -cp`` needs to run the launcher: its compiled classes and the resolved jars."""

    classes_dir: Path
    jars: tuple[Path, ...]
    java_home: Path

    def argument(self) -> str:
        """The ``-cp`` argument."""
        return os.pathsep.join(str(p) for p in (self.classes_dir, *self.jars))

    def is_complete(self) -> bool:
        """True while the classes and every jar are still on disk (``~/.m2`` may be cleaned)."""
        launcher = self.classes_dir.joinpath(*MAIN_CLASS.split(".")).with_suffix(".class")
        return launcher.is_file() and all(jar.is_file() for jar in self.jars)


# --- tools ---------------------------------------------------------------------------------


def java_major(java: Path) -> int | None:
    """The feature version of ``java`` (25 for "25.0.1"), or None when it cannot be told."""
    try:
        out = subprocess.run(  # noqa: S603 - a resolved java binary, fixed arguments
            [str(java), "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


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


def available() -> str | None:
    """None when Trino can be built and run here, else the reason it cannot (for a message).

    Checks the launcher's Maven module, a JDK 25 and ``mvn`` on PATH; it does not run Maven (see
    :func:`prepare` for that).
    """
    if not (PROJECT / "pom.xml").is_file():
        return f"the launcher's Maven module is missing: {PROJECT / 'pom.xml'}"
    if find_java_home() is None:
        return (
            f"no JDK {MIN_JAVA}+ found (Trino 483 needs Java {MIN_JAVA}; set JAVA_HOME or "
            "QOS_TRINO_JAVA_HOME to one)"
        )
    if shutil.which("mvn") is None:
        return "mvn (Maven) not found on PATH; it builds the local Trino launcher"
    return None


def _require_tools() -> tuple[Path, str]:
    reason = available()
    if reason is not None:
        raise TrinoUnavailable(reason)
    java_home, mvn = find_java_home(), shutil.which("mvn")
    assert java_home is not None and mvn is not None  # checked by available()
    return java_home, mvn


# --- prepare: Maven once, then a cache -----------------------------------------------------


def default_cache_dir() -> Path:
    """``$QOS_LAKE_TRINO_CACHE``, else ``$XDG_CACHE_HOME/qos-lake-trino`` (``~/.cache/...``)."""
    explicit = os.environ.get("QOS_LAKE_TRINO_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "qos-lake-trino"


def source_hash(project: Path = PROJECT) -> str:
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
    listing, home = entry / "classpath.txt", entry / "java_home.txt"
    if not listing.is_file() or not home.is_file():
        return None
    text = listing.read_text(encoding="utf-8").strip()
    jars = tuple(Path(p) for p in text.split(os.pathsep) if p)
    java_home = Path(home.read_text(encoding="utf-8").strip())
    classpath = Classpath(classes_dir=entry / "build" / "classes", jars=jars, java_home=java_home)
    if not (classpath.is_complete() and (java_home / "bin" / "java").is_file()):
        return None
    return classpath


def _tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def prepare(cache_dir: Path | None = None, *, timeout: float = MAVEN_TIMEOUT) -> Classpath:
    """Build the launcher and resolve its classpath with Maven, once; later calls are instant.

    The result lives in ``cache_dir/<hash of pom + sources>/``; a changed pom or launcher source
    gives a new key, hence a rebuild. Raises :class:`TrinoUnavailable` when Java 25 or Maven is
    missing or Maven fails (with the tail of its output).
    """
    cache = (cache_dir or default_cache_dir()).resolve()
    entry = cache / source_hash()
    cached = _read_classpath(entry)
    if cached is not None:
        return cached

    java_home, mvn = _require_tools()
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{entry.name}.tmp-", dir=cache))
    output = work / "maven.log"
    command = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(PROJECT / "pom.xml"),
        f"-Dnode.build.dir={work / 'build'}",
        f"-Dmdep.outputFile={work / 'classpath.txt'}",
        "compile",
        "dependency:build-classpath",
    ]
    print(
        "qos_lake_trino: building the local Trino launcher with Maven "
        "(the first run downloads ~350 MB of jars) ...",
        file=sys.stderr,
        flush=True,
    )
    started = time.monotonic()
    try:
        (work / "java_home.txt").write_text(f"{java_home}\n", encoding="utf-8")
        with output.open("w", encoding="utf-8") as log:
            try:
                result = subprocess.run(  # noqa: S603 - resolved mvn, fixed arguments
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    timeout=timeout,
                    check=False,
                    env={**os.environ, "JAVA_HOME": str(java_home)},
                )
            except subprocess.TimeoutExpired:
                raise TrinoUnavailable(
                    f"Maven did not finish within {timeout:.0f} s building {PROJECT}:\n"
                    + _tail(output.read_text(encoding="utf-8", errors="replace"))
                ) from None
        if result.returncode != 0:
            raise TrinoUnavailable(
                f"Maven failed (exit {result.returncode}) building {PROJECT}:\n"
                + _tail(output.read_text(encoding="utf-8", errors="replace"))
            )
        if _read_classpath(work) is None:
            raise TrinoUnavailable(
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
        raise TrinoUnavailable(f"the cached launcher in {entry} is incomplete after the build")
    print(
        f"qos_lake_trino: launcher ready in {time.monotonic() - started:.0f} s ({entry})",
        file=sys.stderr,
        flush=True,
    )
    return classpath


# --- start: one JVM, its own process group -------------------------------------------------


def log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """The last lines of a log file ('' when it does not exist)."""
    try:
        return _tail(path.read_text(encoding="utf-8", errors="replace"), lines)
    except FileNotFoundError:
        return ""


_RUNNING: weakref.WeakSet[RunningTrino] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    """No server outlives the Python process that started it, even when a caller forgot stop()."""
    for server in list(_RUNNING):
        server.stop(timeout=15)


class RunningTrino:
    """A started coordinator. ``stop()`` (or leaving the ``with`` block) ends it: SIGTERM to its
    process group, then SIGKILL."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        data_dir: Path,
        log_path: Path,
        log_file: IO[bytes],
    ) -> None:
        self.process = process
        self.pid = process.pid
        self.data_dir = data_dir
        self.log_path = log_path
        self.url = ""  # set once the ready line is in the log
        self.port = 0
        self._log_file = log_file
        self._lock = threading.Lock()
        _RUNNING.add(self)

    def __repr__(self) -> str:
        state = "running" if self.alive else f"exited {self.process.returncode}"
        return f"RunningTrino({self.url or 'starting'}, pid={self.pid}, {state})"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM the server's process group, wait up to ``timeout`` s, then SIGKILL it.

        Returns the exit code. Idempotent.
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
) -> RunningTrino:
    """Start a Trino coordinator on 127.0.0.1 (``port``, default a free one chosen by Trino) with
    its metastore in ``data_dir``; wait until it accepts queries.

    Its output goes to ``data_dir/trino.log`` (appended). With ``tie_to_parent`` (the default)
    it also stops when this Python process dies (its stdin closes). Raises
    :class:`TrinoUnavailable` when it cannot start; the message has the tail of its log.
    """
    classpath = classpath or prepare()
    java = classpath.java_home / "bin" / "java"
    data_dir = data_dir.resolve()
    (data_dir / "tmp").mkdir(parents=True, exist_ok=True)
    command = [
        str(java),
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
        "-cp",
        classpath.argument(),
        MAIN_CLASS,
        "--data-dir",
        str(data_dir),
        "--port",
        str(port or 0),
        *(["--exit-on-stdin-eof"] if tie_to_parent else []),
    ]
    log_path = data_dir / "trino.log"
    log_file = log_path.open("ab")
    log_file.write(b"\n=== qos_lake_trino: starting ===\n")
    log_file.flush()
    offset = log_file.tell()  # only this run's lines count
    process = subprocess.Popen(  # noqa: S603 - resolved java, fixed arguments
        command,
        stdin=subprocess.PIPE if tie_to_parent else subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        cwd=data_dir,
        start_new_session=True,
    )
    server = RunningTrino(process, data_dir, log_path, log_file)
    try:
        _wait_until_ready(server, timeout, offset)
    except BaseException:
        server.stop(timeout=10)
        raise
    return server


def _wait_until_ready(server: RunningTrino, timeout: float, offset: int) -> None:
    deadline = time.monotonic() + timeout
    while True:
        code = server.process.poll()
        if code is not None:
            raise TrinoUnavailable(
                f"Trino exited with code {code} while starting; {server.log_path}:\n"
                + log_tail(server.log_path)
            )
        with server.log_path.open("rb") as log:
            log.seek(offset)
            match = _READY.search(log.read().decode("utf-8", errors="replace"))
        if match is not None:
            server.url = match.group(1).rstrip("/")
            server.port = int(server.url.rsplit(":", 1)[1])
            return
        if time.monotonic() >= deadline:
            raise TrinoUnavailable(
                f"Trino not ready within {timeout:.0f} s; {server.log_path}:\n"
                + log_tail(server.log_path)
            )
        time.sleep(0.25)
