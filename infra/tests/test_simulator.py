"""The viewer simulator: determinism, the model's distributions, incidents, the SDK's event
semantics and wire format, the truth, and the command line's handling of bad input."""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from qos_infra.simulator import (
    IncidentError,
    SimulationConfig,
    Viewer,
    compute_truth,
    generate,
    main,
    parse_incident,
    plan_batches,
    read_events,
    stored_record,
    stored_records,
    truth_document,
)
from qos_infra.simulator.audience import SDK_VERSION
from qos_infra.simulator.model import DEFAULT_MODEL
from qos_infra.simulator.truth import kpis
from qos_ingest.api import IngestConfig, IngestRequest, ingest
from qos_shared.events import CLIENT_EVENT_ADAPTER, StoredEvent
from qos_shared.testing.views_oracle import views

REPO = Path(__file__).resolve().parents[2]
START = 1_699_999_980_000  # a whole minute: windows start at run minutes
UA_FIELDS = {"browser_family", "browser_version", "os_family", "os_version", "device_family"}


def config(**overrides: Any) -> SimulationConfig:
    return SimulationConfig(
        **{"start_ms": START, "viewers": 60, "minutes": 4.0, "seed": 11, **overrides}
    )


@pytest.fixture(scope="module")
def small() -> Any:
    return generate(config())


@pytest.fixture(scope="module")
def large() -> Any:
    return generate(config(viewers=2000, minutes=10, seed=1))


# -- determinism -----------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_events_ids_and_truth() -> None:
    first, second = generate(config()), generate(config())
    assert first.events() == second.events()
    assert truth_document(first) == truth_document(second)
    assert generate(config(seed=12)).events() != first.events()


def test_ids_follow_the_start_time_but_the_story_does_not() -> None:
    """Two runs started at different times share no event_id (the log would drop them), yet the
    same seed tells the same story."""
    first, later = generate(config()), generate(config(start_ms=START + 3_600_000))
    assert not {e["event_id"] for e in first.events()} & {e["event_id"] for e in later.events()}
    assert [
        (s.outcome, s.startup_latency_ms, s.ended_at - s.attempt_at) for s in first.sessions
    ] == [(s.outcome, s.startup_latency_ms, s.ended_at - s.attempt_at) for s in later.sessions]


# -- the contract and the SDK ----------------------------------------------------------------


def test_every_event_is_valid_and_ingest_stores_what_the_truth_expects(small: Any) -> None:
    """Each request as the simulator sends it goes through ingest's own domain function: every
    event is accepted, with no unknown field, and the stored record is the truth's record (plus
    the User-Agent fields and received_at, which no KPI reads)."""
    catch_up, timed = plan_batches(small, catch_up_before=START)
    assert not catch_up
    checked = 0
    for batch in timed:
        headers = {k.lower(): v for k, v in batch.viewer.headers().items()}
        result = ingest(
            IngestRequest(batch.body(), headers, received_at_ms=small.config.end_ms),
            IngestConfig(),
        )
        assert not result.rejected, result.rejected
        assert result.source_format == "v1"
        for accepted, event in zip(result.accepted, batch.events, strict=True):
            stored = orjson.loads(accepted.data)
            assert {"browser_family", "os_family"} <= set(stored)
            assert "extra_fields" not in stored
            trimmed = {k: v for k, v in stored.items() if k not in UA_FIELDS | {"received_at"}}
            assert trimmed == stored_record(batch.viewer, event)
            StoredEvent.from_record(stored)
            checked += 1
    assert checked == small.event_count


def test_events_carry_the_sdk_fields_in_the_sdk_order(small: Any) -> None:
    version = (REPO / "player/src/version.js").read_text()
    assert f"SDK_VERSION = '{SDK_VERSION}'" in version
    common = [
        "metric_type",
        "session_id",
        "user_id",
        "client_platform",
        "is_live",
        "channel_watched",
        "event_time",
        "event_id",
        "schema_version",
        "sdk_version",
        "player_version",
    ]
    specific = {
        "ATTEMPT": {"visibility_state", "autoplay"},
        "PLAY": {"startup_latency_ms", "start_playback_position_sec", "visibility_state"},
        "PLAYBACK_SUMMARY": {
            "playing_time_ms",
            "buffering_time_ms",
            "buffering_count",
            "error_count",
            "rendition_name",
            "rendition_height",
            "bitrate_bps",
            "live_latency_ms",
            "is_final",
        },
        "QUALITY_CHANGED": {
            "from_rendition_name",
            "to_rendition_name",
            "from_bitrate",
            "to_bitrate",
            "step_direction",
        },
        "ERROR": {"error_code", "error_type", "fatal", "phase", "error_message"},
        "STOP": {"end_playback_position_sec", "exit_before_start"},
    }
    for event in small.events():
        assert list(event)[: len(common)] == common
        extra = set(list(event)[len(common) :])
        assert extra <= specific[event["metric_type"]], event
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
            event["event_id"],
        )
        CLIENT_EVENT_ADAPTER.validate_python(event)
    live = [e for e in small.events() if e["metric_type"] == "PLAYBACK_SUMMARY"]
    assert all(("live_latency_ms" in e) == e["is_live"] for e in live)


def test_sessions_follow_the_sdk_semantics(small: Any) -> None:
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for viewer in small.viewers:
        for event in viewer.events:
            by_session[event["session_id"]].append(event)
    assert set(by_session) == {s.session_id for s in small.sessions}
    for session in small.sessions:
        events = by_session[session.session_id]
        types = [e["metric_type"] for e in events]
        assert types[0] == "ATTEMPT" and types[-1] == "STOP"
        assert events == sorted(events, key=lambda e: e["event_time"])
        stop = events[-1]
        fatal = [e for e in events if e["metric_type"] == "ERROR" and e["fatal"]]
        if session.outcome == "played":
            (play,) = [e for e in events if e["metric_type"] == "PLAY"]
            assert play["startup_latency_ms"] == play["event_time"] - events[0]["event_time"]
            summaries = [e for e in events if e["metric_type"] == "PLAYBACK_SUMMARY"]
            assert [s["is_final"] for s in summaries][-1] is True
            assert sum(s["is_final"] for s in summaries) == 1
            assert types[-2] == "PLAYBACK_SUMMARY"
            for s in summaries[:-1]:  # the SDK's 60 s timer, started at the first frame
                assert (s["event_time"] - play["event_time"]) % 60_000 == 0
            watched = sum(s["playing_time_ms"] + s["buffering_time_ms"] for s in summaries)
            assert watched <= stop["event_time"] - play["event_time"]
            assert stop["exit_before_start"] is False
            assert all(e["phase"] == "playback" for e in fatal)
            assert len(fatal) == (session.ended_by == "fatal_error")
        else:
            assert "PLAY" not in types and "PLAYBACK_SUMMARY" not in types
            assert stop["exit_before_start"] is (session.outcome == "exit_before_start")
            if session.outcome == "start_failure":
                assert [(e["fatal"], e["phase"]) for e in fatal] == [(True, "startup")]
                assert types[-2] == "ERROR"


def test_quality_changes_step_between_renditions_of_the_ladder(small: Any) -> None:
    ladder = {r.name: r.bitrate_bps for r in DEFAULT_MODEL.ladder}
    changes = [e for e in small.events() if e["metric_type"] == "QUALITY_CHANGED"]
    assert changes
    for e in changes:
        assert ladder[e["from_rendition_name"]] == e["from_bitrate"]
        assert ladder[e["to_rendition_name"]] == e["to_bitrate"]
        assert e["step_direction"] == ("UP" if e["to_bitrate"] > e["from_bitrate"] else "DOWN")


def test_speed_compresses_event_time_not_the_durations() -> None:
    fast = generate(config(speed=10))
    summaries = [e for e in fast.events() if e["metric_type"] == "PLAYBACK_SUMMARY"]
    assert max(e["event_time"] for e in fast.events()) <= START + 4 * 60_000 / 10
    full = [e for e in summaries if not e["is_final"] and e["playing_time_ms"] > 50_000]
    assert full  # a summary covers 60 s of simulated time, 6 s of event time


# -- the model's distributions ---------------------------------------------------------------


def _phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def test_mixes_and_startup_outcomes_follow_the_model(large: Any) -> None:
    m = DEFAULT_MODEL
    viewers: list[Viewer] = large.viewers
    platforms = Counter(v.platform.name for v in viewers)
    for p in m.platforms:
        assert platforms[p.name] / len(viewers) == pytest.approx(p.weight, abs=0.025)
    countries = Counter(v.country.code for v in viewers)
    for c in m.countries:
        assert countries[c.code] / len(viewers) == pytest.approx(c.weight, abs=0.02)
    channels = Counter(s.channel_watched for s in large.sessions)
    for ch in m.channels:  # zapping avoids the channel just left: shares shift a little
        assert channels[ch.name] / len(large.sessions) == pytest.approx(ch.weight, abs=0.03)

    # Exits before start: P(startup > patience) of two log-normals, over the mixes.
    expected = 0.0
    for p in m.platforms:
        for c in m.countries:
            sd = math.sqrt(p.startup.sigma**2 + m.patience_ms.sigma**2)
            z = math.log(p.startup.median * c.startup_factor / m.patience_ms.median) / sd
            z_hidden = z + math.log(m.hidden_startup_factor) / sd
            share = (1 - m.hidden_p) * _phi(z) + m.hidden_p * _phi(z_hidden)
            expected += p.weight * c.weight * share
    ebvs = (1 - m.start_failure_p) * (m.quick_exit_p + (1 - m.quick_exit_p) * expected)
    # Attempts whose startup the run's end cut short are not the model's exits.
    attempts = [s for s in large.sessions if s.outcome == "played" or s.ended_by != "run_ended"]
    outcomes = Counter(s.outcome for s in attempts)
    assert outcomes["exit_before_start"] / len(attempts) == pytest.approx(ebvs, abs=0.008)
    assert outcomes["start_failure"] / len(attempts) == pytest.approx(m.start_failure_p, abs=0.004)

    # Startup of unhidden US web sessions: the model's median (patience trims the tail only).
    us_web = sorted(
        s.startup_latency_ms
        for s in large.sessions
        if s.country == "US" and s.client_platform == "web" and s.startup_latency_ms
    )
    median = us_web[len(us_web) // 2]
    assert median == pytest.approx(m.platform("web").startup.median, rel=0.12)


def test_the_audience_holds_its_size_and_kpis_are_plausible(large: Any) -> None:
    for minute in range(1, 10):
        assert 0.95 * 2000 <= large.active_viewers(minute * 60_000) <= 2000
    records = stored_records(large)
    values = kpis(records + views(records))
    assert 0.7 < values["rebuffering_ratio"] < 1.6
    assert 1.0 < values["startup_time"] < 2.0
    assert 3.0 < values["live_latency"] < 5.0
    assert 0 < values["playback_failure"] < 1.5
    assert sum(values["rendition_share"].values()) == pytest.approx(100)


# -- incidents -------------------------------------------------------------------------------


def _slice(sim: Any, country: str) -> list[dict[str, Any]]:
    """The stored records of one country's viewers."""
    return [
        r for v, e in sim.event_pairs() if v.country.code == country for r in [stored_record(v, e)]
    ]


def test_a_rebuffer_incident_raises_its_slice_by_its_points() -> None:
    base = config(viewers=1500, minutes=10, seed=3)
    hit = dataclasses.replace(base, incidents=(parse_incident("country=BR,rebuffer=+8%"),))
    before, after = generate(base), generate(hit)
    rise = (
        kpis(_slice(after, "BR"))["rebuffering_ratio"]
        - kpis(_slice(before, "BR"))["rebuffering_ratio"]
    )
    assert rise == pytest.approx(8.0, abs=0.6)
    us = (
        kpis(_slice(after, "US"))["rebuffering_ratio"]
        - kpis(_slice(before, "US"))["rebuffering_ratio"]
    )
    assert abs(us) < 0.3
    truth = truth_document(after)
    assert truth["incidents"][0]["sessions_affected"] > 100
    assert truth["kpis"]["viewer_country"]["BR"]["rebuffering_ratio"] == pytest.approx(
        kpis(_slice(after, "BR"))["rebuffering_ratio"]
    )


def test_a_timed_incident_shows_in_its_windows_only() -> None:
    base = config(viewers=1500, minutes=8, seed=4)
    spec = "country=BR,start=3m,duration=2m,rebuffer=+8%"
    before = generate(base)
    after = generate(dataclasses.replace(base, incidents=(parse_incident(spec),)))
    truth = truth_document(after)

    def in_truth(minute: int) -> float:
        start = START + minute * 60_000
        (window,) = [w for w in truth["windows"] if w["window_start"] == start]
        return float(window["groups"]["viewer_country"]["BR"]["rebuffering_ratio"])

    brazil = _slice(before, "BR")

    def baseline(minute: int) -> float:
        lo = START + minute * 60_000
        inside = [r for r in brazil if lo <= r["event_time"] < lo + 60_000]
        return float(kpis(inside)["rebuffering_ratio"])

    # Window [4m, 5m): its summaries' intervals lie inside the incident.
    assert in_truth(4) - baseline(4) == pytest.approx(8.0, abs=2.5)
    for minute in (1, 2, 6, 7):  # before and well after: the same seats, unchanged
        assert abs(in_truth(minute) - baseline(minute)) < 1.5
    assert truth["incidents"][0]["start_at"] == START + 180_000
    assert truth["incidents"][0]["end_at"] == START + 300_000


@pytest.mark.parametrize(
    ("spec", "metric", "dimension", "value", "check"),
    [
        (
            "platform=android,startup=x2",
            "startup_time_p50",
            "client_platform",
            "android",
            (1.7, 2.3),
        ),
        ("country=IN,vsf=+10%", "video_start_failure", "viewer_country", "IN", (7.0, 13.0)),
        (
            "channel=news-24,errors=+20%",
            "playback_failure",
            "channel_watched",
            "news-24",
            (14.0, 26.0),
        ),
    ],
)
def test_startup_vsf_and_error_incidents(
    spec: str, metric: str, dimension: str, value: str, check: tuple[float, float]
) -> None:
    base = config(viewers=1500, minutes=6, seed=5)

    def measure(sim: Any) -> float:
        records = stored_records(sim)
        return float(kpis([r for r in records + views(records) if r[dimension] == value])[metric])

    before = measure(generate(base))
    now = measure(generate(dataclasses.replace(base, incidents=(parse_incident(spec),))))
    low, high = check
    if metric == "startup_time_p50":
        assert low <= now / before <= high
    else:
        assert low <= now - before <= high


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "country=BR,start=3m,duration=2m,rebuffer=+8%",
            {"country": "BR", "start_ms": 180_000, "duration_ms": 120_000, "rebuffer_pp": 8.0},
        ),
        ("platform=Android,startup=+800ms", {"platform": "android", "startup_add_ms": 800}),
        ("channel=sports-1,startup=x2.5,start=1m30s", {"startup_factor": 2.5, "start_ms": 90_000}),
        ("country=us,vsf=5%,errors=+2", {"country": "US", "vsf_pp": 5.0, "errors_pct": 2.0}),
        ("startup=+1.5s", {"startup_add_ms": 1500, "country": None, "duration_ms": None}),
    ],
)
def test_incident_specs_parse(spec: str, expected: dict[str, Any]) -> None:
    incident = parse_incident(spec)
    for key, value in expected.items():
        assert getattr(incident, key) == value


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty incident spec"),
        ("country=BR", "no effect given"),
        ("country=XX,rebuffer=+8%", 'country "XX" is not simulated'),
        ("platform=tv,rebuffer=+8%", 'platform "tv" is not one of'),
        ("channel=nope,rebuffer=+8%", 'channel "nope" is not simulated'),
        ("colour=red,rebuffer=+8%", 'unknown key "colour"'),
        ("country=BR,country=US,rebuffer=+8%", '"country" is given twice'),
        ("country,rebuffer=+8%", '"country" is not key=value'),
        ("start=3,rebuffer=+8%", 'start "3" needs a unit'),
        ("start=soon,rebuffer=+8%", 'start "soon" is not a duration'),
        ("duration=0,rebuffer=+8%", "duration must be more than 0"),
        ("rebuffer=-8%", "only increases are simulated"),
        ("rebuffer=lots", 'rebuffer "lots" is not a percentage'),
        ("rebuffer=+95%", "at most 90%"),
        ("startup=fast", 'startup "fast" is not +Nms'),
        ("startup=x0.5", "the factor must be more than 1"),
        ("vsf=0%", "more than 0%"),
    ],
)
def test_bad_incident_specs_say_why(spec: str, message: str) -> None:
    with pytest.raises(IncidentError, match=re.escape(message)):
        parse_incident(spec)


# -- device clocks ---------------------------------------------------------------------------


SKEWS = (600_000, -600_000, 90_000)


def test_skewed_clocks_change_nothing_else_of_the_run(small: Any) -> None:
    skewed = generate(config(clock_skew_share=0.4, clock_skews_ms=SKEWS))
    assert skewed.events() == small.events()  # true times, ids, everything
    assert [s.as_dict() for s in skewed.sessions] == [s.as_dict() for s in small.sessions]
    skews = [v.clock_skew_ms for v in skewed.viewers]
    assert {k for k in skews if k} == set(SKEWS)
    assert 0.2 < sum(1 for k in skews if k) / len(skews) < 0.6
    assert {v.clock_skew_ms for v in small.viewers} == {0}
    assert skewed.viewers[0].as_dict(skewed.config)["clock_skew_ms"] == skews[0]


def test_a_skewed_clock_sends_its_own_times_and_ingest_stores_the_truth() -> None:
    """Every request of a run with skewed clocks, live and caught up, through ingest's domain
    function received the moment it is sent: each stored record is the truth's (true event_time,
    "corrected" and the clock's offset for a skewed viewer), so the KPIs are the truth's too."""
    run = generate(config(clock_skew_share=0.5, clock_skews_ms=SKEWS))
    half = START + run.config.duration_ms // 2
    catch_up, timed = plan_batches(run, catch_up_before=half)
    assert catch_up and timed
    stored: list[dict[str, Any]] = []
    for batch in [*catch_up, *timed]:
        now = max(batch.send_at, half)  # the catch-up is sent when sending starts
        body = orjson.loads(batch.body(now_ms=now))
        skew = batch.viewer.clock_skew_ms
        assert [e["event_time"] for e in body["events"]] == [
            e["event_time"] + skew for e in batch.events
        ]
        assert body.get("sent_at") == (now + skew if skew else None)
        headers = {k.lower(): v for k, v in batch.viewer.headers().items()}
        result = ingest(
            IngestRequest(batch.body(now_ms=now), headers, received_at_ms=now), IngestConfig()
        )
        assert not result.rejected and not result.warnings
        for accepted, event in zip(result.accepted, batch.events, strict=True):
            record = orjson.loads(accepted.data)
            trimmed = {k: v for k, v in record.items() if k not in UA_FIELDS | {"received_at"}}
            assert trimmed == stored_record(batch.viewer, event)
            if skew:
                assert (record["event_time_source"], record["clock_offset_ms"]) == (
                    "corrected",
                    -skew,
                )
            stored.append(trimmed)
    assert len(stored) == run.event_count
    assert sum(1 for r in stored if r["event_time_source"] == "corrected") > run.event_count // 4
    # In the truth's order (the oracle's float sums then add up alike).
    by_id = {r["event_id"]: r for r in stored}
    ordered = sorted(
        (by_id[e["event_id"]] for _, e in run.event_pairs()), key=lambda r: r["event_time"]
    )
    truth = truth_document(run)
    computed = compute_truth(ordered, window_s=truth["window_s"])
    assert computed["run"] == truth["kpis"] and computed["windows"] == truth["windows"]


def test_the_events_file_holds_the_times_as_sent(tmp_path: Path) -> None:
    path = tmp_path / "s.truth.json"
    argv = ["--dry-run", "--viewers", "20", "--minutes", "2", "--seed", "5", "--truth", str(path)]
    argv += ["--start", str(START), "--skewed-clocks", "0.5", "--clock-skews=-600000,900000"]
    assert main(argv) == 0
    truth = orjson.loads(path.read_bytes())
    assert truth["parameters"]["clock_skew_share"] == 0.5
    assert truth["parameters"]["clock_skews_ms"] == [-600_000, 900_000]
    skew = {v["user_id"]: v["clock_skew_ms"] for v in truth["viewers"]}
    assert set(skew.values()) == {0, -600_000, 900_000}
    run = generate(
        config(
            viewers=20,
            minutes=2,
            seed=5,
            clock_skew_share=0.5,
            clock_skews_ms=(-600_000, 900_000),
        )
    )
    true_times = {e["event_id"]: e["event_time"] for e in run.events()}
    sent = read_events(tmp_path / truth["events_file"])
    assert len(sent) == run.event_count
    for event in sent:
        assert event["event_time"] == true_times[event["event_id"]] + skew[event["user_id"]]


# -- delivery plan ---------------------------------------------------------------------------


def test_live_batches_follow_the_sdk_transport(small: Any) -> None:
    c = small.config
    catch_up, timed = plan_batches(small, catch_up_before=START)
    assert not catch_up
    sent = [e["event_id"] for b in timed for e in b.events]
    assert sorted(sent) == sorted(e["event_id"] for e in small.events())
    assert [b.send_at for b in timed] == sorted(b.send_at for b in timed)
    for batch in timed:
        assert 1 <= len(batch.events) <= c.batch_size
        assert {e["user_id"] for e in batch.events} == {batch.viewer.user_id}
        times = [e["event_time"] for e in batch.events]
        assert times[-1] <= batch.send_at <= times[0] + c.batch_interval_ms
        body = orjson.loads(batch.body())
        assert list(body) == ["events"] and body["events"] == batch.events
    # The viewer's last event (leaving the page) is flushed at once.
    last = {v.user_id: v.events[-1] for v in small.viewers}
    for batch in timed:
        if batch.events[-1] is last[batch.viewer.user_id]:
            assert batch.send_at == batch.events[-1]["event_time"]


def test_past_events_go_in_event_time_waves(small: Any) -> None:
    c = small.config
    catch_up, timed = plan_batches(small, catch_up_before=c.end_ms + 1)
    assert not timed
    assert sum(len(b.events) for b in catch_up) == small.event_count
    waves = [b.wave for b in catch_up]
    assert waves == sorted(waves)  # type: ignore[type-var]
    for batch in catch_up:
        assert {e["event_time"] // c.catch_up_slice_ms for e in batch.events} == {batch.wave}
        assert {e["user_id"] for e in batch.events} == {batch.viewer.user_id}


def test_viewer_headers_are_cloudfront_and_a_real_user_agent(small: Any) -> None:
    for viewer in small.viewers:
        headers = viewer.headers()
        assert headers["CloudFront-Viewer-Country"] == viewer.country.code
        assert headers["User-Agent"].startswith("Mozilla/5.0")
        flags = [k for k, v in headers.items() if k.startswith("CloudFront-Is-") and v == "true"]
        assert len(flags) == 1 and viewer.device.device_class in flags[0].lower()
        assert all(v.isascii() for v in headers.values())


# -- truth -----------------------------------------------------------------------------------


def test_truth_windows_and_top_n_match_the_realtime_engine(small: Any) -> None:
    records = stored_records(small)
    truth = compute_truth(records, window_s=60, top_n_channels=3)
    everything = records + views(records)  # the views' records count at their close times
    for window in truth["windows"]:
        inside = [
            r
            for r in everything
            if window["window_start"] <= r["event_time"] < window["window_end"]
        ]
        assert window["groups"]["all"][""] == kpis(inside)
        sessions: dict[str, set[str]] = defaultdict(set)
        for r in inside:
            sessions[r["channel_watched"]].add(r["session_id"])
        top = sorted(sessions, key=lambda ch: (-len(sessions[ch]), ch))[:3]
        named = set(window["groups"]["channel_watched"]) - {"other"}
        assert named == set(top)
    assert set(truth["run"]["channel_watched"]) == {r["channel_watched"] for r in records}


def test_dry_run_writes_the_truth_and_the_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.truth.json"
    argv = ["--dry-run", "--viewers", "20", "--minutes", "2", "--seed", "5"]
    argv += [
        "--start",
        "2026-01-01T00:00:00Z",
        "--truth",
        str(path),
        "--incident",
        "country=US,vsf=+5%",
    ]
    assert main(argv) == 0
    assert "truth in" in capsys.readouterr().out
    truth = orjson.loads(path.read_bytes())
    assert truth["format"] == "qos-simulator-truth/1"
    assert truth["seed"] == 5 and truth["parameters"]["viewers"] == 20
    assert truth["start_ms"] == 1_767_225_600_000
    assert truth["delivery"] is None
    events = read_events(tmp_path / truth["events_file"])
    # The viewers' events in the file, the live channels' IVS stream events in the truth.
    streams = truth["channel_events"]
    assert {e["detail"]["event_name"] for e in streams} >= {"Stream Start", "Stream End"}
    assert len(events) + len(streams) == truth["event_count"]
    assert truth["event_count"] == sum(truth["event_counts"].values())
    assert truth["event_counts"]["STREAM_STATE"] == sum(
        e["detail-type"] == "IVS Stream State Change" for e in streams
    )
    assert {e["session_id"] for e in events} == {s["session_id"] for s in truth["sessions"]}
    assert truth["incidents"][0]["vsf_pp"] == 5.0
    again = generate(config(viewers=20, minutes=2, seed=5, start_ms=1_767_225_600_000))
    assert events == again.events()


# -- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--viewers", "-5"], "--viewers must be at least 1"),
        (["--viewers", "0"], "--viewers must be at least 1"),
        (["--viewers", "many"], "invalid int value"),
        (["--minutes", "0"], "--minutes must be more than 0"),
        (["--incident", "country=BR,start=3m"], "no effect given"),
        (["--incident", "country=ZZ,rebuffer=+8%"], 'country "ZZ" is not simulated'),
        (["--minutes", "5", "--incident", "start=6m,rebuffer=+1%"], "after the run ends"),
        (["--speed", "0"], "--speed must be between"),
        (["--speed", "5", "--backfill"], "--speed applies to live runs only"),
        (["--backfill", "--prefill", "5m"], "cannot be combined"),
        (["--prefill", "5"], "needs a unit"),
        (["--start", "yesterday"], "is not an ISO 8601 time"),
        (["--start", "2020-01-01", "--endpoint", "http://127.0.0.1:1"], "older than 7 days"),
        (["--batch-size", "501"], "--batch-size must be between 1 and 500"),
        (["--viewers", "100000", "--minutes", "600"], "too many for one run"),
        (["--endpoint", "ftp://example.com"], "must be an http(s) URL"),
        (["--skewed-clocks", "1.5"], "--skewed-clocks must be a share between 0 and 1"),
        (["--skewed-clocks", "0.1", "--clock-skews", "1000"], "not one ingest corrects"),
        (["--skewed-clocks", "0.1", "--clock-skews=-90000000"], "not one ingest corrects"),
        (["--clock-skews", "ten"], "expected ms values"),
    ],
)
def test_bad_input_gets_one_line_and_a_non_zero_exit(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--dry-run"] if "--endpoint" not in argv else argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_an_unreachable_ingest_is_said_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["--endpoint", f"http://127.0.0.1:{port}", "--minutes", "1"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach ingest" in err and len(err.strip().splitlines()) == 1


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--incident" in capsys.readouterr().out


def test_the_progress_line_off_a_terminal_is_one_line_per_interval_and_the_catch_up_s_end() -> None:
    import io

    from qos_infra.simulator.delivery import Progress
    from qos_infra.simulator.runner import ProgressLine

    out = io.StringIO()
    line = ProgressLine(out, every_s=30.0)

    def report(at_s: float, phase: str, sent: int) -> None:
        line(Progress(at_s, int(at_s * 1000), 5, 1000, sent, sent, 0, 0, 10.0, phase))

    for tenth in range(0, 125):  # 12.5 s of catch-up, a report every 0.1 s
        report(tenth / 10, "catch-up", tenth * 4)
    for second in range(13, 100):  # then live, a report a second, to 99 s
        report(float(second), "live", 500 + second)
    line.finish()
    lines = out.getvalue().splitlines()
    # The first report, the catch-up's last, then one per 30 s of live, and the last.
    assert [ln.split()[1] for ln in lines] == ["catch-up", "catch-up", "live", "live", "live"]
    assert "events 496/1,000 (50%)" in lines[1]
    assert lines[2].startswith("00:43") and lines[3].startswith("01:13")
    assert lines[-1].startswith("01:39") and "events 599/1,000 (60%)" in lines[-1]
