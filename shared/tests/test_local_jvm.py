"""The Maven-built local JVM launcher: its cache key, the cached classpath reused without Maven,
Maven's failure, the JDK it is pinned to, the spawned process (its arguments, its log, its stdin)
and stop() ending the whole process group, TERM then KILL. A fake ``mvn`` and ``java`` (shell
scripts) stand in for the real ones; the processes are ``sh`` and ``sleep``."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from qos_shared.local_jvm import (
    EXIT_ON_STDIN_EOF,
    Classpath,
    MavenLauncher,
    RunningJvm,
    StartServer,
    run_cli,
    source_hash,
)

MAIN = "dev.example.Main"

# Does what the real pom does with these properties: classes under node.build.dir/classes, the
# resolved classpath in mdep.outputFile. Each run is counted and says the JAVA_HOME it was given.
FAKE_MVN = """#!/bin/sh
echo "${JAVA_HOME:-none}" >> "$FAKE_MVN_RUNS"
for arg in "$@"; do
  case "$arg" in
    -Dnode.build.dir=*) build="${arg#*=}" ;;
    -Dmdep.outputFile=*) out="${arg#*=}" ;;
  esac
done
mkdir -p "$build/classes/dev/example"
: > "$build/classes/dev/example/Main.class"
printf '%s' "$FAKE_JAR" > "$out"
"""
FAKE_JAVA_17 = """#!/bin/sh
echo 'openjdk version "17.0.9" 2023-10-17' >&2
"""


class _Unavailable(RuntimeError):
    pass


def _script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def _project(root: Path) -> Path:
    project = root / "project"
    (project / "src" / "main" / "java").mkdir(parents=True)
    (project / "pom.xml").write_text("<project/>\n")
    (project / "src" / "main" / "java" / "Main.java").write_text("class Main {}\n")
    return project


def _launcher(project: Path, **overrides: object) -> MavenLauncher:
    options: dict[str, object] = {
        "name": "qos_example",
        "product": "Example 1.0",
        "project": project,
        "main_class": MAIN,
        "error": _Unavailable,
    }
    options.update(overrides)
    return MavenLauncher(**options)  # type: ignore[arg-type]


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with only the fake mvn and java (and mkdir); returns the file
    that lists Maven's runs."""
    bin_dir = tmp_path / "bin"
    _script(bin_dir / "mvn", FAKE_MVN)
    _script(bin_dir / "java", FAKE_JAVA_17)
    jar = _script(tmp_path / "m2" / "dep.jar", "")
    runs = tmp_path / "mvn-runs.txt"
    mkdir = shutil.which("mkdir")
    assert mkdir is not None
    (bin_dir / "mkdir").symlink_to(mkdir)  # all else the scripts use is built into sh
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_MVN_RUNS", str(runs))
    monkeypatch.setenv("FAKE_JAR", str(jar))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    return runs


def _runs(runs: Path) -> list[str]:
    return runs.read_text().splitlines() if runs.exists() else []


# --- the cache key -------------------------------------------------------------------------


def test_the_cache_key_changes_with_a_source_file_and_the_pom_only(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = source_hash(project)
    assert source_hash(project) == first

    (project / "README.md").write_text("not a source\n")
    assert source_hash(project) == first

    source = project / "src" / "main" / "java" / "Main.java"
    source.write_text("class Main { int x; }\n")
    changed_source = source_hash(project)
    assert changed_source != first

    (project / "src" / "main" / "java" / "Other.java").write_text("class Other {}\n")
    added_file = source_hash(project)
    assert added_file not in (first, changed_source)

    (project / "pom.xml").write_text("<project><!-- changed --></project>\n")
    assert source_hash(project) not in (first, changed_source, added_file)


def test_the_cache_dir_is_the_variable_else_under_xdg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launcher = _launcher(tmp_path)
    monkeypatch.delenv("QOS_EXAMPLE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert launcher.default_cache_dir() == tmp_path / "xdg" / "qos-example"
    monkeypatch.setenv("QOS_EXAMPLE_CACHE", str(tmp_path / "explicit"))
    assert launcher.default_cache_dir() == tmp_path / "explicit"


# --- prepare -------------------------------------------------------------------------------


def test_prepare_runs_maven_once_then_reuses_the_cache(
    tmp_path: Path, tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    launcher = _launcher(project)
    cache = tmp_path / "cache"
    assert launcher.available() is None

    first = launcher.prepare(cache)
    entry = cache / source_hash(project)
    assert first == Classpath(
        classes_dir=entry / "build" / "classes",
        jars=(tmp_path / "m2" / "dep.jar",),
        main_class=MAIN,
    )
    assert first.argument() == f"{entry / 'build' / 'classes'}{os.pathsep}{tmp_path / 'm2'}/dep.jar"
    assert first.is_complete()
    assert _runs(tools) == ["none"]  # Maven found its own Java

    # Without Maven (or Java) on PATH the cached classpath is still there.
    monkeypatch.setenv("PATH", "/nonexistent")
    assert launcher.prepare(cache) == first
    assert _runs(tools) == ["none"]


def test_a_changed_source_or_a_lost_jar_builds_again(tmp_path: Path, tools: Path) -> None:
    project = _project(tmp_path)
    launcher = _launcher(project)
    cache = tmp_path / "cache"
    first = launcher.prepare(cache)

    (project / "src" / "main" / "java" / "Main.java").write_text("class Main { int y; }\n")
    second = launcher.prepare(cache)
    assert second.classes_dir != first.classes_dir
    assert len(_runs(tools)) == 2

    (tmp_path / "m2" / "dep.jar").unlink()  # ~/.m2 cleaned
    assert not second.is_complete()
    with pytest.raises(_Unavailable, match="no complete classpath"):
        launcher.prepare(cache)
    assert len(_runs(tools)) == 3
    _script(tmp_path / "m2" / "dep.jar", "")
    assert launcher.prepare(cache) == second
    assert len(_runs(tools)) == 3  # the jar is back: the cached entry is whole again


def test_a_maven_failure_raises_with_its_output(tmp_path: Path, tools: Path) -> None:
    _script(tmp_path / "bin" / "mvn", "#!/bin/sh\necho '[ERROR] Could not resolve x:y'\nexit 3\n")
    launcher = _launcher(_project(tmp_path))
    with pytest.raises(_Unavailable, match=r"(?s)Maven failed \(exit 3\).*Could not resolve x:y"):
        launcher.prepare(tmp_path / "cache")
    # Nothing half-built is left behind.
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_tools_are_named(tmp_path: Path, tools: Path) -> None:
    launcher = _launcher(_project(tmp_path))
    (tmp_path / "bin" / "mvn").unlink()
    reason = launcher.available()
    assert reason is not None and "mvn" in reason
    with pytest.raises(_Unavailable, match="mvn"):
        launcher.prepare(tmp_path / "cache")

    _script(tmp_path / "bin" / "java", "#!/bin/sh\necho 'openjdk version \"11.0.2\"' >&2\n")
    assert (
        launcher.available()
        == f"{tmp_path / 'bin' / 'java'} is Java 11; Example 1.0 needs Java 17+"
    )
    assert _launcher(tmp_path / "nowhere").available() == (
        f"the launcher's Maven module is missing: {tmp_path / 'nowhere' / 'pom.xml'}"
    )


def test_a_located_jdk_builds_and_is_recorded(tmp_path: Path, tools: Path) -> None:
    jdk = tmp_path / "jdk-25"
    _script(jdk / "bin" / "java", "#!/bin/sh\n")
    project = _project(tmp_path)
    found: list[Path | None] = [jdk]
    launcher = _launcher(project, min_java=25, find_jdk=lambda: found[0], jdk_hint="point at one")

    classpath = launcher.prepare(tmp_path / "cache")
    assert classpath.java_home == jdk
    assert _runs(tools) == [str(jdk)]  # Maven ran on it
    assert launcher.java(classpath) == str(jdk / "bin" / "java")

    found[0] = None  # the cached build still knows its JDK
    assert launcher.prepare(tmp_path / "cache") == classpath
    assert launcher.available() == "no JDK 25+ found (Example 1.0 needs Java 25; point at one)"

    (jdk / "bin" / "java").unlink()  # that JDK is gone: the cache entry no longer counts
    with pytest.raises(_Unavailable, match="no JDK 25"):
        launcher.prepare(tmp_path / "cache")


# --- the process ---------------------------------------------------------------------------


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _wait_for(condition: object, timeout: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _group(tmp_path: Path, script: str) -> tuple[RunningJvm, int]:
    """A shell in its own process group with a background ``sleep`` child; returns the child."""
    child_pid = tmp_path / "child.pid"
    process = subprocess.Popen(
        ["/bin/sh", "-c", f"{script} sleep 60 & echo $! > {child_pid}; wait"],
        stdin=subprocess.PIPE,
        start_new_session=True,
    )
    log_path = tmp_path / "server.log"
    running = RunningJvm(process, tmp_path, log_path, log_path.open("ab"))
    _wait_for(lambda: child_pid.exists() and child_pid.read_text().strip() != "")
    return running, int(child_pid.read_text())


def test_stop_terminates_the_whole_process_group(tmp_path: Path) -> None:
    running, child = _group(tmp_path, "")
    assert running.alive and not _gone(child)
    code = running.stop(timeout=10)
    assert code is not None and code != 0
    assert not running.alive
    _wait_for(lambda: _gone(child))
    assert running.stop() == code  # idempotent
    assert running.process.stdin is not None and running.process.stdin.closed


def test_stop_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    # An ignored signal stays ignored in the children: neither the shell nor sleep hears TERM.
    with _group(tmp_path, "trap '' TERM;")[0] as running:
        child = int((tmp_path / "child.pid").read_text())
        began = time.monotonic()
        assert running.stop(timeout=0.5) == -9
        assert time.monotonic() - began < 10
    _wait_for(lambda: _gone(child))


def test_spawn_runs_the_main_class_logs_and_ends_with_stdin(tmp_path: Path) -> None:
    jdk = tmp_path / "jdk"
    # A "java" that says its arguments, then lives until its stdin closes.
    _script(jdk / "bin" / "java", '#!/bin/sh\necho "args: $*"\ncat > /dev/null\necho bye\n')
    classpath = Classpath(tmp_path / "classes", (tmp_path / "a.jar",), MAIN, java_home=jdk)
    launcher = _launcher(tmp_path)
    log_path = tmp_path / "server.log"
    log_path.write_text("an earlier run\n")

    process, log_file, offset = launcher.spawn(
        classpath, tmp_path, log_path, ["-Xmx64m"], ["--data-dir", "D"], tie_to_parent=True
    )
    running = RunningJvm(process, tmp_path, log_path, log_file)
    assert process.stdin is not None
    time.sleep(0.5)
    assert running.alive  # stdin still open
    process.stdin.close()
    assert process.wait(timeout=10) == 0
    running.stop()

    text = log_path.read_text()
    assert text.startswith("an earlier run\n\n=== qos_example: starting ===\n")
    expected = (
        f"args: -Xmx64m -cp {classpath.argument()} {MAIN} {EXIT_ON_STDIN_EOF} --data-dir D\nbye\n"
    )
    assert log_path.read_bytes()[offset:].decode() == expected


# --- the command line ----------------------------------------------------------------------


def _cli(argv: list[str], launcher: MavenLauncher, start: StartServer) -> int:
    return run_cli(
        argv, launcher, start, description="An example.", noun="server", data_dir_help=""
    )


def _not_started(
    data_dir: Path, port: int | None = None, heap: str = "1g", *, timeout: float = 1.0
) -> RunningJvm:
    raise AssertionError("not started")


def test_cli_prepare_builds_once_and_reports_maven_failures(
    tmp_path: Path, tools: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    launcher = _launcher(_project(tmp_path))
    cache = tmp_path / "cache"
    for _ in range(2):
        assert _cli(["prepare", "--cache-dir", str(cache)], launcher, _not_started) == 0
        classes = cache / source_hash(launcher.project) / "build" / "classes"
        assert capsys.readouterr().out == f"ready: {classes} + 1 jars\n"
    assert len(_runs(tools)) == 1

    _script(tmp_path / "bin" / "mvn", "#!/bin/sh\necho 'no network'\nexit 1\n")
    other = tmp_path / "other-cache"
    assert _cli(["prepare", "--cache-dir", str(other)], launcher, _not_started) == 1
    expected = f"error: Maven failed (exit 1) building {launcher.project}:\nno network\n"
    assert capsys.readouterr().err.endswith(f" ...\n{expected}")


def test_cli_run_refuses_when_unavailable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    launcher = _launcher(tmp_path / "nowhere")
    assert _cli(["run", "--data-dir", str(tmp_path / "d")], launcher, _not_started) == 2
    missing = tmp_path / "nowhere" / "pom.xml"
    expected = f"cannot run Example 1.0: the launcher's Maven module is missing: {missing}\n"
    assert capsys.readouterr().err == expected


def test_cli_run_serves_until_the_server_dies(
    tmp_path: Path, tools: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[tuple[Path, int | None, str, float]] = []

    def start(
        data_dir: Path, port: int | None = None, heap: str = "1g", *, timeout: float = 1.0
    ) -> RunningJvm:
        started.append((data_dir, port, heap, timeout))
        log_path = tmp_path / "server.log"
        log_path.write_text("line 1\nfatal: out of luck\n")
        process = subprocess.Popen(["/bin/sh", "-c", "exit 7"], start_new_session=True)
        return RunningJvm(process, data_dir, log_path, log_path.open("ab"), url="http://x:1")

    launcher = _launcher(_project(tmp_path), start_timeout=42.0)
    argv = ["run", "--data-dir", str(tmp_path / "d"), "--port", "9", "--heap", "2g"]
    assert _cli(argv, launcher, start) == 1
    assert started == [(tmp_path / "d", 9, "2g", 42.0)]
    out, err = capsys.readouterr()
    assert out.startswith("Example 1.0 http://x:1 ready in ")
    assert err == "Example 1.0 exited with code 7:\nline 1\nfatal: out of luck\n"


# --- waiting for ready ---------------------------------------------------------------------


def _sleeper(tmp_path: Path, command: str) -> RunningJvm:
    log_path = tmp_path / "server.log"
    log_path.write_text("starting\nsomething went wrong\n")
    process = subprocess.Popen(["/bin/sh", "-c", command], start_new_session=True)
    return RunningJvm(process, tmp_path, log_path, log_path.open("ab"))


def test_wait_until_ready_asks_until_ready(tmp_path: Path) -> None:
    server = _sleeper(tmp_path, "sleep 60")
    answers = iter(["refused", "health red", None])
    launcher = _launcher(tmp_path)
    try:
        ready = launcher.wait_until_ready(
            server, lambda s: next(answers), timeout=10, interval=0.01
        )
        assert ready is server and server.alive
        assert next(answers, "none left") == "none left"
    finally:
        server.stop()


def test_wait_until_ready_raises_and_stops_on_timeout(tmp_path: Path) -> None:
    server = _sleeper(tmp_path, "sleep 60")
    launcher = _launcher(tmp_path)
    expected = r"(?s)Example 1.0 not ready within 0 s \(last: health red\);.*something went wrong"
    with pytest.raises(_Unavailable, match=expected):
        launcher.wait_until_ready(server, lambda s: "health red", timeout=0.2, interval=0.01)
    assert not server.alive


def test_wait_until_ready_raises_when_the_jvm_exits(tmp_path: Path) -> None:
    server = _sleeper(tmp_path, "exit 3")
    launcher = _launcher(tmp_path)
    with pytest.raises(_Unavailable, match=r"(?s)Example 1.0 exited with code 3 while starting"):
        launcher.wait_until_ready(server, lambda s: "not yet", timeout=10, interval=0.01)
