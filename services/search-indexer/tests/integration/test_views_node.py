"""Views in search on a real OpenSearch node: the view records of golden sessions, put in the
views log as the realtime engine puts them, end up indexed once each in `qos-views-*` (also when
sent again, by the local indexer or the Lambda's stream path), and every panel over views, run
as Dashboards runs it, equals the independent truth per one-minute window of close time
(`qos_shared.testing.oracle` for the catalogue's view KPIs, plain Python for the others).

The sessions are `panels_support.generate()`'s, made messy (`panels_support.messy`): sessions
that lose their last record (an exit before start is then an ATTEMPT alone), fatal errors
without a `phase`, and pauses that split a session in two views. The expected views come from
the hand-written oracle (`views_oracle.views`), never from the indexer.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from opensearchpy import OpenSearch

from qos_search_indexer.adapters.deadletter_store import DeadLetterStore
from qos_search_indexer.adapters.opensearch import OpenSearchCluster
from qos_search_indexer.api import (
    LOCAL_INDEXER_MODULE,
    VIEWS_INDEX_PATTERN,
    apply_index_design,
    build_indexer,
    client_for,
    index_for,
    view_index_for,
)
from qos_search_indexer.dashboards import panels
from qos_search_indexer.dashboards.panels import Panel
from qos_search_indexer.dashboards.saved_objects import views_search_body
from qos_search_indexer.service import IndexerConfig, SearchIndexer, StreamConfig, StreamIndexer
from qos_shared.eventlog import EventLog, LogEntry, LogRecord
from qos_shared.testing.oracle import Record
from qos_shared.testing.views_oracle import views

from ..panel_checks import PLATFORM_FILTERS, check_panel
from ..panels_support import generate, messy, time_range

RECORDS = messy(generate(seed=7, sessions=90))
VIEWS = views(RECORDS)
VIEW_PANELS = [p for p in panels.all_panels() if p.over_views]


@dataclass
class Indexed:
    client: OpenSearch
    appended: list[tuple[int, int]]  # (appended, duplicates) of each append to the views log
    counts: list[int]  # documents in qos-views-* after each delivery
    dead_letters: int


def as_log_records(vs: list[Record]) -> list[LogRecord]:
    """The views as the realtime engine appends them to its views log."""
    return [LogRecord(v["event_id"], v["session_id"], orjson.dumps(v)) for v in vs]


def drain(indexer: SearchIndexer) -> None:
    while indexer.poll().read:
        pass


def count(client: OpenSearch) -> int:
    client.indices.refresh(index=VIEWS_INDEX_PATTERN)
    return int(client.count(index=VIEWS_INDEX_PATTERN)["count"])


@pytest.fixture(scope="module")
def indexed(opensearch_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    tmp = tmp_path_factory.mktemp("views")
    client = client_for(opensearch_url)
    client.indices.delete(index=VIEWS_INDEX_PATTERN, ignore_unavailable=True)
    apply_index_design(client)
    store = DeadLetterStore(tmp / "dead.sqlite")
    config = IndexerConfig(batch_size=40, refresh=True)
    appended: list[tuple[int, int]] = []
    counts: list[int] = []
    try:
        log = EventLog(tmp / "views.sqlite", synchronous="NORMAL")
        for _ in range(2):  # the engine appends again after a restart: the log keeps one
            result = log.append(as_log_records(VIEWS))
            appended.append((result.appended, result.duplicates))
        indexer = build_indexer(log, client, store, config)
        drain(indexer)
        counts.append(count(client))
        # Sent again: a new views log with the same views (rebuilt from the events), indexed
        # from its start, in another order.
        again = EventLog(tmp / "views-again.sqlite", synchronous="NORMAL")
        again.append(as_log_records(list(reversed(VIEWS))))
        second = build_indexer(again, client, store, config)
        drain(second)
        counts.append(count(client))
        # And through the Lambda's path: a Kinesis batch of the same views, delivered twice.
        stream = StreamIndexer(OpenSearchCluster(client), store, StreamConfig(refresh=True))
        batch = [
            LogEntry(1_000 + i, "", v["session_id"], orjson.dumps(v), 0)
            for i, v in enumerate(VIEWS)
        ]
        for _ in range(2):
            outcome = stream.index(batch)
            assert (outcome.indexed, outcome.failed, outcome.parked) == (len(VIEWS), {}, [])
            counts.append(count(client))
        for closing in (indexer, second):
            closing.close()
        for closing_log in (log, again):
            closing_log.close()
        yield Indexed(client, appended, counts, store.count())
    finally:
        store.close()
        client.indices.delete(index=VIEWS_INDEX_PATTERN, ignore_unavailable=True)
        client.close()


def test_the_messy_data_has_what_the_tests_need() -> None:
    outcomes = Counter(v["outcome"] for v in VIEWS)
    assert set(outcomes) == {
        "played",
        "abandoned",
        "exit_before_start",
        "start_failure",
        "playback_failure",
    }, outcomes
    assert any(r["metric_type"] == "ERROR" and r.get("fatal") and "phase" not in r for r in RECORDS)
    alone = [v for v in VIEWS if v["records"] == 1 and v["attempt_time"] is not None]
    assert alone, "sessions whose only record is their ATTEMPT"
    per_session = Counter(v["session_id"] for v in VIEWS)
    split = [s for s, n in per_session.items() if n > 1]
    assert split, "a pause that splits a session in two views"
    assert any(v["attempt_time"] is None for v in VIEWS if v["session_id"] in split)
    assert any(v["score"] is None for v in VIEWS) and any(v["score"] for v in VIEWS)
    # Views close over more than one minute: the panels have several windows to check.
    assert len({v["event_time"] // 60_000 for v in VIEWS}) > 5


def test_every_view_is_indexed_once_under_its_event_id(indexed: Indexed) -> None:
    assert indexed.appended == [(len(VIEWS), 0), (0, len(VIEWS))]
    assert indexed.counts == [len(VIEWS)] * 4
    assert indexed.dead_letters == 0
    response = indexed.client.search(
        index=VIEWS_INDEX_PATTERN, body={"size": 10_000, "query": {"match_all": {}}}
    )
    hits = response["hits"]["hits"]
    by_id = {v["event_id"]: v for v in VIEWS}
    assert sorted(h["_id"] for h in hits) == sorted(by_id)
    for hit in hits:
        view = by_id[hit["_id"]]
        assert hit["_index"] == view_index_for(view["event_time"])
        assert same(hit["_source"], view), hit["_id"]


def same(got: dict[str, Any], want: Record) -> bool:
    if set(got) != set(want):
        return False
    for name, value in want.items():
        if isinstance(value, float) or isinstance(got[name], float):
            if not math.isclose(got[name], value, rel_tol=1e-12, abs_tol=1e-12):
                return False
        elif got[name] != value:
            return False
    return True


@pytest.mark.parametrize("platform", PLATFORM_FILTERS, ids=lambda p: p or "all")
@pytest.mark.parametrize("panel", VIEW_PANELS, ids=lambda p: p.id)
def test_view_panel_matches_the_independent_truth(
    indexed: Indexed, panel: Panel, platform: str | None
) -> None:
    check_panel(indexed.client, panel, RECORDS + VIEWS, platform)


def test_every_view_kpi_of_the_catalogue_has_a_view_panel() -> None:
    drawn = {p.metric for p in VIEW_PANELS if p.metric}
    assert drawn == {
        "views",
        "video_start_failure",
        "exits_before_video_start",
        "playback_failure",
        "experience_score",
    }


def test_the_saved_search_lists_views_worst_score_first(indexed: Indexed) -> None:
    start, end = time_range(VIEWS)
    body = views_search_body(start_ms=start, end_ms=end)
    hits = indexed.client.search(index=VIEWS_INDEX_PATTERN, body=body)["hits"]["hits"]
    assert len(hits) == len(VIEWS)
    scored = sorted(v["score"] for v in VIEWS if v["score"] is not None)
    got = [h["_source"]["score"] for h in hits]
    assert got[: len(scored)] == pytest.approx(scored)
    assert all(s is None for s in got[len(scored) :])  # views without a score come last


DAY_MS = 86_400_000


def test_the_local_indexer_process_indexes_the_event_log_and_the_views_log(
    opensearch_url: str, tmp_path: Path
) -> None:
    """`qos-search-indexer run` as `qos up` starts it: both logs, each to its own indices."""
    shift = 2 * DAY_MS  # a day of its own: nothing else writes there

    def moved(r: Record) -> Record:
        return dict(r, event_time=r["event_time"] + shift, event_id=f"{r['event_id']}:p")

    events = [moved(r) for r in RECORDS[:60]]
    shifted = [moved(v) for v in VIEWS]
    event_log = EventLog(tmp_path / "events.sqlite")
    event_log.append([LogRecord(r["event_id"], r["session_id"], orjson.dumps(r)) for r in events])
    event_log.close()
    views_log = EventLog(tmp_path / "views.sqlite")
    views_log.append(as_log_records(shifted))
    views_log.close()
    event_index = index_for(events[0]["event_time"])
    view_indices = sorted({view_index_for(v["event_time"]) for v in shifted})
    client = client_for(opensearch_url)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            LOCAL_INDEXER_MODULE,
            "run",
            "--url",
            opensearch_url,
            "--log-path",
            str(tmp_path / "events.sqlite"),
            "--dead-letter-path",
            str(tmp_path / "dead.sqlite"),
            "--views-log-path",
            str(tmp_path / "views.sqlite"),
            "--views-dead-letter-path",
            str(tmp_path / "views-dead.sqlite"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        counts: tuple[int, int] = (0, 0)
        while time.monotonic() < deadline and counts != (len(events), len(shifted)):
            time.sleep(0.5)
            counts = (_count(client, event_index), _count(client, ",".join(view_indices)))
        assert counts == (len(events), len(shifted))
        # Views went to the views' indices only, events to the events' only.
        assert _count(client, event_index, "VIEW") == 0
        assert _count(client, ",".join(view_indices), "VIEW") == len(shifted)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
        client.indices.delete(index=",".join([event_index, *view_indices]), ignore_unavailable=True)
        client.close()
    assert process.returncode == 0, output
    assert "0 record(s) and 0 view(s) left to index" in output
    # Quiet: one summary line (here the stop's), no batch lines at INFO, no urllib3 warnings.
    assert f"indexed {len(events)} records (" in output, output
    assert f"and {len(shifted)} views in " in output, output
    assert "Connection pool is full" not in output and "indexed 60 of" not in output, output


def _count(client: OpenSearch, index: str, metric_type: str | None = None) -> int:
    if not client.indices.exists(index=index, allow_no_indices=False):
        return 0
    client.indices.refresh(index=index)
    query = {"match_all": {}} if metric_type is None else {"term": {"metric_type": metric_type}}
    return int(client.count(index=index, body={"query": query})["count"])
