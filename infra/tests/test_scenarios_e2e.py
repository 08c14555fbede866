"""Messy inputs through the real ingest HTTP endpoint of one `qos up` stack: every KPI of every
local store (realtime, lake, search) against the oracle over what ingest should store.

The scenarios (`qos_shared.testing.scenarios`), each on a channel of its own, so that the
per-channel KPIs isolate it: sessions that send only ATTEMPT; fatal ERRORs without `phase`; SDK
clients whose clocks are 10 minutes fast and 10 minutes slow (events and `sent_at` stamped by
them); old players (legacy envelope, no `sent_at`) with one event an hour ahead amid their
traffic; a replay of events ten minutes old with a 10 s pause halfway; every request sent twice;
two identical legacy records in one envelope.

The run: first the replay (event time ten minutes behind the wall clock: the engine's backfill
mode, where a pause of 10 s closes nothing), then the other scenarios in real time for about 20 s,
each request sent at the end of the second its events happened in. Nothing is late: live
requests reach ingest within about a second of their events, well within the allowed lateness,
and the replay is done before the live traffic moves the watermark past it.

The truth: the records ingest should store, by its rules written independently in
`qos_shared.testing.scenarios` (ADR 0015's correction and clamping, one record per event_id, the
n-th identical record of a request kept): each is checked against the event log's record (the
receive time, which only the server knows, read from there and checked to fall within the
request), then the oracle's KPIs over them are compared with every engine's, exactly (search's
percentiles within a rank, as in test_demo_e2e).
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from qos_up_support import (
    Stack,
    check_lake_queries,
    check_realtime_windows,
    check_search_panels,
    post_json,
    processes_using,
    search_wanted,
    start_qos,
    wait_every_store,
)

import qos_search_node as search_node
from qos_infra.simulator.truth import compute_truth
from qos_shared.catalogue import LATE_EVENTS
from qos_shared.eventlog import EventLog
from qos_shared.testing.oracle import Record
from qos_shared.testing.scenarios import (
    SCENARIOS,
    Send,
    channel,
    ingested,
    live_sends,
    replay_sends,
    sent_events,
)

WINDOW_S = 5
WINDOW_MS = WINDOW_S * 1000
VIEW_TIMEOUT_S = 20
REVISION_HORIZON_S = 10
TOP_N_CHANNELS = 10  # the engine's default: every scenario's channel is its own group


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Posted:
    send: Send
    sent_at: int | None
    before_ms: int  # the true clock just before the request went, and after its answer
    after_ms: int


@dataclass
class Run:
    data_dir: Path
    dashboard: str
    search: str | None
    posted: list[Posted]
    log_records: list[Record]  # the event log's records, in log order
    records: list[Record]  # what ingest should store, in log order: the truth
    truth: dict[str, Any]  # compute_truth over `records`


def send_all(ingest: str, sends: list[Send]) -> list[Posted]:
    """Each request at its due time (true clock), one after the other; every event accepted."""
    posted: list[Posted] = []
    for send in sends:
        wait = send.due_ms - now_ms()
        if wait > 0:
            time.sleep(wait / 1000)
        before = now_ms()
        body = send.body(before)
        reply = post_json(ingest, send.path, body)
        assert reply["accepted"] == len(send.events) and reply["rejected"] == [], reply
        assert "warnings" not in reply, reply
        posted.append(Posted(send, body.get("sent_at"), before, now_ms()))
    return posted


def expected_records(
    posted: list[Posted], log_records: list[Record], pseudonym_key: bytes
) -> list[Record]:
    """What ingest should have stored, in log order, with each request's receive time read from
    the log (checked to fall within the request): a session's records are in the log in the
    order its events were first sent (its requests go one after another)."""
    sends = [p.send for p in posted]
    firsts: dict[str, tuple[int, Record]] = {}
    for index, event_id, event in sent_events(sends):
        firsts.setdefault(event_id, (index, event))
    by_session: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for event_id, (index, event) in firsts.items():
        by_session[event["session_id"]].append((event_id, index))
    logged: dict[str, list[Record]] = defaultdict(list)
    for r in log_records:
        logged[r["session_id"]].append(r)
    assert logged.keys() == by_session.keys()
    received: dict[int, int] = {}
    pairs: dict[str, Record] = {}  # expected id -> the log's record
    for session, expected in by_session.items():
        assert len(logged[session]) == len(expected), session
        for (event_id, index), stored in zip(expected, logged[session], strict=True):
            request = posted[index]
            assert request.before_ms <= stored["received_at"] <= request.after_ms, session
            assert received.setdefault(index, stored["received_at"]) == stored["received_at"]
            pairs[event_id] = stored
    received_at = [received.get(i, p.before_ms) for i, p in enumerate(posted)]
    sent_at = [p.sent_at for p in posted]
    should: dict[str, Record] = {}
    for r in ingested(sends, sent_at, received_at, pseudonym_key=pseudonym_key):
        should.setdefault(r["event_id"], r)
    by_position = {id(stored): event_id for event_id, stored in pairs.items()}
    out: list[Record] = []
    for stored in log_records:
        expected_record = dict(should[by_position[id(stored)]])
        if expected_record["event_id"].startswith("derived-"):
            expected_record["event_id"] = stored["event_id"]  # ingest's own derivation
        differ = {k: (stored.get(k), v) for k, v in expected_record.items() if stored.get(k) != v}
        assert not differ, (stored["session_id"], differ)
        out.append({**stored, **expected_record})
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    data_dir = tmp_path_factory.mktemp("scenarios-e2e") / "data"
    with_search = search_wanted()
    argv = ["up", "--data-dir", str(data_dir), "--port", "0", "--dashboard-port", "0"]
    argv += ["--window-s", str(WINDOW_S), "--view-timeout-s", str(VIEW_TIMEOUT_S)]
    argv += ["--revision-horizon-s", str(REVISION_HORIZON_S)]
    argv += ["--search-port", "0"] if with_search else ["--no-search"]
    stack = Stack(start_qos(argv))
    try:
        stack.wait_for(r"qos: press Ctrl-C to stop", 900 if with_search else 120)
        ingest = stack.url("ingest")
        dashboard = stack.url("dashboard")
        search = stack.url("opensearch") if with_search else None

        replay = replay_sends(now_ms() + 500)
        live = live_sends(replay[-1].due_ms + 2_000)
        posted = send_all(ingest, [*replay, *live])
        # The replay went out with its pause, and ended before the live traffic began.
        went = [p.before_ms for p in posted if p.send.scenario == "replay"]
        assert max(b - a for a, b in itertools.pairwise(went)) >= 10_000
        last_replay = max(p.after_ms for p in posted if p.send.scenario == "replay")
        assert last_replay < min(p.before_ms for p in posted if p.send.scenario != "replay")

        with EventLog(data_dir / "events.sqlite") as log:
            entries = log.read(after=0, limit=1_000_000)
        log_records = [orjson.loads(e.data) for e in entries]
        # Stored pseudonymised, with the key ingest made in the data directory on first run.
        key = (data_dir / "pseudonym.key").read_bytes().strip()
        records = expected_records(posted, log_records, key)
        truth = compute_truth(
            records, window_s=WINDOW_S, top_n_channels=TOP_N_CHANNELS, view_timeout_s=VIEW_TIMEOUT_S
        )

        # Positions are not counts: a skipped copy may leave a gap in them.
        wait_every_store(
            data_dir,
            dashboard,
            search,
            events=len(records),
            last_position=entries[-1].position,
            last_window=truth["windows"][-1]["window_start"],
            window_ms=WINDOW_MS,
            deadline=time.monotonic() + 240,
        )
        yield Run(data_dir, dashboard, search, posted, log_records, records, truth)
    finally:
        stack.stop()
    assert stack.process.returncode == 0, stack.output()
    assert processes_using(data_dir) == [], "a component of the stack is still running"


# -- what ingest stored ------------------------------------------------------------------------


def test_ingest_stored_what_each_scenario_should_leave(run: Run) -> None:
    """The scenarios did reach ingest as meant (the comparison of every record with the rules is
    in the fixture): the copies are gone, the twin legacy records both kept, the clocks
    corrected, the hour-ahead event clamped, and no stored time ahead of its receive time."""
    sent = Counter(p.send.scenario for p in run.posted)
    assert sent.keys() == set(SCENARIOS)
    stored: dict[str, list[Record]] = defaultdict(list)
    for r in run.records:
        stored[r["channel_watched"]].append(r)
    assert {channel(s) for s in SCENARIOS} == stored.keys()
    sources = {c: Counter(r["event_time_source"] for r in rs) for c, rs in stored.items()}
    assert sources[channel("clock-ahead")] == {"corrected": len(stored[channel("clock-ahead")])}
    assert sources[channel("clock-behind")] == {"corrected": len(stored[channel("clock-behind")])}
    assert sources[channel("hour-ahead")]["clamped"] == 2
    assert all(r["event_time"] <= r["received_at"] for r in run.records)
    # Every event of the twice-sent requests once; the legacy pair's twins twice.
    twice = [p.send for p in run.posted if p.send.scenario == "twice"]
    assert len(stored[channel("twice")]) * 2 == sum(len(s.events) for s in twice)
    pair = stored[channel("legacy-pair")]
    ids = {r["event_id"] for r in pair}
    assert len(ids) == len(pair)
    contents = Counter(
        (r["session_id"], r["metric_type"], r["event_time"], r["playing_time_ms"])
        for r in pair
        if r["metric_type"] == "PLAYBACK_SUMMARY"
    )
    assert sorted(contents.values()).count(2) == 4
    # ATTEMPT-only sessions and fatal errors without phase are there as sent.
    attempts_only = Counter(r["session_id"] for r in stored[channel("attempt-only")])
    assert sum(1 for n in attempts_only.values() if n == 1) == 6
    fatal = [r for r in stored[channel("fatal-no-phase")] if r["metric_type"] == "ERROR"]
    assert len(fatal) == 7 and all(r["fatal"] and "phase" not in r for r in fatal)


def test_no_record_was_late_and_every_window_is_final(run: Run) -> None:
    store = sqlite3.connect(f"file:{run.data_dir / 'metrics.sqlite'}?mode=ro", uri=True)
    try:
        late = store.execute(
            "SELECT count(*) FROM metric_rows WHERE metric = ?", (LATE_EVENTS,)
        ).fetchone()
        still_open = store.execute("SELECT count(*) FROM metric_rows WHERE final = 0").fetchone()
    finally:
        store.close()
    assert late == (0,), "a scenario's record reached the engine late"
    assert still_open == (0,)


# -- every engine against the oracle ------------------------------------------------------------


def test_every_realtime_window_of_every_group_is_the_oracle_s(run: Run) -> None:
    """Every catalogue KPI, every window, as the aggregate and by platform and by channel (one
    channel per scenario)."""
    assert check_realtime_windows(run.dashboard, run.truth["windows"], WINDOW_MS) > 1000


def test_the_lake_queries_are_the_oracle_s(run: Run) -> None:
    check_lake_queries(run.dashboard, run.records, VIEW_TIMEOUT_S, run.truth["run"]["all"][""])


def test_the_search_panels_are_the_oracle_s(run: Run) -> None:
    if run.search is None:
        pytest.skip(f"no search node here: {search_node.available()}")
    checked = check_search_panels(
        run.search, run.truth["windows"], run.records, WINDOW_S, platforms=(None, "web", "other")
    )
    assert checked.keys() == {"line", "vega", "percentile"} and min(checked.values()) >= 10, checked
