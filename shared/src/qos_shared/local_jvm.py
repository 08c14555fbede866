"""A local JVM server built from a small Maven module: dev tooling (the local OpenSearch node, the
local Trino), never runtime code.

A :class:`MavenLauncher` names the Maven module (a pom and ``src/``), its main class, its cache
(an environment variable, else ``$XDG_CACHE_HOME/<folder>``) and the Java it runs on: ``java`` on
PATH (Java 17 by default) or a JDK located by the caller (recorded in the cache and given to Maven
as ``JAVA_HOME``). ``prepare()`` builds the module and resolves its classpath with Maven once and
caches it keyed by a hash of the pom and the sources; ``spawn()`` starts the JVM in its own
process group with its output appended to a log. :class:`RunningJvm` is the started process:
``stop()`` sends SIGTERM to the group, then SIGKILL; with ``tie_to_parent`` the server's stdin is
a pipe whose end (this process dying) stops it too, and every server still running when this
Python process exits is stopped. ``run_cli`` is the ``prepare`` / ``run`` command line of such a
launcher package.

Only the standard library is used here.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Protocol, Self, TypeVar

__all__ = [
    "EXIT_ON_STDIN_EOF",
    "LOG_TAIL_LINES",
    "Classpath",
    "MavenLauncher",
    "RunningJvm",
    "StartServer",
    "java_major",
    "log_tail",
    "run_cli",
    "source_hash",
    "tail",
]

LOG_TAIL_LINES = 40
#: The argument both launchers' main classes take to exit when their stdin reaches EOF.
EXIT_ON_STDIN_EOF = "--exit-on-stdin-eof"

_Server = TypeVar("_Server", bound="RunningJvm")


@dataclass(frozen=True)
class Classpath:
    """What ``java -cp`` needs to run a launcher: its compiled classes and the resolved jars, and
    the JDK it was built with (None: ``java`` on PATH)."""

    classes_dir: Path
    jars: tuple[Path, ...]
    main_class: str
    java_home: Path | None = None

    def argument(self) -> str:
        """The ``-cp`` argument."""
        return os.pathsep.join(str(p) for p in (self.classes_dir, *self.jars))

    def is_complete(self) -> bool:
        """True while the classes and every jar are still on disk (``~/.m2`` may be cleaned)."""
        launcher = self.classes_dir.joinpath(*self.main_class.split(".")).with_suffix(".class")
        return launcher.is_file() and all(jar.is_file() for jar in self.jars)


def java_major(java: Path | str) -> int | None:
    """The feature version of ``java`` (17 for "17.0.15"), or None when it cannot be told."""
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
    # Java 8 and older say "1.8.0_..."
    return int(match.group(2) or 0) if major == 1 else major


def source_hash(project: Path) -> str:
    """A hash of the pom and every file under ``src/``: the cache key."""
    digest = hashlib.sha256()
    files = [project / "pom.xml", *sorted(p for p in (project / "src").rglob("*") if p.is_file())]
    for path in files:
        digest.update(path.relative_to(project).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log file ('' when it does not exist)."""
    try:
        return tail(path.read_text(encoding="utf-8", errors="replace"), lines)
    except FileNotFoundError:
        return ""


@dataclass(frozen=True)
class MavenLauncher:
    """One launcher's Maven module and how to build, cache and start it.

    ``name`` is the package (``qos_search_node``): it prefixes the messages and names the cache
    (``$QOS_SEARCH_NODE_CACHE``, else ``$XDG_CACHE_HOME/qos-search-node``); ``product`` is what
    it runs (``OpenSearch 2.19``); ``error`` is the exception raised when it cannot be built or
    started. ``find_jdk``, when given, locates the JDK to build and run with (None when there is
    none; ``jdk_hint`` says how to point at one); without it ``java`` on PATH, at least
    ``min_java``, runs the server and Maven finds its own.
    """

    name: str
    product: str
    project: Path
    main_class: str
    error: type[RuntimeError]
    min_java: int = 17
    find_jdk: Callable[[], Path | None] | None = None
    jdk_hint: str = "set JAVA_HOME to one"
    download_size: str = "its"
    maven_timeout: float = 900.0
    start_timeout: float = 120.0

    @property
    def cache_env(self) -> str:
        """The variable naming the cache folder (``QOS_SEARCH_NODE_CACHE``)."""
        return f"{self.name.upper()}_CACHE"

    @property
    def cache_folder(self) -> str:
        """The cache's folder under ``$XDG_CACHE_HOME`` (``qos-search-node``)."""
        return self.name.replace("_", "-")

    # --- tools ------------------------------------------------------------------------------

    def available(self) -> str | None:
        """None when the server can be built and run here, else the reason it cannot.

        Checks the Maven module, the Java and ``mvn`` on PATH; it does not run Maven.
        """
        pom = self.project / "pom.xml"
        if not pom.is_file():
            return f"the launcher's Maven module is missing: {pom}"
        if self.find_jdk is not None:
            if self.find_jdk() is None:
                return (
                    f"no JDK {self.min_java}+ found ({self.product} needs Java {self.min_java}; "
                    f"{self.jdk_hint})"
                )
        else:
            java = shutil.which("java")
            if java is None:
                return f"java not found on PATH ({self.product} needs Java {self.min_java}+)"
            major = java_major(java)
            if major is None:
                return f"could not tell the version of {java} (`java -version` failed)"
            if major < self.min_java:
                return f"{java} is Java {major}; {self.product} needs Java {self.min_java}+"
        if shutil.which("mvn") is None:
            return f"mvn (Maven) not found on PATH; it builds the local {self.product} launcher"
        return None

    def require_tools(self) -> tuple[Path | None, str]:
        """The located JDK (None: ``java`` on PATH) and ``mvn``; raises ``error`` when missing."""
        reason = self.available()
        if reason is not None:
            raise self.error(reason)
        jdk = self.find_jdk() if self.find_jdk is not None else None
        mvn = shutil.which("mvn")
        assert mvn is not None  # checked by available()
        return jdk, mvn

    def java(self, classpath: Classpath) -> str:
        """The ``java`` binary that runs ``classpath``."""
        if classpath.java_home is not None:
            return str(classpath.java_home / "bin" / "java")
        java = shutil.which("java")
        if java is None:
            raise self.error(f"java not found on PATH ({self.product} needs Java {self.min_java}+)")
        return java

    # --- prepare: Maven once, then a cache --------------------------------------------------

    def default_cache_dir(self) -> Path:
        """``$<cache_env>``, else ``$XDG_CACHE_HOME/<cache_folder>`` (``~/.cache/...``)."""
        explicit = os.environ.get(self.cache_env)
        if explicit:
            return Path(explicit)
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg else Path.home() / ".cache"
        return base / self.cache_folder

    def source_hash(self) -> str:
        """The cache key of the module as it is now."""
        return source_hash(self.project)

    def read_classpath(self, entry: Path) -> Classpath | None:
        """The classpath cached in ``entry``, or None when it is missing or incomplete."""
        listing = entry / "classpath.txt"
        if not listing.is_file():
            return None
        java_home: Path | None = None
        if self.find_jdk is not None:
            home = entry / "java_home.txt"
            if not home.is_file():
                return None
            java_home = Path(home.read_text(encoding="utf-8").strip())
            if not (java_home / "bin" / "java").is_file():
                return None
        text = listing.read_text(encoding="utf-8").strip()
        classpath = Classpath(
            classes_dir=entry / "build" / "classes",
            jars=tuple(Path(p) for p in text.split(os.pathsep) if p),
            main_class=self.main_class,
            java_home=java_home,
        )
        return classpath if classpath.is_complete() else None

    def prepare(self, cache_dir: Path | None = None, *, timeout: float | None = None) -> Classpath:
        """Build the launcher and resolve its classpath with Maven, once; later calls are instant.

        The result lives in ``cache_dir/<hash of pom + sources>/``; a changed pom or source gives
        a new key, hence a rebuild. Raises ``error`` when Java or Maven is missing or Maven fails
        (with the tail of its output).
        """
        timeout = self.maven_timeout if timeout is None else timeout
        cache = (cache_dir or self.default_cache_dir()).resolve()
        entry = cache / self.source_hash()
        cached = self.read_classpath(entry)
        if cached is not None:
            return cached

        jdk, mvn = self.require_tools()
        cache.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{entry.name}.tmp-", dir=cache))
        output = work / "maven.log"
        command = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(self.project / "pom.xml"),
            f"-Dnode.build.dir={work / 'build'}",
            f"-Dmdep.outputFile={work / 'classpath.txt'}",
            "compile",
            "dependency:build-classpath",
        ]
        env = None if jdk is None else {**os.environ, "JAVA_HOME": str(jdk)}
        print(
            f"{self.name}: building the local {self.product} launcher with Maven "
            f"(the first run downloads {self.download_size} jars) ...",
            file=sys.stderr,
            flush=True,
        )
        started = time.monotonic()
        try:
            if jdk is not None:
                (work / "java_home.txt").write_text(f"{jdk}\n", encoding="utf-8")
            with output.open("w", encoding="utf-8") as log:
                try:
                    result = subprocess.run(  # noqa: S603 - resolved mvn, fixed arguments
                        command,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        timeout=timeout,
                        check=False,
                        env=env,
                    )
                except subprocess.TimeoutExpired:
                    raise self.error(
                        f"Maven did not finish within {timeout:.0f} s building {self.project}:\n"
                        + log_tail(output)
                    ) from None
            if result.returncode != 0:
                raise self.error(
                    f"Maven failed (exit {result.returncode}) building {self.project}:\n"
                    + log_tail(output)
                )
            if self.read_classpath(work) is None:
                raise self.error(
                    f"Maven succeeded but left no complete classpath in {work}:\n"
                    + log_tail(output)
                )
            if entry.exists() and self.read_classpath(entry) is None:  # stale: jars gone
                shutil.rmtree(entry, ignore_errors=True)
            with contextlib.suppress(OSError):  # lost a race to another process: its build will do
                work.rename(entry)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
        classpath = self.read_classpath(entry)
        if classpath is None:
            raise self.error(f"the cached launcher in {entry} is incomplete after the build")
        print(
            f"{self.name}: launcher ready in {time.monotonic() - started:.0f} s ({entry})",
            file=sys.stderr,
            flush=True,
        )
        return classpath

    # --- start: one JVM, its own process group ----------------------------------------------

    def spawn(
        self,
        classpath: Classpath,
        cwd: Path,
        log_path: Path,
        jvm_options: Sequence[str],
        arguments: Sequence[str],
        *,
        tie_to_parent: bool,
    ) -> tuple[subprocess.Popen[bytes], IO[bytes], int]:
        """Start ``java <jvm_options> -cp <classpath> <main class> <arguments>`` in ``cwd``, in
        its own process group, its output appended to ``log_path`` after a banner line.

        With ``tie_to_parent`` its stdin is a pipe and the main class gets
        ``--exit-on-stdin-eof``. Returns the process, the open log file (the caller's
        :class:`RunningJvm` closes it) and the log's offset where this run's output begins.
        """
        command = [
            self.java(classpath),
            *jvm_options,
            "-cp",
            classpath.argument(),
            self.main_class,
            *([EXIT_ON_STDIN_EOF] if tie_to_parent else []),
            *arguments,
        ]
        log_file = log_path.open("ab")
        log_file.write(f"\n=== {self.name}: starting ===\n".encode())
        log_file.flush()
        offset = log_file.tell()
        try:
            process = subprocess.Popen(  # noqa: S603 - resolved java, fixed arguments
                command,
                stdin=subprocess.PIPE if tie_to_parent else subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,
            )
        except BaseException:
            log_file.close()
            raise
        return process, log_file, offset

    def wait_until_ready(
        self,
        server: _Server,
        ready: Callable[[_Server], str | None],
        *,
        timeout: float,
        interval: float,
    ) -> _Server:
        """Asks ``ready(server)`` every ``interval`` s until it says ready (None; else it says
        what it saw) and returns the server. Raises ``error`` with the tail of the server's log
        when the JVM exits or ``timeout`` s pass first; stops the server when anything raises."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                code = server.process.poll()
                if code is not None:
                    raise self.error(
                        f"{self.product} exited with code {code} while starting; "
                        f"{server.log_path}:\n" + log_tail(server.log_path)
                    )
                seen = ready(server)
                if seen is None:
                    return server
                if time.monotonic() >= deadline:
                    raise self.error(
                        f"{self.product} not ready within {timeout:.0f} s (last: {seen}); "
                        f"{server.log_path}:\n" + log_tail(server.log_path)
                    )
                time.sleep(interval)
        except BaseException:
            server.stop(timeout=10)
            raise


_RUNNING: weakref.WeakSet[RunningJvm] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    """No server outlives the Python process that started it, even when a caller forgot stop()."""
    for server in list(_RUNNING):
        server.stop(timeout=15)


class RunningJvm:
    """A started server process. ``stop()`` (or leaving the ``with`` block) ends it: SIGTERM to
    its process group, then SIGKILL."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        data_dir: Path,
        log_path: Path,
        log_file: IO[bytes],
        *,
        url: str = "",
        port: int = 0,
    ) -> None:
        self.process = process
        self.pid = process.pid
        self.data_dir = data_dir
        self.log_path = log_path
        self.url = url
        self.port = port
        self._log_file = log_file
        self._lock = threading.Lock()
        _RUNNING.add(self)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM the server's process group, wait up to ``timeout`` s, then SIGKILL it.

        Returns the exit code. Idempotent. The data stay in ``data_dir``.
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


# --- the command line: prepare / run -----------------------------------------------------


class StartServer(Protocol):
    """A launcher package's ``start``: the server on ``data_dir``, ready."""

    def __call__(
        self, data_dir: Path, port: int | None = ..., heap: str = ..., *, timeout: float = ...
    ) -> RunningJvm: ...


def _run(launcher: MavenLauncher, start: StartServer, args: argparse.Namespace) -> int:
    product = launcher.product
    reason = launcher.available()
    if reason is not None:
        print(f"cannot run {product}: {reason}", file=sys.stderr)
        return 2
    stop_requested = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    began = time.monotonic()
    server = start(Path(args.data_dir), port=args.port, heap=args.heap, timeout=args.timeout)
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(
            f"{product} {server.url} ready in {time.monotonic() - began:.1f} s "
            f"(pid {server.pid}, log {server.log_path}); Ctrl-C stops it",
            flush=True,
        )
        while not stop_requested.wait(1.0):
            if not server.alive:
                print(
                    f"{product} exited with code {server.process.returncode}:\n"
                    + log_tail(server.log_path),
                    file=sys.stderr,
                )
                return 1
        print(f"stopping {product} ...", flush=True)
    finally:
        code = server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print(f"{product} stopped (exit {code})", flush=True)
    return 0


def run_cli(
    argv: Sequence[str] | None,
    launcher: MavenLauncher,
    start: StartServer,
    *,
    description: str,
    noun: str,
    data_dir_help: str,
) -> int:
    """``python -m <package> prepare [--cache-dir C]`` warms the launcher's cache;
    ``python -m <package> run --data-dir D [--port P] [--heap H] [--timeout S]`` runs one ``noun``
    (``start`` starts it) in the foreground until Ctrl-C or SIGTERM. Returns the exit status: 0,
    1 on the launcher's error or the server's death, 2 when the launcher is not available."""
    parser = argparse.ArgumentParser(prog=f"python -m {launcher.name}", description=description)
    commands = parser.add_subparsers(dest="command", required=True)
    warm = commands.add_parser("prepare", help="build the launcher and cache its classpath")
    warm.add_argument("--cache-dir", type=Path, default=None)
    run = commands.add_parser("run", help=f"run a {noun} in the foreground until Ctrl-C")
    run.add_argument("--data-dir", required=True, help=data_dir_help)
    run.add_argument("--port", type=int, default=None, help="HTTP port (default: a free one)")
    run.add_argument("--heap", default="1g")
    run.add_argument("--timeout", type=float, default=launcher.start_timeout)
    args = parser.parse_args(argv)

    try:
        if args.command == "prepare":
            classpath = launcher.prepare(args.cache_dir)
            print(f"ready: {classpath.classes_dir} + {len(classpath.jars)} jars")
            return 0
        return _run(launcher, start, args)
    except launcher.error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
