"""The view definition: its rules, and the hand-written oracle's views on sessions whose every
value is worked out here by hand (the engines' tests then hold the engines to the oracle)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from qos_shared.catalogue import CATALOGUE, EVENT_METRICS, metric
from qos_shared.testing.oracle import ORACLE
from qos_shared.testing.views_oracle import split_views, views
from qos_shared.views import DEFAULT_RULES, VIEW_FIELDS, ViewRules, finish_sql, partials_sql

T0 = 1_800_000_000_000
MIN = 60_000


def event(kind: str, t: int, session: str = "s1", **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"{session}-{kind}-{t}",
        "metric_type": kind,
        "session_id": session,
        "event_time": t,
        "client_platform": "web",
        "channel_watched": "c1",
        "is_live": True,
        **fields,
    }


def summary(
    t: int, playing: int, buffering: int = 0, stalls: int = 0, **fields: Any
) -> dict[str, Any]:
    return event(
        "PLAYBACK_SUMMARY",
        t,
        playing_time_ms=playing,
        buffering_time_ms=buffering,
        buffering_count=stalls,
        error_count=0,
        **fields,
    )


def only(records: list[dict[str, Any]]) -> dict[str, Any]:
    (view,) = views(records)
    return view


def test_an_attempt_alone_is_an_exit_before_start_without_a_score() -> None:
    view = only([event("ATTEMPT", T0)])
    assert view["outcome"] == "exit_before_start"
    assert view["score"] is None and view["score_failure"] is None
    assert view["event_time"] == T0 + 180_000 - 1  # closes three minutes after its last record


def test_a_fatal_error_before_the_first_frame_is_a_start_failure_whatever_its_phase() -> None:
    for phase in ({}, {"phase": "playback"}, {"phase": "startup"}):
        view = only([event("ATTEMPT", T0), event("ERROR", T0 + 500, fatal=True, **phase)])
        assert view["outcome"] == "start_failure", phase
        assert view["score"] == 0.0 and view["fatal_time"] == T0 + 500


def test_a_fatal_error_after_the_first_frame_is_a_playback_failure() -> None:
    view = only(
        [
            event("ATTEMPT", T0),
            event("PLAY", T0 + 1000, startup_latency_ms=1000),
            event("ERROR", T0 + 5000, fatal=True, phase="startup"),
        ]
    )
    assert view["outcome"] == "playback_failure"


def test_played_with_a_stop_abandoned_without_one() -> None:
    records = [event("ATTEMPT", T0), event("PLAY", T0 + 2000, startup_latency_ms=2000)]
    assert only(records)["outcome"] == "abandoned"
    assert only([*records, event("STOP", T0 + 9000)])["outcome"] == "played"


def test_the_score_and_its_parts_by_hand() -> None:
    # Startup 2 s: 100 * 8 / 10 = 80. One stall of 3 s in 57 s of playing: smoothness is the
    # mean of 100 / sqrt(1 + 0.25) = 89.4427... and 100 * exp(-10 * 3 / 60) = 60.6530...
    # 3 Mbit/s against 6: quality 50.
    view = only(
        [
            event("ATTEMPT", T0),
            event("PLAY", T0 + 2000, startup_latency_ms=2000),
            summary(T0 + MIN, 57_000, 3000, 1, bitrate_bps=3_000_000),
            event("STOP", T0 + MIN + 1),
        ]
    )
    smooth = (100 / math.sqrt(1.25) + 100 * math.exp(-0.5)) / 2
    assert view["score_startup"] == pytest.approx(80.0)
    assert view["score_smoothness"] == pytest.approx(smooth)
    assert view["score_quality"] == pytest.approx(50.0)
    assert view["score"] == pytest.approx((80 + smooth + 50) / 3)
    assert view["average_bitrate_bps"] == pytest.approx(3_000_000)


def test_views_are_cut_by_the_inactivity_timeout_and_by_max_length_slots() -> None:
    gap = [event("ATTEMPT", T0), event("ATTEMPT", T0 + 179_999), event("ATTEMPT", T0 + 359_998)]
    assert [len(v) for v in split_views(gap)] == [3]
    apart = [event("ATTEMPT", T0), event("ATTEMPT", T0 + 180_000)]
    assert [len(v) for v in split_views(apart)] == [1, 1]
    slot = 4 * 3_600_000
    boundary = (T0 // slot + 1) * slot
    across = [event("ATTEMPT", boundary - 1000), event("PLAY", boundary, startup_latency_ms=1)]
    assert [len(v) for v in split_views(across)] == [1, 1]


def test_duplicated_records_count_once() -> None:
    records = [event("ATTEMPT", T0), event("PLAY", T0 + 100, startup_latency_ms=100)]
    assert views(records + records) == views(records)


def test_view_kpis_read_view_records() -> None:
    records = [
        event("ATTEMPT", T0, "a"),
        event("ATTEMPT", T0, "b"),
        event("ERROR", T0 + 10, "b", fatal=True),
        event("ATTEMPT", T0, "c"),
        event("PLAY", T0 + 10, "c", startup_latency_ms=10),
        event("ATTEMPT", T0, "d"),
        event("PLAY", T0 + 10, "d", startup_latency_ms=10),
        event("ERROR", T0 + 20, "d", fatal=True),
    ]
    everything = records + views(records)
    assert ORACLE["views"](everything) == 4
    assert ORACLE["exits_before_video_start"](everything) == 25.0
    assert ORACLE["video_start_failure"](everything) == 25.0
    assert ORACLE["playback_failure"](everything) == 50.0  # d of c and d, which started
    assert ORACLE["views"](records) == 0  # no view records: no views


def test_which_metrics_read_views() -> None:
    over_views = {m.name for m in CATALOGUE if m.over_views}
    assert over_views == {
        "views",
        "video_start_failure",
        "exits_before_video_start",
        "playback_failure",
        "experience_score",
    }
    assert not any(m.over_views for m in EVENT_METRICS)
    assert metric("experience_score").higher_is_better


def test_rules_and_sql_shapes() -> None:
    with pytest.raises(ValueError, match="timeout"):
        ViewRules(timeout_ms=0)
    with pytest.raises(ValueError, match="maximum length"):
        ViewRules(timeout_ms=10_000, max_length_ms=5_000)
    assert DEFAULT_RULES.close_time(T0) == T0 + 179_999
    assert len(finish_sql("duckdb")) == len(VIEW_FIELDS)
    assert all("`" in p for p in partials_sql("flink"))
    assert all("`" not in p for p in partials_sql("trino"))
