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


def test_a_record_after_its_view_closed_starts_a_new_one() -> None:
    """As in Flink's session windows: a record behind the watermark whose window is still open
    does not reopen a closed view."""
    rules = ViewRules(timeout_ms=10_000)
    engine = WindowEngine(WindowConfig(window_s=60, allowed_lateness_s=5, views=rules))
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
