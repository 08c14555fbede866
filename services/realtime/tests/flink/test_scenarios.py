"""The messy-input scenarios (`qos_shared.testing.scenarios`) through the Flink job on the local
mini-cluster: every metric of every window and group against the oracle.

Sessions that send only ATTEMPT, fatal errors without phase, clients 10 minutes fast and slow, one
event an hour ahead amid old players' traffic, a replay of ten-minute-old events with a pause,
every request sent twice, two identical legacy records in one envelope. The job reads what the
ingest Lambda puts on the stream for those requests: ingest's stored records (clock corrected,
the hour-ahead event clamped, by the rules written in `scenarios`), each request's records once
per time it was sent (the stream has no deduplication: a retried request's records come again,
with the same ids), every request received 40 ms after it went. The oracle counts each event_id
once; no record is late (the requests go in order, a second at most after their events).
"""

from __future__ import annotations

from collections import Counter

import pytest

from qos_realtime.domain.records import parse_row
from qos_realtime.domain.rows import MetricRow
from qos_shared.catalogue import LATE_EVENTS
from qos_shared.testing.scenarios import (
    REPLAY_AGE_MS,
    SCENARIOS,
    channel,
    first_of_each,
    ingested,
    live_sends,
    replay_sends,
)

from .conftest import run_job
from .events import BASE_MS, LATENESS_S, ORACLE, WINDOW_S, Record, oracle_rows
from .test_parity import by_key, close

pytestmark = pytest.mark.flink

LATENCY_MS = 40


def stream() -> list[Record]:
    """The records on the stream, in the order the requests were received."""
    replay = replay_sends(BASE_MS + REPLAY_AGE_MS)
    sends = [*replay, *live_sends(replay[-1].due_ms + 2_000)]
    sent_at = [s.sent_at(s.due_ms) for s in sends]
    received_at = [s.due_ms + LATENCY_MS for s in sends]
    return ingested(sends, sent_at, received_at)


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return stream()


@pytest.fixture(scope="module")
def rows(records: list[Record], tmp_path_factory: pytest.TempPathFactory) -> list[MetricRow]:
    lines = run_job(records, tmp_path_factory.mktemp("scenarios"))
    return [row for row in map(parse_row, lines) if isinstance(row, MetricRow)]


def test_the_stream_holds_every_scenario_copies_and_twins_included(records: list[Record]) -> None:
    kept = first_of_each(records)
    assert {r["channel_watched"] for r in kept} == {channel(s) for s in SCENARIOS}
    copies = len(records) - len(kept)
    assert copies == sum(1 for r in kept if r["channel_watched"] == channel("twice"))
    sources = Counter(r["event_time_source"] for r in kept)
    assert sources["clamped"] == 2 and sources["corrected"] > 20
    newest = 0
    for r in records:  # within the lateness: nothing late
        assert r["event_time"] > newest - LATENESS_S * 1000
        newest = max(newest, r["event_time"])


def test_every_metric_of_every_window_and_group_is_the_oracle_s(
    records: list[Record], rows: list[MetricRow]
) -> None:
    assert [r for r in rows if r.metric == LATE_EVENTS] == []
    expected = oracle_rows(first_of_each(records), window_s=WINDOW_S)
    assert len(expected) > 1000
    got = {k: r.value for k, r in by_key(rows).items() if k[1] in {*ORACLE, "rendition_share"}}
    assert set(got) == set(expected), (
        f"only got: {sorted(set(got) - set(expected))[:5]}, "
        f"only expected: {sorted(set(expected) - set(got))[:5]}"
    )
    wrong = {k: (got[k], v) for k, v in expected.items() if not close(got[k], v)}
    assert not wrong, f"{len(wrong)} rows differ from the oracle, e.g. {list(wrong.items())[:5]}"
    # The scenarios' own channels: what each was meant to show.
    ebvs = [
        v
        for (w, m, d, c, _), v in expected.items()
        if m == "exits_before_video_start" and c == channel("attempt-only") and v
    ]
    vsf = [
        v
        for (w, m, d, c, _), v in expected.items()
        if m == "video_start_failure" and c == channel("fatal-no-phase") and v
    ]
    assert ebvs and vsf
