"""A running `qos up` stack survives kill -9 of each of its components in turn while events flow.

Events are posted in real time throughout (sessions of ATTEMPT, PLAY, summaries and STOP on a few
channels and platforms), each request retried until ingest acknowledges it. Then each component
is killed outright in turn (SIGKILL: no chance to flush or checkpoint): ingest, the realtime
engine, the lake writer, the search indexer, the OpenSearch node's JVM, the dashboard, the demo
page's server. After each kill the supervisor restarts it (on the same port) from its own
checkpoint; the others keep serving.

The checks: ingest answers again within seconds when it is the one killed, and at all times
otherwise; the event log holds exactly the acknowledged events (none lost, none twice); and the
final KPIs of every store (the realtime windows, every lake query of the dashboard, the search
panels) equal the oracle's over those events: the same as a clean run over them.
"""

from __future__ import annotations

import http.client
import itertools
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from qos_up_support import (
    Stack,
    check_lake_queries,
    check_realtime_windows,
    check_search_panels,
    processes_using,
    search_wanted,
    start_qos,
    wait_every_store,
)

from qos_infra.local import descendants
from qos_infra.simulator.truth import compute_truth
from qos_infra.stack_state import read_state
from qos_shared.eventlog import EventLog
from qos_shared.testing.oracle import Record
from qos_shared.testing.scenarios import Send, _Builder

WINDOW_S = 5
WINDOW_MS = WINDOW_S * 1000
VIEW_TIMEOUT_S = 20
REVISION_HORIZON_S = 10
INGEST_BACK_WITHIN_S = 10.0
SCENARIOS = ("kill-a", "kill-b", "kill-c")  # one channel each (sc-kill-a, ...)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Poster:
    """Posts sessions in real time until stopped, each request retried until acknowledged."""

    ingest: str
    stop: threading.Event = field(default_factory=threading.Event)
    acknowledged: list[str] = field(default_factory=list)  # event ids, in order
    failures: list[float] = field(default_factory=list)  # monotonic times of failed attempts
    error: BaseException | None = None

    def sends(self, start_ms: int) -> Iterator[Send]:
        """A new session every 0.4 s (each about 7 s long), in due order."""
        builder = _Builder()
        pending: list[Send] = []
        for number in itertools.count():
            begins = start_ms + 400 * number
            scenario = SCENARIOS[number % len(SCENARIOS)]
            builder.sends = []
            builder.add(scenario, builder.session(scenario, number, begins, summaries=2))
            pending = sorted([*pending, *builder.sends], key=lambda s: s.due_ms)
            while pending and pending[0].due_ms <= begins:
                yield pending.pop(0)

    def run(self) -> None:
        try:
            for send in self.sends(now_ms() + 500):
                if self.stop.is_set():
                    return
                wait = send.due_ms - now_ms()
                if wait > 0:
                    time.sleep(wait / 1000)
                self._post_until_acknowledged(send)
        except BaseException as exc:  # the test reports it
            self.error = exc

    def _post_until_acknowledged(self, send: Send) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                reply = self._post(send.path, send.body(now_ms()))
            except (OSError, http.client.HTTPException):
                reply = None
            if reply is not None:
                assert reply["accepted"] == len(send.events) and reply["rejected"] == [], reply
                self.acknowledged += [e["event_id"] for e in send.events]
                return
            self.failures.append(time.monotonic())
            assert time.monotonic() < deadline, "ingest did not acknowledge within 60 s"
            time.sleep(0.1)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        port = int(self.ingest.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request(
                "POST", path, body=orjson.dumps(body), headers={"Content-Type": "application/json"}
            )
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        if response.status >= 500:
            return None
        assert response.status == 200, (response.status, data[:300])
        reply: dict[str, Any] = orjson.loads(data)
        return reply


def answers(base: str) -> bool:
    port = int(base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def component(data_dir: Path, name: str) -> dict[str, Any]:
    state = read_state(data_dir)
    assert state is not None and state["alive"], state
    found: dict[str, Any] = state["components"][name]
    return found


def java_of(pid: int) -> int:
    """The OpenSearch node's JVM: the java process its launcher started."""
    for child, _ in descendants(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if command.split(b"\0", 1)[0].endswith(b"java"):
            return child
    raise AssertionError(f"no java process below {pid}")


@dataclass
class Run:
    data_dir: Path
    dashboard: str
    search: str | None
    records: list[Record]
    acknowledged: list[str]
    killed: dict[str, float]  # component -> seconds until it ran again
    ingest_down_s: float
    failed_requests: int
    failed_elsewhere: list[float]  # failed requests while ingest was not the one killed
    truth: dict[str, Any]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    data_dir = tmp_path_factory.mktemp("stack-recovery") / "data"
    with_search = search_wanted()
    argv = ["up", "--data-dir", str(data_dir), "--port", "0", "--dashboard-port", "0"]
    argv += ["--window-s", str(WINDOW_S), "--view-timeout-s", str(VIEW_TIMEOUT_S)]
    argv += ["--revision-horizon-s", str(REVISION_HORIZON_S)]
    argv += ["--search-port", "0"] if with_search else ["--no-search"]
    stack = Stack(start_qos(argv, env={"QOS_LAKE_FLUSH_SECONDS": "1"}))
    poster: Poster | None = None
    try:
        stack.wait_for(r"qos: press Ctrl-C to stop", 900 if with_search else 120)
        ingest = stack.url("ingest")
        dashboard = stack.url("dashboard")
        search = stack.url("opensearch") if with_search else None
        poster = Poster(ingest)
        posting = threading.Thread(target=poster.run, daemon=True)
        posting.start()
        time.sleep(3)

        state = read_state(data_dir)
        assert state is not None
        order = ["ingest", "realtime", "lake", "search", "opensearch", "dashboard", "player"]
        names = [name for name in order if name in state["components"]]
        killed: dict[str, float] = {}
        ingest_down = (0.0, 0.0)
        for name in names:
            before = component(data_dir, name)
            assert before["state"] == "running", (name, before)
            # The OpenSearch node is its launcher's JVM: kill the JVM, as a crash would.
            victim = java_of(before["pid"]) if name == "opensearch" else before["pid"]
            signal_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            if name == "ingest":
                while not answers(ingest):
                    assert time.monotonic() - signal_at < INGEST_BACK_WITHIN_S, stack.output()
                    time.sleep(0.05)
                ingest_down = (signal_at, time.monotonic())
            timeout = 300 if name == "opensearch" else 60
            while True:
                now = component(data_dir, name)
                if now["state"] == "running" and now["restarts"] == before["restarts"] + 1:
                    break
                assert now["state"] != "failed", (name, stack.output())
                assert time.monotonic() - signal_at < timeout, (name, now, stack.output())
                time.sleep(0.1)
            killed[name] = time.monotonic() - signal_at
            assert now["pid"] != before["pid"]
            time.sleep(1)  # events flow with it running again before the next kill
            assert poster.error is None, poster.error
        time.sleep(3)
        poster.stop.set()
        posting.join(60)
        assert not posting.is_alive() and poster.error is None, poster.error
        # A request failed only while ingest itself was down (a request in flight when it was
        # killed, and its retries until it answered again).
        failed_elsewhere = [
            t for t in poster.failures if not ingest_down[0] <= t <= ingest_down[1] + 0.5
        ]

        with EventLog(data_dir / "events.sqlite") as log:
            entries = log.read(after=0, limit=1_000_000)
        records = [orjson.loads(e.data) for e in entries]
        truth = compute_truth(records, window_s=WINDOW_S, view_timeout_s=VIEW_TIMEOUT_S)
        wait_every_store(
            data_dir,
            dashboard,
            search,
            events=len(poster.acknowledged),
            last_position=entries[-1].position,
            last_window=truth["windows"][-1]["window_start"],
            window_ms=WINDOW_MS,
            deadline=time.monotonic() + 180,
        )
        yield Run(
            data_dir,
            dashboard,
            search,
            records,
            poster.acknowledged,
            killed,
            ingest_down[1] - ingest_down[0],
            len(poster.failures),
            failed_elsewhere,
            truth,
        )
    finally:
        if poster is not None:
            poster.stop.set()
        stack.stop()
    assert stack.process.returncode == 0, stack.output()
    assert processes_using(data_dir) == [], "a component of the stack is still running"


# -- the checks ----------------------------------------------------------------------------------


def test_each_component_was_killed_and_restarted_while_the_rest_served(run: Run) -> None:
    state = read_state(run.data_dir)
    assert state is not None
    expected = {"ingest", "realtime", "lake", "dashboard"}
    if run.search is not None:
        expected |= {"search", "opensearch"}
    assert expected <= run.killed.keys()
    for name in run.killed:
        assert state["components"][name]["restarts"] == 1, name
        assert state["components"][name]["last_exit"] is not None, name
    print(f"back after kill -9 (s): { {k: round(v, 1) for k, v in run.killed.items()} }")
    print(
        f"ingest answered again after {run.ingest_down_s:.2f} s;"
        f" {run.failed_requests} request attempts failed meanwhile"
    )
    assert run.ingest_down_s < INGEST_BACK_WITHIN_S
    assert run.failed_elsewhere == []


def test_the_log_holds_exactly_the_acknowledged_events(run: Run) -> None:
    logged = [r["event_id"] for r in run.records]
    assert len(run.acknowledged) > 200
    assert len(set(run.acknowledged)) == len(run.acknowledged)
    assert sorted(logged) == sorted(run.acknowledged)


def test_every_realtime_window_is_the_oracle_s(run: Run) -> None:
    assert check_realtime_windows(run.dashboard, run.truth["windows"], WINDOW_MS) > 500


def test_the_lake_queries_are_the_oracle_s(run: Run) -> None:
    check_lake_queries(run.dashboard, run.records, VIEW_TIMEOUT_S, run.truth["run"]["all"][""])


def test_the_search_panels_are_the_oracle_s(run: Run) -> None:
    if run.search is None:
        pytest.skip("no search node here (Java 17 and Maven)")
    checked = check_search_panels(run.search, run.truth["windows"], run.records, WINDOW_S)
    assert sum(checked.values()) > 100, checked
