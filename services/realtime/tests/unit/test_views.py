"""Views in the local engine: every view KPI of every window and group, and every field of every
view's record, against the hand-written oracle (`qos_shared.testing.views_oracle`), on sessions
that lose their last beacons, send only ATTEMPT, report fatal errors without a phase and pause
long enough to split; in one batch and streamed in small batches behind a watermark."""

from __future__ import annotations

import math
import random
from typing import Any

import orjson
import pytest

from qos_realtime.adapters.window_engine import WindowEngine, compute_rows
from qos_realtime.domain.windows import WindowConfig
from qos_shared.testing.sessions import as_clients_lose_them
from qos_shared.testing.views_oracle import views
from qos_shared.views import ViewRules

from ..golden import expected_rows, generate
from .test_golden import close

Record = dict[str, Any]


def messy(seed: int = 5) -> list[Record]:
    """Golden sessions as clients lose them (`as_clients_lose_them`)."""
    records = generate(seed=seed, sessions=160, span_s=300, channels=5)
    return as_clients_lose_them(records, random.Random(seed))


def test_the_messy_data_has_what_the_tests_need() -> None:
    outcomes = {v["outcome"] for v in views(messy())}
    assert outcomes == {
        "played",
        "abandoned",
        "exit_before_start",
        "start_failure",
        "playback_failure",
    }
    records = messy()
    assert any(r["metric_type"] == "ERROR" and r.get("fatal") and "phase" not in r for r in records)
    alone = [v for v in views(records) if v["records"] == 1 and v["attempt_time"] is not None]
    assert alone, "sessions whose only record is their ATTEMPT"


def compare(rows: dict[Any, float | None], expected: dict[Any, float | None]) -> None:
    assert set(rows) == set(expected)
    wrong = {k: (rows[k], expected[k]) for k in expected if not close(rows[k], expected[k])}
    assert not wrong, f"{len(wrong)} of {len(expected)} differ, e.g. {list(wrong.items())[:5]}"


@pytest.mark.parametrize("window_s", [60, 10])
def test_every_kpi_on_messy_sessions_in_one_batch(window_s: int) -> None:
    records = messy()
    rows = compute_rows(records, window_s=window_s, top_n=3)
    compare({r.key(): r.value for r in rows}, expected_rows(records, window_s=window_s, top_n=3))


def same_view(got: Record, want: Record) -> bool:
    for field, value in want.items():
        mine = got[field]
        if isinstance(value, float) or isinstance(mine, float):
            if not close(mine, value):
                return False
        elif mine != value:
            return False
    return True


def test_streamed_in_small_batches_behind_the_watermark() -> None:
    """Out of order by less than the allowed lateness, 50 records a batch; views close as the
    watermark passes them, before the windows at that watermark; the rest at the end."""
    records = messy(seed=9)
    rng = random.Random(1)
    arrival = sorted(records, key=lambda r: r["event_time"] + rng.randrange(4_000))
    engine = WindowEngine(WindowConfig(window_s=10, allowed_lateness_s=5, top_n_channels=3))
    rows = []
    closed: list[Record] = []
    for i in range(0, len(arrival), 50):
        result = engine.add([orjson.dumps(r) for r in arrival[i : i + 50]])
        assert not result.late
        watermark = engine.watermark()
        engine.close_views(watermark)
        due = engine.due_windows(watermark)
        rows += engine.rows(due, final=True)
        engine.close(due)
        closed += engine.take_closed_views()
    assert closed, "views closed while the stream ran"
    assert engine.views.open_count() > 0
    engine.close_views(None, end_of_input=True)
    windows = engine.open_windows()
    rows += engine.rows(windows, final=True)
    closed += engine.take_closed_views()

    compare({r.key(): r.value for r in rows}, expected_rows(records, window_s=10, top_n=3))
    want = {v["view_id"]: v for v in views(records)}
    got = {v["view_id"]: v for v in closed}
    assert set(got) == set(want)
    assert all(same_view(got[k], want[k]) for k in want)


def test_without_a_revision_horizon_a_record_after_its_view_closed_starts_a_new_one() -> None:
    """As in Flink's session windows: a record behind the watermark whose window is still open
    does not reopen a closed view."""
    rules = ViewRules(timeout_ms=10_000)
    config = WindowConfig(window_s=60, allowed_lateness_s=5, views=rules, revision_horizon_s=0)
    engine = WindowEngine(config)
    base = 1_800_000_000_000
    attempt = {"metric_type": "ATTEMPT", "session_id": "s", "event_id": "a", "event_time": base}
    engine.add([orjson.dumps(attempt)])
    others = [dict(attempt, session_id=s, event_id=s, event_time=base + 20_000) for s in ("t", "u")]
    engine.add([orjson.dumps(r) for r in others])
    engine.close_views(engine.watermark())  # 15 s: the view of s (closes at 9.999 s) closes
    (first,) = engine.take_closed_views()
    assert first["session_id"] == "s" and first["outcome"] == "exit_before_start"
    play = dict(attempt, metric_type="PLAY", event_id="c", event_time=base + 5_000)
    engine.add([orjson.dumps(dict(play, startup_latency_ms=5_000))])
    engine.close_views(None, end_of_input=True)
    later = [v for v in engine.take_closed_views() if v["session_id"] == "s"]
    assert [v["view_start"] for v in later] == [base + 5_000]
    assert math.isclose(later[0]["score_startup"], 100 * 8 / 13)


@pytest.mark.parametrize("seed", [9, 10])
def test_records_within_the_revision_horizon_revise_windows_and_reopen_views(seed: int) -> None:
    """One record in ten arrives 10 s to 4 min after its time: far behind the 5 s lateness and
    often after its view closed (timeout 30 s), but within the 10-minute horizon. The closed
    windows are revised and the views reopened: the last revision of every window, and every
    view as it last closed, equal the oracle over every record; nothing is late."""
    records = messy(seed=seed)
    rng = random.Random(seed)
    delays = [
        rng.randrange(4_000) if rng.random() < 0.9 else rng.randrange(10_000, 240_000)
        for _ in records
    ]
    arrival = [
        r
        for _, r in sorted(
            zip(delays, records, strict=True), key=lambda p: p[1]["event_time"] + p[0]
        )
    ]
    rules = ViewRules(timeout_ms=30_000)
    config = WindowConfig(window_s=10, allowed_lateness_s=5, top_n_channels=3, views=rules)
    engine = WindowEngine(config)
    final: dict[int, list[Any]] = {}  # window -> its last rows
    closed: dict[str, Record] = {}
    revised = reopened = 0
    for i in range(0, len(arrival), 50):
        result = engine.add([orjson.dumps(r) for r in arrival[i : i + 50]])
        assert not result.late
        watermark = engine.watermark()
        engine.close_views(watermark)
        due = engine.due_windows(watermark)
        revising = engine.take_revising()
        revised += len(revising)
        for window in sorted({*due, *revising}):
            final[window] = engine.rows([window], final=True)
        engine.close(due)
        engine.seal(watermark)
        gone = engine.take_retracted_views()
        reopened += len(gone)
        for view_id in gone:
            del closed[view_id]
        closed |= {v["view_id"]: v for v in engine.take_closed_views()}
    engine.close_views(None, end_of_input=True)
    for window in engine.open_windows() + sorted(engine.take_revising()):
        final[window] = engine.rows([window], final=True)
    closed |= {v["view_id"]: v for v in engine.take_closed_views()}
    assert revised > 5 and reopened > 5, (revised, reopened)

    rows = [row for window_rows in final.values() for row in window_rows]
    expected = expected_rows(records, window_s=10, top_n=3, view_timeout_ms=30_000)
    compare({r.key(): r.value for r in rows}, expected)
    want = {v["view_id"]: v for v in views(records, timeout_ms=30_000)}
    assert set(closed) == set(want)
    assert all(same_view(closed[k], want[k]) for k in want)


def bursts(rng: random.Random, sessions: int, base: int, timeout_ms: int) -> list[Record]:
    """Sessions of bursts of records, the bursts apart by less or more than the timeout (often
    by just under two: a record between them, arriving last, joins both)."""
    kinds = ["PLAYBACK_SUMMARY"] * 4 + ["PLAY", "ATTEMPT", "STOP", "ERROR"]
    out: list[Record] = []
    for s in range(sessions):
        t = base + rng.randrange(60_000)
        for _ in range(rng.randrange(1, 5)):
            for _ in range(rng.randrange(1, 4)):
                kind = rng.choice(kinds)
                record: Record = {
                    "metric_type": kind,
                    "session_id": f"s{s}",
                    "event_id": f"e{len(out)}",
                    "client_platform": rng.choice(["web", "ios"]),
                    "channel_watched": f"ch{rng.randrange(3)}",
                    "is_live": rng.random() < 0.5,
                    "source_format": "v1",
                    "event_time": t,
                }
                if kind == "PLAYBACK_SUMMARY":
                    record |= {
                        "playing_time_ms": rng.randrange(1_000, 10_000),
                        "buffering_time_ms": rng.choice([0, 500]),
                        "buffering_count": rng.choice([0, 1]),
                        "bitrate_bps": rng.choice([None, 2_000_000]),
                    }
                elif kind == "PLAY":
                    record["startup_latency_ms"] = rng.randrange(200, 3_000)
                elif kind == "ERROR":
                    record["fatal"] = rng.random() < 0.5
                out.append(record)
                t += rng.randrange(0, 3_000)
            t += rng.choice([timeout_ms // 2, timeout_ms + 1_000, 2 * timeout_ms - 2_000])
    return out


@pytest.mark.parametrize("batch", [3, 40])
def test_open_views_of_one_session_side_by_side_and_joined_by_a_late_record(batch: int) -> None:
    """A long allowed lateness keeps several views of a session open at once; records out of
    order (by less than the lateness) fall between them, and one record can join two of them
    into one view; batches span less and more than the timeout; views are cut at `max_length`.
    Every view's record equals the oracle's."""
    timeout = 10_000
    rules = ViewRules(timeout_ms=timeout, max_length_ms=40_000)
    rng = random.Random(batch)
    records = bursts(rng, 60, 1_800_000_000_000, timeout)
    arrival = sorted(records, key=lambda r: r["event_time"] + rng.randrange(25_000))
    engine = WindowEngine(WindowConfig(window_s=60, allowed_lateness_s=30, views=rules))
    closed: list[Record] = []
    open_at_once = 0
    for i in range(0, len(arrival), batch):
        result = engine.add([orjson.dumps(r) for r in arrival[i : i + batch]])
        assert not result.late
        sessions = engine.views.snapshot()
        open_at_once = max(open_at_once, len(sessions) - len({(s[0], s[1]) for s in sessions}))
        engine.close_views(engine.watermark())
        closed += engine.take_closed_views()
    engine.close_views(None, end_of_input=True)
    closed += engine.take_closed_views()

    want = {v["view_id"]: v for v in views(records, timeout_ms=timeout, max_length_ms=40_000)}
    got = {v["view_id"]: v for v in closed}
    assert open_at_once > 0, "two open views of one session at once"
    assert len(got) == len(closed) and set(got) == set(want)
    assert all(same_view(got[k], want[k]) for k in want)


def test_closed_views_count_in_their_windows_as_their_records_read_back_would() -> None:
    """`close_views` loads the closed views into their windows from DuckDB directly; the same
    records given as JSON (as views restored from the store are loaded) make the same rows, to
    the last bit."""
    records = messy(seed=3)
    rng = random.Random(2)
    arrival = sorted(records, key=lambda r: r["event_time"] + rng.randrange(4_000))
    config = WindowConfig(window_s=10, allowed_lateness_s=5, top_n_channels=3)
    direct, as_json = WindowEngine(config), WindowEngine(config)
    rows: dict[str, list[Any]] = {"direct": [], "json": []}
    loaded = 0

    def step(watermark: int | None, *, end: bool = False) -> None:
        nonlocal loaded
        direct.close_views(watermark, end_of_input=end)
        closed = as_json.views.close(None if end else watermark)
        if closed:
            as_json.load_view_records(closed)
            loaded += len(closed)
        assert direct.take_closed_views() == closed
        for name, engine in (("direct", direct), ("json", as_json)):
            windows = engine.open_windows() if end else engine.due_windows(watermark)
            rows[name] += engine.rows(windows, final=True)
            engine.close(windows)

    for i in range(0, len(arrival), 50):
        for engine in (direct, as_json):
            engine.add([orjson.dumps(r) for r in arrival[i : i + 50]])
        assert direct.watermark() == as_json.watermark()
        step(direct.watermark())
    step(None, end=True)
    assert loaded > 0 and rows["direct"]
    assert sorted(rows["direct"], key=repr) == sorted(rows["json"], key=repr)
