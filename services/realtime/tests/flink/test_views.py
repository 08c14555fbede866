"""The Flink job's views on the local mini-cluster: its views sink against the hand-written oracle
(`qos_shared.testing.views_oracle`) field by field, and where its session windows put a view's
record in the cascaded tumbling windows (the view metrics of every window and group are checked
with the others in `test_parity`).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from qos_realtime.domain.records import parse_row
from qos_realtime.domain.rows import MetricRow
from qos_shared.testing.sessions import PAUSE_MS
from qos_shared.testing.views_oracle import views
from qos_shared.views import DEFAULT_RULES, VIEW_FIELDS

from .conftest import read_parts, run_job
from .events import BASE_MS, WINDOW_S, Record

pytestmark = pytest.mark.flink

WINDOW_MS = WINDOW_S * 1000
TIMEOUT_MS = DEFAULT_RULES.timeout_ms


def test_the_golden_data_has_what_the_views_need(records: list[Record]) -> None:
    expected = views(records)
    assert {v["outcome"] for v in expected} == {
        "played",
        "abandoned",
        "exit_before_start",
        "start_failure",
        "playback_failure",
    }
    alone = [v for v in expected if v["records"] == 1 and v["attempt_time"] is not None]
    assert alone, "sessions whose only record is their ATTEMPT"
    assert any(r["metric_type"] == "ERROR" and r.get("fatal") and "phase" not in r for r in records)
    per_session = Counter(v["session_id"] for v in expected)
    assert any(n == 2 for n in per_session.values()), "a pause that splits a view"
    assert PAUSE_MS > TIMEOUT_MS
    without_stop = [v for v in expected if v["outcome"] == "abandoned"]
    assert without_stop, "sessions whose STOP was lost"


def same(got: Any, want: Any) -> bool:
    if isinstance(want, float) or isinstance(got, float):
        return got is not None and want is not None and math.isclose(got, want, rel_tol=1e-9)
    return bool(got == want) and type(got) is type(want)


def test_the_views_sink_holds_the_oracle_views_field_by_field(
    records: list[Record], job_views: list[dict[str, Any]]
) -> None:
    want = {v["view_id"]: v for v in views(records)}
    got = {v["view_id"]: v for v in job_views}
    assert len(got) == len(job_views), "a view written twice"
    assert set(got) == set(want)
    for view in job_views:
        assert list(view) == list(VIEW_FIELDS)
    wrong = [
        (view_id, field, got[view_id][field], value)
        for view_id, expected in want.items()
        for field, value in expected.items()
        if not same(got[view_id][field], value)
    ]
    assert not wrong, f"{len(wrong)} fields differ, e.g. {wrong[:5]}"


# --- where a view counts -----------------------------------------------------------------------


def attempt(session: str, t: int) -> Record:
    return {
        "metric_type": "ATTEMPT",
        "event_id": f"{session}-{t}",
        "session_id": session,
        "event_time": t,
        "client_platform": "web",
        "channel_watched": "news",
        "is_live": False,
    }


# A view closes `timeout` after its last record, at `last + timeout - 1`: the first session's
# view closes on the last millisecond of a window, the second's on the first of the next (so a
# window_time off by one either way moves one of them); the third's two records are exactly
# `timeout` apart; a record an hour later moves the watermark past every view's close and every
# window's end in one step.
EDGE = (BASE_MS // WINDOW_MS + 10) * WINDOW_MS  # a window's start
EDGE_RECORDS: list[Record] = [  # in event time: none is late
    attempt("touching", BASE_MS),
    attempt("last-ms", EDGE - TIMEOUT_MS),
    attempt("first-ms", EDGE - TIMEOUT_MS + 1),
    attempt("touching", BASE_MS + TIMEOUT_MS),
    attempt("after-an-hour", BASE_MS + 3_600_000),
]


@pytest.fixture(scope="module")
def edge_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("edges")
    run_job(EDGE_RECORDS, work)
    return work


def views_per_window(work: Path) -> dict[int, float | None]:
    rows = [parse_row(line) for line in read_parts(work / "rows")]
    return {
        r.window_start: r.value
        for r in rows
        if isinstance(r, MetricRow) and r.metric == "views" and r.dimension == "all"
    }


def test_a_view_counts_in_the_window_holding_its_close_time(edge_work: Path) -> None:
    counts = {w: v for w, v in views_per_window(edge_work).items() if v}
    written = {v["session_id"]: v for v in map(_json, read_parts(edge_work / "views"))}
    assert written["last-ms"]["event_time"] == EDGE - 1
    assert written["first-ms"]["event_time"] == EDGE
    assert counts[EDGE - WINDOW_MS] == 1
    assert counts[EDGE] == 1
    hour = BASE_MS + 3_600_000 + TIMEOUT_MS - 1
    assert counts[hour - hour % WINDOW_MS] == 1


def test_no_view_is_dropped_when_the_watermark_jumps(edge_work: Path) -> None:
    """The session windows emit a view before the watermark that closed it goes on, so the
    tumbling window after them has not closed yet: every view counts."""
    written = [_json(line) for line in read_parts(edge_work / "views")]
    total = sum(v or 0 for v in views_per_window(edge_work).values())
    assert total == len(written) == 4


def test_records_exactly_a_timeout_apart_make_one_view_in_flink(edge_work: Path) -> None:
    """Flink's session windows merge windows that touch: a record exactly `timeout` after the
    last one joins its view, where the definition (and the oracle) starts a new one. The only
    difference, at one millisecond; this test says when Flink changes it."""
    written = [_json(line) for line in read_parts(edge_work / "views")]
    touching = [v for v in written if v["session_id"] == "touching"]
    assert len(touching) == 1 and touching[0]["records"] == 2
    assert len([v for v in views(EDGE_RECORDS) if v["session_id"] == "touching"]) == 2


def _json(line: str) -> dict[str, Any]:
    import json

    value: dict[str, Any] = json.loads(line)
    return value
