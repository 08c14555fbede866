"""The README's commands, run as written against a demo stack, and the stack's log kept short.

One `qos up --demo` stack (search when this machine can run it) serves both tests:

- every command the README shows (the `qos …` ones, in code blocks or inline, in whatever form
  the README gives them: `qos`, `python3 dev.py qos`, `.nox/up/bin/qos`; and the `curl`
  examples) runs from a directory whose `.qos-data` is the stack's, and must succeed with data.
  `qos` runs as this interpreter's `python -m qos_infra.cli`; curl's `localhost:8780` is the
  stack's ingest. A command the README shows that is not run must be in `SKIPPED` with its
  reason, so a new example is either tested or consciously left out;
- with `QOS_LOG_EVERY_S=5`, each component prints a bounded number of lines per interval once
  the stack is ready (the issue: 962 of 1,043 lines in five minutes were one component's).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from qos_up_support import Stack, search_wanted, start_qos

README = Path(__file__).resolve().parents[2] / "README.md"
LOG_EVERY_S = 5
# Commands the README shows that this test does not run, each with why.
SKIPPED: dict[str, str] = {
    "dev.py up": "starts the stack: the test runs that stack (`qos up --demo`) itself",
    "dev.py test": "runs every test: this test is one of them",
    "dev.py nox": "runs a nox session (a build step), not an example of the running stack",
    "python -m qos_realtime.flink_connector": "builds the Kinesis connector from its sources",
    "qos up": "starts the stack: the test runs it",
    "qos reset": "deletes the data directory after asking",
    "cdk": "deploys to AWS",
    "aws": "calls AWS",
}
# The forms the README may give `qos` in.
QOS_FORMS = ("python3 dev.py qos", ".nox/up/bin/qos", "qos")


@dataclass(frozen=True)
class Example:
    text: str  # as the README shows it
    argv: list[str]
    expected: str  # the comment lines after it in its code block (expected output), if any


def code_blocks(readme: str) -> list[str]:
    return re.findall(r"^```(?:sh|bash|shell)\n(.*?)^```", readme, re.S | re.M)


def block_commands(block: str) -> list[Example]:
    """The commands of a shell block: quotes may run over several lines; `#` lines after a
    command are its expected output."""
    found: list[Example] = []
    pending = ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            if found and line.lstrip().startswith("#"):
                last = found[-1]
                found[-1] = Example(last.text, last.argv, last.expected + line.lstrip()[1:] + "\n")
            continue
        pending += line + "\n"
        try:
            argv = shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        if pending.rstrip().endswith("\\"):
            continue
        found.append(Example(pending.strip(), argv, ""))
        pending = ""
    return found


def inline_qos_commands(readme: str) -> list[Example]:
    """`qos …` commands in inline code outside the code blocks (a bare `qos` is a name)."""
    prose = re.sub(r"^```.*?^```", "", readme, flags=re.S | re.M)
    found = []
    for span in re.findall(r"`([^`\n]+)`", prose):
        text = span.strip()
        if any(text.startswith(form + " ") for form in QOS_FORMS) and "…" not in text:
            found.append(Example(text, shlex.split(text), ""))
    return found


def skip_reason(example: Example) -> str | None:
    text = " ".join(example.argv)
    for prefix, reason in SKIPPED.items():
        if re.search(rf"(^|\s|/){re.escape(prefix)}(\s|$)", text):
            return reason
    return None


def qos_args(argv: list[str]) -> list[str] | None:
    """The arguments of a `qos` command in any of its forms; None for another program."""
    for form in QOS_FORMS:
        words = form.split()
        if argv[: len(words)] == words:
            return argv[len(words) :]
    return None


# -- the stack -----------------------------------------------------------------------------------


@dataclass
class Running:
    stack: Stack
    home: Path  # holds .qos-data, the stack's data directory
    ingest: str
    ready_at: float
    search: bool


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    home = tmp_path_factory.mktemp("readme")
    data_dir = home / ".qos-data"
    search = search_wanted()
    argv = ["up", "--data-dir", str(data_dir), "--port", "0", "--dashboard-port", "0"]
    argv += ["--demo", "20", "--window-s", "5"]
    if not search:
        argv.append("--no-search")
    stack = Stack(start_qos(argv, env={"QOS_LOG_EVERY_S": str(LOG_EVERY_S)}))
    try:
        ready_at, _ = stack.wait_for(r"^qos: ready", 900 if search else 180)
        yield Running(stack, home, stack.url("ingest"), ready_at, search)
    finally:
        stack.stop()


def run_qos(home: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qos_infra.cli", *args],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def has_data(args: list[str], result: subprocess.CompletedProcess[str]) -> str | None:
    """Why the output of `qos args` shows no data (None: it does)."""
    out = result.stdout
    if args[:2] == ["lake", "query"]:
        rows = [line for line in out.splitlines()[2:] if line.strip()]
        return None if rows else "no row"
    if args[:2] == ["lake", "queries"]:
        return None if "popular-channels" in out else "no query listed"
    if args[:1] == ["status"]:
        return None if re.search(r"[1-9]", out) else "no count above 0"
    return None if out.strip() else "no output"


def run_curl(example: Example, ingest: str) -> tuple[int, dict[str, object]]:
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl is missing: the README's examples use it (apt-get install curl)")
    argv = [re.sub(r"^(http://)?localhost:8780", ingest, a) for a in example.argv[1:]]
    done = subprocess.run(
        [curl, *argv, "-w", "\n%{http_code}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, (example.text, done.stderr)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), orjson.loads(body)


# -- the tests -----------------------------------------------------------------------------------


def test_the_readme_s_commands_work_as_written(running: Running) -> None:
    readme = README.read_text()
    examples = [e for block in code_blocks(readme) for e in block_commands(block)]
    examples += inline_qos_commands(readme)
    ran: list[str] = []
    unknown: list[str] = []
    failures: list[str] = []
    # The lake's first flush after the demo's prefill: give it a moment.
    deadline = time.monotonic() + 60
    for example in examples:
        if skip_reason(example) is not None:
            continue
        args = qos_args(example.argv)
        if args is not None:
            while True:
                result = run_qos(running.home, args)
                why = (
                    f"exit {result.returncode}: {result.stderr.strip()[-300:]}"
                    if result.returncode != 0
                    else has_data(args, result)
                )
                if why is None or time.monotonic() > deadline:
                    break
                time.sleep(2)
            if why is not None:
                failures.append(f"{example.text}: {why}")
            ran.append(example.text)
        elif example.argv[0] == "curl":
            status, body = run_curl(example, running.ingest)
            accepted = re.search(r'"accepted":\s*(\d+)', example.expected)
            if status not in (200, 207) or (
                accepted is not None and body.get("accepted") != int(accepted.group(1))
            ):
                failures.append(f"{example.text[:60]}…: HTTP {status} {body}")
            if "HTTP 207" in example.expected and status != 207:
                failures.append(f"{example.text[:60]}…: HTTP {status}, the README says 207")
            ran.append(example.text)
        else:
            unknown.append(example.text)
    assert not unknown, f"README commands neither run nor in SKIPPED: {unknown}"
    assert not failures, "\n".join(failures)
    assert any(t.split()[-1] != "--help" and "lake query" in t for t in ran), ran
    assert sum(t.startswith("curl") for t in ran) >= 2, ran


def test_each_component_logs_a_few_lines_per_interval(running: Running) -> None:
    """Once ready, a component's lines are at most a few per `QOS_LOG_EVERY_S` (one summary,
    and room for a startup line or a warning), never one per batch or request."""
    watch_s = 40.0
    time.sleep(max(0.0, running.ready_at + watch_s - time.monotonic()))
    with running.stack.changed:
        lines = [(at, line) for at, line in running.stack.lines if at > running.ready_at]
    elapsed = max(at for at, _ in lines) - running.ready_at if lines else watch_s
    per_component = Counter(
        m.group(1) for _, line in lines if (m := re.match(r"^\[([\w-]+)\] ", line))
    )
    bound = int(elapsed / LOG_EVERY_S) + 4
    print(f"lines per component in {elapsed:.0f} s after ready: {dict(per_component)}")
    noisy = {name: n for name, n in per_component.items() if n > bound}
    assert not noisy, f"more than {bound} lines in {elapsed:.0f} s: {noisy}\n" + "\n".join(
        line for _, line in lines[-60:]
    )
    text = "\n".join(line for _, line in lines)
    assert "Connection pool is full" not in text
    assert "Applying array index offset" not in text
    # The summaries are there: each long-running component says what it did.
    for name, summary in (
        ("ingest", r"accepted \d+ events"),
        ("realtime", r"read \d+ records"),
        ("lake", r"wrote \d+ records"),
    ):
        assert re.search(rf"^\[{name}\] .*{summary}", text, re.M), (name, text[-3000:])
    if running.search:
        assert re.search(r"^\[search\] .*indexed \d+ records", text, re.M), text[-3000:]
