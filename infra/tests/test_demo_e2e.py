"""End to end: simulator → ingest → event log → realtime + lake (+ search) → dashboard JSON APIs,
every number checked against the simulator's ground truth.

`qos up` runs as a subprocess over a fresh data directory (free ports, 5 s windows; search on
when `qos_search_node.available()` says a node can run here, which CI must satisfy).
The simulator runs as a library (`simulate`) against the stack's ingest with a fixed seed.

Why the truth is exact for the realtime engine: the run is a *backfill placed just ahead of the
wall clock*. Its event times start `LEAD_S` after now and are compressed `SPEED` times (5
simulated minutes of 80 viewers in 50 s of event time: ten 5 s windows, a few hundred events),
and the simulator's clock is set past the run's end, so every event is sent at once in
event-time waves of 1 s (docs/simulator.md, Time). Then:

- no event is late by event time: a wave is sent only after the one before it is answered, so
  nothing reaches ingest more than a wave (1 s) behind a later event, well within the engine's
  allowed lateness (5 s);
- no event is late by wall time either: the engine's idle watermark (now - 5 s, used when no
  record came for 5 s) stays behind the run's first window until the run is all sent, so a
  pause in the sending (a loaded machine) cannot close a window early, as it could for a
  backfill of the past;
- ingest keeps the event times (it clamps only those more than 5 minutes ahead).

The windows then close on the engine's idle watermark, about 10 s after the run's end; the test
waits until every consumer of the event log has caught up and the store has no open window, and
checks that no record was counted late.

Tolerances: the realtime engine and the lake compute the catalogue's SQL exactly, percentiles by
linear interpolation (docs/adr/0005-realtime-windows.md: "Exact distinct counts and percentiles
… no sketch and no error bound"), as the oracle behind the truth does (docs/simulator.md,
Ground truth): every value, percentiles included, must equal the truth to float rounding
(relative 1e-9). OpenSearch's percentiles are t-digest estimates: as in the search indexer's
panel tests (services/search-indexer/README.md), an estimate must fall within one rank either
side of the two ranks the exact value interpolates between; its counts, sums, distinct counts
(exact below `precision_threshold`) and ratios must match to float rounding.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from qos_up_support import (
    SPLITS,
    Stack,
    check_lake_queries,
    check_realtime_windows,
    check_search_panels,
    close,
    get_json,
    post_json,
    processes_using,
    search_wanted,
    start_qos,
    utc_day,
    wait_caught_up,
    wait_views_consumed,
)

import qos_search_node as search_node
from qos_infra.dashboard.app import TILES
from qos_infra.simulator import SimulationConfig, SimulationResult, simulate
from qos_infra.simulator.truth import stored_records
from qos_realtime.api import SEALED_UNTIL, MetricReader
from qos_search_indexer.api import INDEX_PATTERN, VIEWS_INDEX_PATTERN
from qos_shared.catalogue import BY_NAME, LATE_EVENTS
from qos_shared.eventlog import EventLog
from qos_shared.testing.oracle import Record

WINDOW_S = 5
WINDOW_MS = WINDOW_S * 1000
VIEWERS = 80
MINUTES = 5.0
SPEED = 6.0  # 5 simulated minutes in 50 s of event time
SEED = 20261128
LEAD_S = 10  # the run starts this far ahead of the wall clock
# Views close this long after their last event: above the compressed summary interval (60 s of
# simulated time, 10 s of event time), and short, so the run's last views close soon after it.
VIEW_TIMEOUT_S = 20
# Views reach the views log (the lake's and search's) once their window is this far behind the
# watermark: short, so that the run's last views get there soon after it.
REVISION_HORIZON_S = 10


# -- the stack ---------------------------------------------------------------------------------


class AheadClock:
    """The system clock moved `offset_s` ahead: the simulator takes every event as already
    due and sends the run at once, in event-time waves."""

    def __init__(self, offset_s: float) -> None:
        self.offset_s = offset_s

    def time(self) -> float:
        return time.time() + self.offset_s

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# -- the run -----------------------------------------------------------------------------------


@dataclass
class Run:
    data_dir: Path
    dashboard: str
    search: str | None
    result: SimulationResult
    truth: dict[str, Any]
    records: list[Record]  # the stored records the truth was computed from


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    data_dir = tmp_path_factory.mktemp("demo-e2e") / "data"
    with_search = search_wanted()
    argv = ["up", "--data-dir", str(data_dir), "--port", "0", "--dashboard-port", "0"]
    argv += ["--window-s", str(WINDOW_S), "--view-timeout-s", str(VIEW_TIMEOUT_S)]
    argv += ["--revision-horizon-s", str(REVISION_HORIZON_S)]
    argv += ["--search-port", "0"] if with_search else ["--no-search"]
    stack = Stack(start_qos(argv))
    try:
        # The first start of the search node builds its launcher with Maven: be patient.
        stack.wait_for(r"qos: press Ctrl-C to stop", 900 if with_search else 120)
        ingest = stack.url("ingest")
        dashboard = stack.url("dashboard")
        search = stack.url("opensearch") if with_search else None

        now_ms = int(time.time() * 1000)
        config = SimulationConfig(
            start_ms=now_ms + LEAD_S * 1000,
            viewers=VIEWERS,
            minutes=MINUTES,
            seed=SEED,
            speed=SPEED,
            window_s=WINDOW_S,
            view_timeout_s=VIEW_TIMEOUT_S,
            ivs_events=True,  # the live channels' streams, through ingest's /eventbridge
        )
        ahead_s = (config.end_ms - now_ms) / 1000 + 1
        result = simulate(
            config,
            ingest,
            clock=AheadClock(ahead_s),
            truth_path=data_dir / "simulator" / "e2e.truth.json",
        )
        assert result.delivery is not None and result.complete, result.delivery
        assert max(e["event_time"] for e in result.simulation.events()) < now_ms + 5 * 60_000
        truth = orjson.loads((data_dir / "simulator" / "e2e.truth.json").read_bytes())

        consumers = ["realtime", "lake", *(["search-indexer"] if with_search else [])]
        # Windows close on the idle watermark once the wall clock is past the run's end.
        deadline = time.monotonic() + (config.end_ms - now_ms) / 1000 + 180
        wait_caught_up(data_dir, result.simulation.event_count, consumers, deadline)
        while get_json(dashboard, "/api/health")["lake"]["committed_through"] < (
            result.simulation.event_count
        ):
            assert time.monotonic() < deadline, "the lake committed too little"
            time.sleep(0.5)
        # The truth's last window (where the last views count) final in the store.
        # ... and past the revision horizon (sealed), so its views are in the views log.
        reader = MetricReader(data_dir / "metrics.sqlite")
        last_end = truth["windows"][-1]["window_start"] + WINDOW_S * 1000
        try:
            while not (
                reader.is_final(truth["windows"][-1]["window_start"])
                and reader.state(SEALED_UNTIL) >= last_end
            ):
                assert time.monotonic() < deadline, "the realtime engine closed too little"
                time.sleep(0.5)
        finally:
            reader.close()
        # Every closed view is in the views log by now: the lake and search have them all.
        views = wait_views_consumed(data_dir, consumers[1:], deadline)
        if search is not None:
            post_json(search, f"/{INDEX_PATTERN}/_refresh", {})
            count = get_json(search, f"/{INDEX_PATTERN}/_count")["count"]
            assert count == result.simulation.event_count
            # The views the realtime engine closed, indexed from its views log.
            post_json(search, f"/{VIEWS_INDEX_PATTERN}/_refresh", {})
            assert get_json(search, f"/{VIEWS_INDEX_PATTERN}/_count")["count"] == views > 0
        yield Run(data_dir, dashboard, search, result, truth, stored_records(result.simulation))
    finally:
        stack.stop()
    assert stack.process.returncode == 0, stack.output()
    assert "qos: stopped" in stack.output()
    assert processes_using(data_dir) == [], "a component of the stack is still running"


# -- the checks --------------------------------------------------------------------------------


def test_the_log_holds_each_event_once_and_no_window_counted_one_late(run: Run) -> None:
    truth = run.truth
    assert truth["event_count"] == run.result.simulation.event_count == len(run.records)
    assert truth["delivery"]["accepted"] == truth["event_count"]
    with EventLog(run.data_dir / "events.sqlite") as log:
        assert log.count() == truth["event_count"]
    store = sqlite3.connect(f"file:{run.data_dir / 'metrics.sqlite'}?mode=ro", uri=True)
    try:
        late = store.execute(
            "SELECT count(*) FROM metric_rows WHERE metric = ?", (LATE_EVENTS,)
        ).fetchone()
        still_open = store.execute("SELECT count(*) FROM metric_rows WHERE final = 0").fetchone()
    finally:
        store.close()
    assert late == (0,), "the run was meant to reach the engine with no late record"
    assert still_open == (0,)
    assert len(truth["windows"]) >= 10


def test_every_realtime_window_of_every_group_is_the_truth(run: Run) -> None:
    """/api/realtime, every catalogue KPI (the tiles' and the rest), every window, as the
    aggregate and split by platform and by channel: the truth's per-window KPIs exactly."""
    assert check_realtime_windows(run.dashboard, run.truth["windows"], WINDOW_MS) > 2000


def test_the_tiles_summary_is_the_last_window_of_the_truth(run: Run) -> None:
    """/api/realtime/summary (what the tiles show): the newest closed window, for everyone and
    for each platform and channel, every KPI."""
    last = run.truth["windows"][-1]
    filters = [("", None, None)]
    # Platform "" holds the IVS stream records (they have none): no platform filter selects it.
    platforms = sorted(p for p in run.truth["kpis"]["client_platform"] if p)
    filters += [("platform", p, None) for p in platforms]
    filters += [("channel", None, c) for c in sorted(run.truth["kpis"]["channel_watched"])]
    for kind, platform, channel in filters:
        summary = get_json(
            run.dashboard, "/api/realtime/summary", platform=platform, channel=channel
        )
        assert summary["window"] == {
            "start": last["window_start"],
            "end": last["window_end"],
            "final": True,
            "revision": 0,  # the simulator's records come in time
        }
        dimension = SPLITS[kind] if kind else "all"
        value = platform or channel or ""
        kpis = last["groups"][dimension].get(value)
        if kpis is None:  # no record of this group in the last window
            assert summary["empty"] and summary["values"] == {}
            continue
        # A share without any part in the window (one of view records only) has no row.
        shown = {n for n, m in BY_NAME.items() if m.kind != "share" or kpis[n]}
        assert set(TILES) <= summary["values"].keys() == shown
        for name, got in summary["values"].items():
            if BY_NAME[name].kind == "share":
                assert got.keys() == kpis[name].keys(), name
                assert all(close(got[k], kpis[name][k]) for k in got), name
            else:
                assert close(got, kpis[name]), (value, name, got, kpis[name])


def test_the_lake_panels_are_the_truth(run: Run) -> None:
    """/api/lake/<query> of the dashboard's lake panels (and the KPI table by platform and by
    channel), over the run's UTC days: each row's metric columns are the oracle's over the
    truth's records of that group, rows in the query's order; the run's day (nearly always one)
    has the truth file's own whole-run KPIs."""
    check_lake_queries(run.dashboard, run.records, VIEW_TIMEOUT_S, run.truth["kpis"]["all"][""])


def test_the_sessions_are_the_truth(run: Run) -> None:
    """/api/sessions over the run, and one session's timeline."""
    truth_sessions = {s["session_id"]: s for s in run.truth["sessions"]}
    key = (run.data_dir / "pseudonym.key").read_bytes().strip()
    by_session: dict[str, list[Record]] = defaultdict(list)
    for r in run.records:
        if r["session_id"] in truth_sessions:  # viewers' sessions: not the IVS streams
            by_session[r["session_id"]].append(r)
    windows = run.truth["windows"]
    reply = get_json(
        run.dashboard,
        "/api/sessions",
        **{"from": windows[0]["window_start"]},
        to=windows[-1]["window_end"],
        limit=1000,
    )
    assert reply["total"] == len(truth_sessions) == len(reply["sessions"])
    for session in reply["sessions"]:
        records = by_session[session["session_id"]]
        kinds = [r["metric_type"] for r in records]
        assert session["events"] == len(records)
        assert session["played"] == ("PLAY" in kinds)
        assert session["ended"] == ("STOP" in kinds)
        assert session["errors"] == kinds.count("ERROR")
        assert session["fatal_error"] == any(r.get("fatal") is True for r in records)
        generated = truth_sessions[session["session_id"]]
        for name in ("client_platform", "channel_watched"):
            assert session[name] == generated[name], name
        # Stored pseudonymised, with the key ingest made in the data directory on first run.
        assert (
            session["user_id"]
            == hmac.new(key, generated["user_id"].encode(), hashlib.sha256).hexdigest()[:32]
        )
    busiest = max(by_session, key=lambda s: len(by_session[s]))
    timeline = get_json(run.dashboard, f"/api/sessions/{busiest}")
    expected = sorted(by_session[busiest], key=lambda r: (r["event_time"], r["event_id"]))
    assert [e["event_id"] for e in timeline["events"]] == [r["event_id"] for r in expected]


STREAM_KPIS = ("live_channels", "stream_starts", "stream_ends", "starvations")


def test_the_channels_streams_went_through_eventbridge_and_their_kpis_are_everywhere(
    run: Run,
) -> None:
    """The live channels' IVS stream events: each stored once from /eventbridge as the contract
    says, their KPIs non-zero in the truth (so the checks above compared real numbers) and the
    same in the realtime store, the dashboard's tiles and the lake's KPI table."""
    sent = run.result.simulation.channel_events
    assert sent and {c.event["detail"]["event_name"] for c in sent} >= {
        "Stream Start",
        "Stream End",
        "Stream Starvation Start",
    }
    with EventLog(run.data_dir / "events.sqlite") as log:
        stored = [orjson.loads(e.data) for e in log.read(after=0, limit=1_000_000)]
    streams = [r for r in stored if r["metric_type"] in ("STREAM_STATE", "STREAM_HEALTH")]
    assert len(streams) == len(sent) == len({r["event_id"] for r in streams})
    assert {r["source_format"] for r in streams} == {"eventbridge"}
    live_channels = {s["channel_watched"] for s in run.truth["sessions"] if s["is_live"]}
    assert {r["channel_watched"] for r in streams} == live_channels
    whole = run.truth["kpis"]["all"][""]
    assert whole["stream_starts"] == whole["stream_ends"] == len(live_channels)
    assert whole["starvations"] >= len(live_channels)
    assert whole["live_channels"] == len(live_channels)
    # Per window, the realtime store's values are the truth's (all windows, everyone).
    windows = run.truth["windows"]
    layout = get_json(run.dashboard, "/api/layout")
    assert set(STREAM_KPIS) <= {tile["name"] for tile in layout["tiles"]}
    for name in STREAM_KPIS:
        reply = get_json(
            run.dashboard,
            "/api/realtime",
            metric=name,
            by="all",
            **{"from": windows[0]["window_start"]},
            to=windows[-1]["window_end"],
        )
        got = {p["window_start"]: p["value"] for s in reply["series"] for p in s["points"]}
        expected = {w["window_start"]: w["groups"]["all"][""][name] for w in windows}
        assert sum(expected.values()) > 0, name
        assert all(close(got.get(ws, 0.0), v) for ws, v in expected.items()), name
    # The lake's whole-run table (the run is in one UTC day nearly always).
    days = sorted({utc_day(r["event_time"]) for r in run.records})
    if len(days) == 1:
        (row,) = get_json(run.dashboard, "/api/lake/kpis", **{"from": days[0]}, to=days[0])["rows"]
        for name in STREAM_KPIS:
            assert close(row[name], whole[name]), name


def test_the_search_panels_are_the_truth(run: Run) -> None:
    """Every catalogue KPI's OpenSearch panel (standard and Vega; the rendition pie aside) over
    the run in 5 s buckets, for everyone and filtered to one platform: the truth's windows."""
    if run.search is None:
        pytest.skip(f"no search node here: {search_node.available()}")
    checked = check_search_panels(run.search, run.truth["windows"], run.records, WINDOW_S)
    assert min(checked.values()) >= 20 and checked.keys() == {"line", "vega", "percentile"}, checked
