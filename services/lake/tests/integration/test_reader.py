"""The lake's reader over a real lake and event log: sessions, timelines, known dimensions, and
the commit it reads at, against sums and sorts of the events written (the oracle)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from qos_lake.domain.queries import QUERIES, QueryParams
from qos_lake.service import LakeReader, WriterConfig, compact, run_query, write_log
from qos_lake.service import reader as service_reader
from qos_shared.eventlog import EventLog
from qos_shared.eventtime import utc_day

from ..lake import BASE_MS, HOUR_MS, append, summary

PLATFORMS = ("web", "ios", "android")
CHANNELS = ("channel-a", "channel-b", "O'Neil TV")
KINDS = ("PLAY", "PLAYBACK_SUMMARY", "PLAYBACK_SUMMARY", "ERROR", "STOP")


def make_events(seed: int, sessions: int, per_session: int) -> list[dict[str, Any]]:
    """Sessions of `per_session` events each over three hours, in time order; every event time is
    distinct, so "the first event's user" has one answer."""
    rng = random.Random(seed)
    times = rng.sample(range(3 * HOUR_MS), sessions * per_session)
    events: list[dict[str, Any]] = []
    for i, at in enumerate(sorted(times)):
        s = rng.randrange(sessions)
        kind = rng.choice(KINDS)
        event = summary(
            BASE_MS + at,
            metric_type=kind,
            session_id=f"s-{s:03d}",
            user_id=f"u-{rng.randrange(4)}",
            client_platform=PLATFORMS[(s + rng.randrange(2) * (i % 2)) % 3],
            channel_watched=CHANNELS[s % 3],
        )
        if kind == "ERROR":
            event["fatal"] = rng.random() < 0.5
        if i % 11 == 0:
            event["extra_fields"] = {"note": f"n{i}", "tries": i % 3}
        events.append(event)
    return events


EVENTS = make_events(seed=3, sessions=40, per_session=12)
IN_LAKE = 300  # the first events are written to the lake, the rest stay in the log's tail


def seed(tmp_path: Path) -> tuple[Path, Path]:
    """(lake root, event log path): the first IN_LAKE events committed, the rest only logged."""
    root, log_path = tmp_path / "lake", tmp_path / "events.sqlite"
    with EventLog(log_path) as log:
        append(log, EVENTS[:IN_LAKE])
        write_log(log, root, WriterConfig(flush_records=120, read_batch=50))
        append(log, EVENTS[IN_LAKE:])
    return root, log_path


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One seeded lake and log for the tests that only read them."""
    return seed(tmp_path_factory.mktemp("reader"))


def oracle_sessions(
    events: list[dict[str, Any]],
    start_ms: int,
    end_ms: int,
    platform: str | None = None,
    channel: str | None = None,
) -> list[dict[str, Any]]:
    """One row per session with an event in range, newest last event first."""
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if not start_ms <= e["event_time"] < end_ms:
            continue
        if platform is not None and e["client_platform"] != platform:
            continue
        if channel is not None and e["channel_watched"] != channel:
            continue
        by_session[e["session_id"]].append(e)
    rows = []
    for sid, mine in by_session.items():
        first = min(mine, key=lambda e: e["event_time"])
        kinds = [e["metric_type"] for e in mine]
        rows.append(
            {
                "session_id": sid,
                "user_id": first["user_id"],
                "client_platform": first["client_platform"],
                "channel_watched": first["channel_watched"],
                "first_event_ms": first["event_time"],
                "last_event_ms": max(e["event_time"] for e in mine),
                "events": len(mine),
                "played": "PLAY" in kinds,
                "errors": kinds.count("ERROR"),
                "fatal_error": any(e["metric_type"] == "ERROR" and e["fatal"] for e in mine),
                "ended": "STOP" in kinds,
            }
        )
    return sorted(rows, key=lambda r: (-r["last_event_ms"], r["session_id"]))


def test_the_events_reach_the_lake_and_the_tail() -> None:
    kinds = {e["metric_type"] for e in EVENTS}
    assert kinds == set(KINDS) and len({e["session_id"] for e in EVENTS}) == 40
    assert any(e.get("fatal") for e in EVENTS) and any(e.get("fatal") is False for e in EVENTS)
    lake_sessions = {e["session_id"] for e in EVENTS[:IN_LAKE]}
    assert lake_sessions & {e["session_id"] for e in EVENTS[IN_LAKE:]}, "sessions span both"


def test_the_reader_sees_the_commit_of_the_newest_marker(paths: tuple[Path, Path]) -> None:
    root, log_path = paths
    reader = LakeReader(root, log_path)
    assert reader.present and reader.committed() == IN_LAKE
    assert reader.log_present and reader.last_position() == len(EVENTS)
    reader.close()
    empty = LakeReader(root.parent / "no-lake", root.parent / "no-log.sqlite")
    assert not empty.present and empty.committed() == 0
    assert not empty.log_present and empty.last_position() == 0


@pytest.mark.parametrize(
    ("hours", "platform", "channel", "limit"),
    [
        ((0, 3), None, None, 1000),  # every session, from both the lake and the tail
        ((0, 3), None, None, 7),  # the newest seven, and the total of all
        ((1, 2), None, None, 1000),  # one hour: a session counts only its events in range
        ((0, 3), "ios", None, 1000),
        ((0, 3), None, "O'Neil TV", 5),
        ((0, 3), "ios", "channel-b", 1000),
    ],
)
def test_sessions_are_the_oracles(
    paths: tuple[Path, Path],
    hours: tuple[int, int],
    platform: str | None,
    channel: str | None,
    limit: int,
) -> None:
    root, log_path = paths
    start, end = BASE_MS + hours[0] * HOUR_MS, BASE_MS + hours[1] * HOUR_MS
    want = oracle_sessions(EVENTS, start, end, platform, channel)
    assert want, "the oracle expects sessions: the case checks something"
    reader = LakeReader(root, log_path)
    try:
        found = reader.sessions(start, end, platform, channel, limit)
    finally:
        reader.close()
    assert found.total == len(want) and not found.tail_truncated
    assert found.rows == want[:limit]


def test_sessions_without_a_log_are_the_lakes_alone(paths: tuple[Path, Path]) -> None:
    root, _ = paths
    start, end = BASE_MS, BASE_MS + 3 * HOUR_MS
    found = LakeReader(root).sessions(start, end, limit=1000)
    assert found.rows == oracle_sessions(EVENTS[:IN_LAKE], start, end)


def test_a_timeline_is_every_event_of_the_session_with_its_source(
    paths: tuple[Path, Path],
) -> None:
    root, log_path = paths
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for i, e in enumerate(EVENTS):
        counts[e["session_id"]][i >= IN_LAKE] += 1
    session_id = max(counts, key=lambda s: min(counts[s]))  # events in both places
    assert min(counts[session_id]) > 0
    in_lake = {e["event_id"] for e in EVENTS[:IN_LAKE]}
    want = sorted(
        (e for e in EVENTS if e["session_id"] == session_id),
        key=lambda e: (e["event_time"], e["event_id"]),
    )
    reader = LakeReader(root, log_path)
    try:
        found = reader.timeline(session_id, BASE_MS, BASE_MS + 3 * HOUR_MS)
        nothing = reader.timeline("no-such-session", BASE_MS, BASE_MS + 3 * HOUR_MS)
    finally:
        reader.close()
    assert not found.tail_truncated and nothing.events == []
    assert [e["event_id"] for e in found.events] == [e["event_id"] for e in want]
    for got, sent in zip(found.events, want, strict=True):
        source = "lake" if sent["event_id"] in in_lake else "log"
        assert got == {**sent, "source": source}  # null fields left out, extra_fields an object


def test_a_timeline_comes_in_pages_with_its_total(paths: tuple[Path, Path]) -> None:
    root, log_path = paths
    counts: dict[str, int] = defaultdict(int)
    for e in EVENTS:
        counts[e["session_id"]] += 1
    session_id = max(counts, key=lambda s: counts[s])
    want = [
        e["event_id"]
        for e in sorted(
            (e for e in EVENTS if e["session_id"] == session_id),
            key=lambda e: (e["event_time"], e["event_id"]),
        )
    ]
    assert len(want) >= 5
    size = len(want) // 3 + 1
    reader = LakeReader(root, log_path)
    try:
        pages = [
            reader.timeline(session_id, BASE_MS, BASE_MS + 3 * HOUR_MS, limit=size, offset=at)
            for at in range(0, len(want) + size, size)
        ]
        middle = want[1:-1]
        bounded = reader.timeline(
            session_id,
            BASE_MS,
            BASE_MS + 3 * HOUR_MS,
            limit=2,
            since_ms=next(e["event_time"] for e in EVENTS if e["event_id"] == middle[0]),
            until_ms=next(e["event_time"] for e in EVENTS if e["event_id"] == middle[-1]),
        )
        with pytest.raises(ValueError, match="limit"):
            reader.timeline(session_id, BASE_MS, BASE_MS + HOUR_MS, limit=0)
    finally:
        reader.close()
    assert all(page.total == len(want) for page in pages)
    assert all(len(page.events) <= size for page in pages)
    assert [e["event_id"] for page in pages for e in page.events] == want
    assert pages[-1].events == []  # past the end: no event, and still the total
    assert all("total" not in e for page in pages for e in page.events)
    # since/until bound the events by time (ties at the ends may add events of equal time).
    times = sorted(e["event_time"] for e in EVENTS if e["session_id"] == session_id)
    lo = next(e["event_time"] for e in EVENTS if e["event_id"] == middle[0])
    hi = next(e["event_time"] for e in EVENTS if e["event_id"] == middle[-1])
    assert bounded.total == sum(lo <= t <= hi for t in times)
    assert len(bounded.events) == 2


def test_a_tail_longer_than_the_cap_is_cut_to_its_newest_records(
    paths: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, log_path = paths
    cap = 40
    monkeypatch.setattr(service_reader, "TAIL_CAP", cap)
    start, end = BASE_MS, BASE_MS + 3 * HOUR_MS
    read = EVENTS[:IN_LAKE] + EVENTS[-cap:]
    reader = LakeReader(root, log_path)
    try:
        found = reader.sessions(start, end, limit=1000)
    finally:
        reader.close()
    assert found.tail_truncated
    assert found.rows == oracle_sessions(read, start, end)


def test_known_dimensions_are_the_lakes_and_survive_a_compaction(tmp_path: Path) -> None:
    root, _ = seed(tmp_path)
    platforms = sorted({e["client_platform"] for e in EVENTS[:IN_LAKE]})
    channels = sorted({e["channel_watched"] for e in EVENTS[:IN_LAKE]})
    reader = LakeReader(root)
    assert reader.known_dimensions() == (platforms, channels)
    assert any(r.merged is not None for r in compact(root))
    assert reader.known_dimensions() == (platforms, channels)
    assert LakeReader(root.parent / "no-lake").known_dimensions() == ([], [])


def test_an_answer_is_kept_until_the_lake_commits_again(tmp_path: Path) -> None:
    root, log_path = seed(tmp_path)
    query, day = QUERIES["popular-channels"], utc_day(BASE_MS)
    params = QueryParams(day, day + timedelta(days=1))
    reader = LakeReader(root)
    before = reader.query(query, params)
    assert reader.query(query, params) is before  # nothing committed since: the same answer
    with EventLog(log_path) as log:
        write_log(log, root)
    after = reader.query(query, params)
    assert reader.committed() == len(EVENTS)
    assert after.rows == run_query(root, query, params).records() != before.rows
