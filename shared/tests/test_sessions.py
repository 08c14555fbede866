"""The seeded session generator: the same records for a seed, every record a valid stored event,
and each parameter doing what it says, checked by counting the records."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date

import orjson
import pytest

from qos_shared.events import StoredEvent
from qos_shared.eventtime import DAY_MS, HOUR_MS, day_start_ms
from qos_shared.testing.sessions import (
    LogNormal,
    Outcomes,
    Playback,
    Record,
    Sessions,
    SessionSpec,
    every_outcome,
    generate,
    playback_summary,
    traffic_day,
    weighted,
)

START = 1_795_000_020_000
SPEC = every_outcome(START, 600_000, 400)


def of(records: list[Record], metric_type: str) -> list[Record]:
    return [r for r in records if r["metric_type"] == metric_type]


def by_session(records: list[Record]) -> dict[str, list[Record]]:
    sessions: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        sessions[r["session_id"]].append(r)
    return sessions


def near(count: int, total: int, share: float) -> bool:
    """`count` of `total` is a plausible binomial draw of `share` (within five deviations)."""
    return abs(count - total * share) <= 5 * math.sqrt(total * share * (1 - share)) + 1


def test_a_seed_makes_the_same_records_and_another_seed_others() -> None:
    assert generate(SPEC, 3) == generate(SPEC, 3)
    assert generate(SPEC, 3) != generate(SPEC, 4)


def test_every_record_is_a_valid_stored_event() -> None:
    spec = replace(SPEC, disorder_ms=2_000, cut_ms=START + 300_000)
    records = generate(spec, 1) + generate(replace(spec, id_prefix="p-"), 2)
    for record in records:
        stored = StoredEvent.from_record(record)
        assert stored.event.metric_type == record["metric_type"]
        assert stored.enrichment.received_at >= stored.event_time
    assert set(Counter(r["metric_type"] for r in records)) == {
        "ATTEMPT",
        "PLAY",
        "PLAYBACK_SUMMARY",
        "QUALITY_CHANGED",
        "ERROR",
        "STOP",
    }
    assert len({r["event_id"] for r in records}) == len(records)


def test_the_json_chunks_are_the_records() -> None:
    records = generate(SPEC, 5)
    chunks = Sessions(SPEC, 5).chunks(333)
    assert [orjson.loads(line) for data, _ in chunks for line in data] == records
    times = [t for _, ts in Sessions(SPEC, 5).chunks(1_000) for t in ts]
    assert times == [r["event_time"] for r in records] == sorted(times)


def test_sessions_arrive_within_the_span_and_each_has_its_records() -> None:
    records = generate(SPEC, 6)
    sessions = by_session(records)
    assert len(sessions) == SPEC.sessions
    firsts = [min(r["event_time"] for r in rs) for rs in sessions.values()]
    assert min(firsts) >= START and max(firsts) < START + SPEC.span_ms
    # spread over the span: each fifth of it has arrivals
    assert {(t - START) * 5 // SPEC.span_ms for t in firsts} == set(range(5))
    for rs in sessions.values():
        assert rs[-1]["metric_type"] == "STOP"
        assert len({r["client_platform"] for r in rs}) == 1


def test_a_cut_leaves_nothing_at_or_after_it_and_sessions_open() -> None:
    cut = START + 200_000
    records = generate(replace(SPEC, cut_ms=cut), 7)
    assert max(r["event_time"] for r in records) < cut
    open_sessions = [s for s, rs in by_session(records).items() if rs[-1]["metric_type"] != "STOP"]
    assert open_sessions


def test_outcome_shares_by_count() -> None:
    n = 2_000
    outcomes = Outcomes(legacy=0.3, exit_before_start=0.1, start_failure=0.2, playback_failure=0.25)
    spec = replace(every_outcome(START, 600_000, n), outcomes=outcomes)
    records = generate(spec, 8)
    sessions = by_session(records)
    legacy = [rs for rs in sessions.values() if rs[0]["source_format"] == "legacy"]
    assert near(len(legacy), n, 0.3)
    assert all(not of(rs, "ATTEMPT") and "sdk_version" not in rs[0] for rs in legacy)
    assert len(of(records, "ATTEMPT")) == n - len(legacy)
    exits = [rs for rs in sessions.values() if of(rs, "STOP")[0].get("exit_before_start")]
    assert near(len(exits), n, 0.1)
    assert all(not of(rs, "PLAY") and not of(rs, "ERROR") for rs in exits)
    failed = [e for e in of(records, "ERROR") if e["fatal"] and e["phase"] == "startup"]
    assert near(len(failed), n - len(exits), 0.2)
    played = [rs for rs in sessions.values() if of(rs, "PLAY")]
    assert len(played) == n - len(exits) - len(failed)
    broken = [e for e in of(records, "ERROR") if e["fatal"] and e["phase"] == "playback"]
    assert near(len(broken), len(played), 0.25)


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_no_outcome_or_only_it(share: float) -> None:
    outcomes = Outcomes(legacy=share, exit_before_start=share, start_failure=0.0)
    records = generate(replace(SPEC, outcomes=outcomes), 9)
    assert len(of(records, "ATTEMPT")) == (0 if share else SPEC.sessions)
    exits = [r for r in of(records, "STOP") if r.get("exit_before_start")]
    assert len(exits) == (SPEC.sessions if share else 0)
    assert len(of(records, "PLAY")) == (0 if share else SPEC.sessions)


def test_summary_parameters_by_count() -> None:
    playback = Playback(
        summary_every_ms=20_000,
        buffering_share=0.5,
        buffering_ms=(1_000, 2_000),
        paused_share=0.2,
        summary_error_share=0.3,
        bitrate_share=0.6,
    )
    records = generate(replace(SPEC, playback=playback), 10)
    summaries = of(records, "PLAYBACK_SUMMARY")
    total = len(summaries)
    buffered = [s for s in summaries if s["buffering_time_ms"]]
    assert near(len(buffered), total, 0.5)
    assert all(1_000 <= s["buffering_time_ms"] < 2_000 for s in buffered)
    assert all(s["buffering_count"] > 0 for s in buffered)
    middle = [s for s in summaries if not s.get("is_final")]
    paused = [s for s in middle if s["playing_time_ms"] == 0]
    assert near(len(paused), len(middle), 0.2)
    assert all(
        s["playing_time_ms"] + s["buffering_time_ms"] == 20_000 for s in middle if s not in paused
    )
    assert near(sum(s["error_count"] for s in summaries), total, 0.3)
    assert near(sum("bitrate_bps" in s for s in summaries), total, 0.6)
    # one summary every 20 s after the first frame, then a final one
    for rs in by_session(records).values():
        plays = of(rs, "PLAY")
        if plays:
            times = [s["event_time"] for s in of(rs, "PLAYBACK_SUMMARY") if not s.get("is_final")]
            assert times == [plays[0]["event_time"] + 20_000 * (k + 1) for k in range(len(times))]
            assert len(of(rs, "PLAYBACK_SUMMARY")) == len(times) + 1


def test_switches_and_recoverable_errors_follow_their_rates() -> None:
    none = replace(SPEC.playback, switches_per_hour=0.0, recoverable_errors_per_hour=0.0)
    quiet = generate(replace(SPEC, playback=none), 11)
    assert not of(quiet, "QUALITY_CHANGED")
    assert all(e["fatal"] for e in of(quiet, "ERROR"))
    busy = replace(SPEC.playback, switches_per_hour=120.0, recoverable_errors_per_hour=60.0)
    records = generate(replace(SPEC, playback=busy), 11)
    played_ms = sum(
        s["playing_time_ms"] + s["buffering_time_ms"] for s in of(records, "PLAYBACK_SUMMARY")
    )
    hours = played_ms / HOUR_MS
    switches = of(records, "QUALITY_CHANGED")
    assert 0.5 * 120 * hours < len(switches) < 1.5 * 120 * hours
    assert {s.get("step_direction") for s in switches} >= {"UP", "DOWN"}
    recoverable = [e for e in of(records, "ERROR") if not e["fatal"]]
    assert 0.5 * 60 * hours < len(recoverable) < 1.5 * 60 * hours


def test_the_mix_of_platforms_channels_and_countries() -> None:
    n = 3_000
    spec = every_outcome(START, 600_000, n)
    spec = replace(spec, platforms=weighted("web", "tv", weights={"web": 3.0, "tv": 1.0}))
    spec = replace(spec, channels=weighted("a", "b"), countries=(("FR", 1.0), (None, 1.0)))
    sessions = [rs[0] for rs in by_session(generate(spec, 12)).values()]
    platforms = Counter(r["client_platform"] for r in sessions)
    assert set(platforms) == {"web", "tv"} and near(platforms["web"], n, 0.75)
    channels = Counter(r["channel_watched"] for r in sessions)
    assert set(channels) == {"a", "b"} and near(channels["a"], n, 0.5)
    located = [r for r in sessions if "viewer_country" in r]
    assert near(len(located), n, 0.5)
    assert all(r["viewer_country"] == "FR" and r["viewer_city"] == "Paris" for r in located)
    assert not any("viewer_city" in r for r in sessions if r not in located)


def test_startup_times_per_platform() -> None:
    spec = replace(SPEC, startup=LogNormal(2_000, 0.5, 500, 30_000))
    spec = replace(spec, startup_factor=(("ios", 10.0),), whole_second_platforms=("android",))
    plays = of(generate(spec, 13), "PLAY")
    by_platform: dict[str, list[int]] = defaultdict(list)
    for p in plays:
        by_platform[p["client_platform"]].append(p["startup_latency_ms"])
    assert all(v % 1_000 == 0 for v in by_platform["android"])
    assert any(v % 1_000 for v in by_platform["web"])
    assert all(500 <= v <= 30_000 for p in ("web", "other") for v in by_platform[p])
    assert all(5_000 <= v <= 30_000 for v in by_platform["ios"])
    assert sorted(by_platform["web"])[len(by_platform["web"]) // 2] < 4_000


def test_disorder_stays_below_its_bound_and_happens() -> None:
    records = generate(replace(SPEC, disorder_ms=3_000), 14)
    newest, backwards = 0, 0
    for r in records:
        assert r["event_time"] > newest - 3_000
        backwards += r["event_time"] < newest
        newest = max(newest, r["event_time"])
    assert backwards > len(records) // 10
    assert sorted(records, key=lambda r: r["event_id"]) == sorted(
        generate(SPEC, 14), key=lambda r: r["event_id"]
    )


def test_ids_prefix_and_viewers() -> None:
    records = generate(replace(SPEC, id_prefix="x-", viewers=7), 15)
    assert all(r["event_id"].startswith("x-") and r["session_id"].startswith("x-") for r in records)
    assert len({r["user_id"] for r in records}) == 7


def test_a_traffic_day_has_exactly_the_records_asked_for_on_the_daily_curve() -> None:
    day = date(2026, 11, 1)
    sessions = traffic_day(day, 30_000, 1)
    times = [t for _, ts in sessions.chunks(7_000) for t in ts]
    assert len(times) == sessions.n == 30_000
    assert day_start_ms(day) <= min(times) and max(times) < day_start_ms(day) + DAY_MS
    hours = Counter((t - day_start_ms(day)) // HOUR_MS for t in times)
    assert sum(hours[h] for h in range(18, 23)) > 2 * sum(hours[h] for h in range(2, 7))


def test_a_spec_refuses_what_it_cannot_make() -> None:
    with pytest.raises(ValueError, match="buffering_ms"):
        SessionSpec(START, playback=Playback(summary_every_ms=10_000, buffering_ms=(100, 20_000)))
    with pytest.raises(ValueError, match="65,535"):
        SessionSpec(START, playback=Playback(summary_every_ms=200, buffering_ms=(10, 100)))
    SessionSpec(START, playback=Playback(summary_every_ms=1_000, buffering_ms=(10, 100)))


def test_the_single_summary_is_valid_and_takes_overrides() -> None:
    record = playback_summary(3, event_id="e-1", event_time=START, is_live=False)
    assert record["session_id"] == "session-3" and record["user_id"] == "user-3"
    event = StoredEvent.from_record(
        record | {"received_at": START, "event_time_source": "client", "source_format": "v1"}
    ).event
    assert event.metric_type == "PLAYBACK_SUMMARY" and event.is_live is False
