"""Every catalogue metric, every window and group: the engine against the hand-written oracle."""

from __future__ import annotations

import math

import pytest

from qos_realtime.adapters.window_engine import compute_rows
from qos_shared.catalogue import CATALOGUE
from qos_shared.examples import ORIGINAL_SAMPLE_DATA

from ..golden import ORACLE, expected_rows, generate


def test_the_oracle_covers_every_catalogue_metric() -> None:
    shares = {m.name for m in CATALOGUE if m.kind == "share"}
    assert set(ORACLE) | shares == {m.name for m in CATALOGUE}


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize(("window_s", "top_n"), [(60, 10), (60, 2), (5, 3)])
def test_engine_matches_the_oracle_on_golden_data(window_s: int, top_n: int) -> None:
    records = generate(seed=11, sessions=150, span_s=240, channels=5)
    expected = expected_rows(records, window_s=window_s, top_n=top_n)
    rows = compute_rows(records, window_s=window_s, top_n=top_n)
    got = {row.key(): row.value for row in rows}
    assert len(got) == len(rows), "one row per key"
    assert set(got) == set(expected)
    wrong = {k: (got[k], expected[k]) for k in expected if not close(got[k], expected[k])}
    assert not wrong, f"{len(wrong)} of {len(expected)} differ, e.g. {list(wrong.items())[:5]}"
    assert all(row.window_end - row.window_start == window_s * 1000 for row in rows)
    # the data exercises every metric: each has a non-zero value in some window's 'all' group
    for name in ORACLE:
        assert any(v for (_, m, d, _, _), v in expected.items() if m == name and d == "all"), name


def test_original_five_on_the_original_payloads() -> None:
    """Hand-computed: three summaries and two plays in one minute, as the old player sends them."""
    t = 1_795_000_020_000
    common = {
        "client_platform": "web",
        "is_live": True,
        "channel_watched": "xhP3ExfcX8ON",
        "source_format": "legacy",
        "schema_version": "1",
    }
    records = [
        # the sample's own payload: 60015 ms played, 720p, 2 s behind live, no error
        {**ORIGINAL_SAMPLE_DATA, **common, "session_id": "a", "event_time": t + 1},
        {
            **common,
            "metric_type": "PLAYBACK_SUMMARY",
            "session_id": "b",
            "event_time": t + 2,
            "error_count": 2,
            "playing_time_ms": 50000,
            "buffering_time_ms": 10000,
            "buffering_count": 3,
            "rendition_name": "480p",
            "rendition_height": 480,
            "live_latency_ms": 3000,
        },
        {
            **common,
            "metric_type": "PLAYBACK_SUMMARY",
            "session_id": "a",
            "event_time": t + 3,
            "error_count": 1,
            "playing_time_ms": 30000,
            "buffering_time_ms": 30000,
            "buffering_count": 1,
            "rendition_name": "720p",
            "rendition_height": 720,
            "live_latency_ms": 7000,
        },
        {
            **common,
            "metric_type": "PLAY",
            "session_id": "a",
            "event_time": t + 4,
            "startup_latency_ms": 1500,
        },
        {
            **common,
            "metric_type": "PLAY",
            "session_id": "c",
            "event_time": t + 5,
            "startup_latency_ms": 2500,
        },
    ]
    # The window of the events (their views close three minutes later, in another).
    rows: dict[tuple[str, str, str], float | None] = {
        (r.metric, r.dimension, r.dimension_value): r.value
        for r in compute_rows(records)
        if r.window_start == t // 60_000 * 60_000
    }
    web = ("client_platform", "web")
    assert rows[("startup_time", *web)] == pytest.approx((1500 + 2500) / 2 / 1000)  # 2.0 s
    assert rows[("errors", *web)] == 3
    # ratio of sums: 40000 ms stalled of 180015 ms watched, not the mean of 0 %, 16.7 %, 50 %
    assert rows[("rebuffering_ratio", *web)] == pytest.approx(40000 * 100 / 180015)
    assert rows[("live_latency", *web)] == pytest.approx(4.0)
    assert rows[("concurrency", *web)] == 2  # sessions a and b; a's two summaries count once
    assert rows[("attempts", *web)] == 2  # old players: their PLAY is the attempt
