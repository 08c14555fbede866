"""Every named query on DuckDB over a real lake of golden data, against the hand-written oracle."""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from qos_lake.adapters.duckdb_query import QueryResult, needs_time_bounds, run
from qos_lake.adapters.files import live_dataset_files
from qos_lake.domain.definitions import VIEW_COLUMNS, WORST_VIEWS
from qos_lake.domain.layout import VIEWS
from qos_lake.domain.named_query import NamedQuery
from qos_lake.domain.queries import QUERIES, QueryParams, named_query
from qos_lake.service import LakeReader
from qos_shared.catalogue import CATALOGUE
from qos_shared.testing.ivs import eventbridge_event, stored_record
from qos_shared.testing.views_oracle import views

from ..golden import (
    CHANNELS,
    FIRST_DAY,
    LAST_DAY,
    ORACLE,
    SHARE_METRICS,
    Record,
    Row,
    day_of,
    expected_metric_rows,
    expected_share_rows,
    generate,
    grouped,
    in_scope,
    same,
    write_lake,
)
from ..lake import BASE_MS, read_lake, summary

RECORDS = generate()
# The views the realtime engine would append to its views log, from the hand-written oracle.
VIEW_RECORDS = views(RECORDS)
ALL = [*RECORDS, *VIEW_RECORDS]

PARAMS = {
    "all days": QueryParams(FIRST_DAY, LAST_DAY),
    "one day": QueryParams(date(2026, 11, 2), date(2026, 11, 2)),
    "last two days, ios": QueryParams(date(2026, 11, 2), LAST_DAY, platform="ios"),
    "a quoted channel": QueryParams(FIRST_DAY, LAST_DAY, channel="O'Neil TV"),
    "country and channel": QueryParams(FIRST_DAY, LAST_DAY, channel="ch-news", country="FR"),
}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("golden")
    write_lake(RECORDS, base / "lake", base / "events.sqlite", VIEW_RECORDS)
    return base / "lake"


def expected_worst_views(view_records: list[Record]) -> list[Row]:
    """Each day's lowest scores (ties by view_id), ranked from 1, with their fields."""
    rows: list[Row] = []
    for (day,), of_day in grouped(view_records, ("day",)).items():
        scored = [v for v in of_day if v["score"] is not None]
        scored.sort(key=lambda v: (v["score"], v["view_id"]))
        for rank, v in enumerate(scored[:WORST_VIEWS], start=1):
            rows.append((day, rank, *(v[c] for c in VIEW_COLUMNS)))
    return sorted(rows, key=lambda row: (row[0], row[1]))


def expected_view_scores(view_records: list[Record]) -> list[Row]:
    rows = [(day_of(v), *(v[c] for c in VIEW_COLUMNS)) for v in view_records]
    return sorted(rows, key=lambda row: (row[0], row[1]))


def stream_durations(records: list[Record]) -> dict[tuple[str, str], list[float]]:
    """Each (start day, channel)'s stream durations in minutes: a stream (its `stream_id`) from
    its first Stream Start to its last Stream End, both among `records`."""
    starts: dict[tuple[str, str], Record] = {}
    ends: dict[tuple[str, str], int] = {}
    for r in records:
        if r["metric_type"] != "STREAM_STATE":
            continue
        key = (r["channel_watched"], r["stream_id"])
        if r["event_name"] == "Stream Start":
            if key not in starts or r["event_time"] < starts[key]["event_time"]:
                starts[key] = r
        elif r["event_name"] == "Stream End":
            ends[key] = max(ends.get(key, r["event_time"]), r["event_time"])
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for key, start in starts.items():
        if key in ends and ends[key] >= start["event_time"]:
            out[(day_of(start), key[0])].append((ends[key] - start["event_time"]) / 60000)
    return out


def expected_stream_durations(records: list[Record]) -> list[Row]:
    """Per (day, channel): how many streams, their median (interpolated), mean and longest."""
    return [
        (day, channel, len(d), statistics.median(d), statistics.fmean(d), max(d))
        for (day, channel), d in sorted(stream_durations(records).items())
    ]


def expected(query: NamedQuery, records: list[Record]) -> list[Row]:
    """The oracle's rows of a query over records (events and view records) in its scope."""
    if query.name == "stream-durations":
        return expected_stream_durations(records)
    if query.tables == ("views",):
        records = [r for r in records if r["metric_type"] == "VIEW"]
    if query.name == "worst-views":
        return expected_worst_views(records)
    if query.name == "view-scores":
        return expected_view_scores(records)
    metrics = {name for _, name in query.metric_columns}
    if metrics <= SHARE_METRICS:
        return expected_share_rows(records, query.group_columns[:-1])
    return expected_metric_rows(records, query.group_columns, query.metric_columns, query.rank_by)


def test_the_golden_data_is_spread_over_days_and_values() -> None:
    days = {r["event_time"] // 86_400_000 for r in RECORDS}
    assert len(days) == 3 and len(RECORDS) > 5_000
    assert {r["channel_watched"] for r in RECORDS} == set(CHANNELS)
    assert any("viewer_country" not in r for r in RECORDS)


@pytest.mark.parametrize("label", PARAMS)
@pytest.mark.parametrize("name", QUERIES)
def test_every_query_gives_the_oracles_rows(lake: Path, name: str, label: str) -> None:
    query, params = QUERIES[name], PARAMS[label]
    result = run(lake, query, params)
    assert result.columns == query.columns
    want = expected(query, in_scope(ALL, params))
    # The stream records have no platform or country, and a stream spans more than a day.
    streams_out = name == "stream-durations" and label != "all days"
    assert want or streams_out, "the oracle expects rows: the case checks something"
    assert same(result.rows, want), (result.rows[:5], want[:5])


@pytest.mark.parametrize("name", ["kpis-by-country", "rendition-share-by-platform"])
def test_a_range_wider_than_the_data_gives_all_of_it(lake: Path, name: str) -> None:
    params = QueryParams(date(2026, 10, 1), date(2026, 12, 31))
    query = named_query(name)
    assert same(run(lake, query, params).rows, expected(query, ALL))


@pytest.mark.parametrize(
    "name", ["popular-channels", "kpis-by-platform", "rendition-share", "worst-views"]
)
def test_the_reader_answers_with_the_oracles_rows_as_json_values(lake: Path, name: str) -> None:
    query, params = QUERIES[name], PARAMS["last two days, ios"]
    answer = LakeReader(lake).query(query, params)
    assert answer.columns == query.columns
    assert answer.empty_reason is None
    assert same(
        [tuple(r[c] for c in answer.columns) for r in answer.rows],
        expected(query, in_scope(ALL, params)),
    )
    plain = (bool, int, float, str, type(None))
    assert all(isinstance(v, plain) for row in answer.rows for v in row.values())


def test_the_reader_says_why_an_answer_is_empty(lake: Path, tmp_path: Path) -> None:
    query = named_query("kpis")
    nothing = LakeReader(tmp_path / "no-lake").query(query, PARAMS["all days"])
    assert (nothing.columns, nothing.rows) == ((), [])
    assert nothing.empty_reason == (
        "The lake has no data yet (the lake writer commits a flush every few seconds once"
        " events arrive)."
    )
    far = LakeReader(lake).query(query, QueryParams(date(2020, 1, 1), date(2020, 1, 2)))
    assert far.empty_reason == "The lake has no data from 2020-01-01 to 2020-01-02."
    unmatched = QueryParams(FIRST_DAY, LAST_DAY, channel="no-such-channel")
    answer = LakeReader(lake).query(query, unmatched)
    assert answer.rows == [] and answer.columns == run(lake, query, unmatched).columns
    assert answer.empty_reason == "No rows match these filters in this date range."


def test_every_catalogue_metric_has_a_lake_query_that_agrees_with_the_oracle(lake: Path) -> None:
    assert set(ORACLE) | SHARE_METRICS == {m.name for m in CATALOGUE}
    covered = {metric for q in QUERIES.values() for _, metric in q.metric_columns}
    assert covered == {m.name for m in CATALOGUE}
    params = PARAMS["all days"]
    by_day = run(lake, named_query("kpis"), params).records()
    days = sorted({str(row["day"]) for row in by_day})
    assert days == ["2026-11-01", "2026-11-02", "2026-11-03"]
    scoped = in_scope(ALL, params)
    for row in by_day:
        of_day = [r for r in scoped if day_of(r) == row["day"]]
        for metric, oracle in ORACLE.items():
            assert same([(row[metric],)], [(oracle(of_day),)]), (row["day"], metric)
    shares = run(lake, named_query("rendition-share"), params).records()
    assert {row["rendition_name"] for row in shares} == {"1080p", "720p", "480p"}
    for day in days:
        total = sum(row["rendition_share"] for row in shares if row["day"] == day)
        assert abs(total - 100.0) < 1e-9


def test_the_dashboard_queries_are_there_with_their_columns(lake: Path) -> None:
    params = PARAMS["all days"]
    dashboard = ["popular-channels", "popular-platforms", "average-buffer-time"]
    dashboard += ["startup-latency", "live-latency"]
    columns = {name: run(lake, named_query(name), params).columns for name in dashboard}
    assert columns["popular-channels"] == ("channel_watched", "sessions", "viewer_minutes")
    assert columns["popular-platforms"] == ("client_platform", "sessions", "viewer_minutes")
    assert columns["average-buffer-time"] == ("day", "rebuffering_ratio")
    assert columns["startup-latency"] == (
        "day",
        "startup_time_p50",
        "startup_time_p95",
        "startup_time",
    )
    assert columns["live-latency"] == ("day", "live_latency_p50", "live_latency_p95")


@pytest.mark.parametrize(
    "channel", ["x'; DROP TABLE events; --", "O'Neil TV' OR '1'='1", "' OR 1=1 --", "%"]
)
def test_a_filter_value_is_bound_never_spliced_into_the_text(lake: Path, channel: str) -> None:
    params = QueryParams(FIRST_DAY, LAST_DAY, channel=channel)
    result: QueryResult = run(lake, named_query("popular-channels"), params)
    assert result.rows == []
    # The lake is untouched: the same query without the filter still answers.
    assert run(lake, named_query("popular-channels"), PARAMS["all days"]).rows


def test_groups_of_one_kind_of_record_or_of_none_the_catalogue_knows_are_all_there(
    tmp_path: Path,
) -> None:
    """The KPI queries aggregate PLAYBACK_SUMMARY records and the others in separate passes:
    a group with only one kind (or only records no metric counts) still has its row."""
    base = {"channel_watched": "ch-news", "is_live": True, "source_format": "v1"}
    at = BASE_MS + 3_600_000
    records: list[Record] = [
        # web: summaries only
        {**base, "session_id": "w1", "client_platform": "web", "metric_type": "PLAYBACK_SUMMARY",
         "event_time": at, "event_id": "w1-1", "playing_time_ms": 60_000, "buffering_time_ms": 0,
         "buffering_count": 0, "error_count": 0, "live_latency_ms": 4_000},
        {**base, "session_id": "w1", "client_platform": "web", "metric_type": "PLAYBACK_SUMMARY",
         "event_time": at + 60_000, "event_id": "w1-2", "playing_time_ms": 0,
         "buffering_time_ms": 2_000, "buffering_count": 1, "error_count": 1,
         "live_latency_ms": 5_000, "bitrate_bps": 3_000_000},
        # ios: a start that failed, no summary
        {**base, "session_id": "i1", "client_platform": "ios", "metric_type": "ATTEMPT",
         "event_time": at, "event_id": "i1-1"},
        {**base, "session_id": "i1", "client_platform": "ios", "metric_type": "ERROR",
         "event_time": at + 900, "event_id": "i1-2", "fatal": True, "phase": "startup"},
        # tv: a type no metric reads
        {**base, "session_id": "t1", "client_platform": "tv", "metric_type": "HEARTBEAT",
         "event_time": at, "event_id": "t1-1"},
    ]  # fmt: skip
    write_lake(records, tmp_path / "lake", tmp_path / "events.sqlite")
    params = QueryParams(FIRST_DAY, FIRST_DAY)
    for name in ["kpis-by-platform", "popular-platforms", "average-buffer-time", "live-latency"]:
        query = named_query(name)
        result = run(tmp_path / "lake", query, params)
        want = expected(query, in_scope(records, params))
        assert same(result.rows, want), (name, result.rows, want)
    rows = run(tmp_path / "lake", named_query("kpis-by-platform"), params).records()
    assert {r["client_platform"] for r in rows} == {"web", "ios", "tv"}


def _now_clear_of_an_hour_boundary() -> int:
    """Now in ms, at least 10 s into a UTC hour and a minute before the next (the test's records,
    up to 5 s old, and their log times must fall in one hour's partition)."""
    into = time.time() % 3600
    if into > 3540 or into < 10:
        time.sleep((3610 - into) % 3600)
    return int(time.time() * 1000)


@pytest.mark.parametrize("name", ["kpis-by-platform", "popular-channels", "rendition-share"])
def test_rows_without_a_usable_time_are_out_of_scope_beside_good_rows_of_their_file(
    tmp_path: Path, name: str
) -> None:
    """A row without a usable event_time goes in the partition of its log time (now), in the
    same file as good rows of this hour. Locally such a file is read through the scope's time
    bounds, where other files are read without them (`queries.local`): the answers are those of
    the bounds on every row, over today and over a range that starts before 1970."""
    now = _now_clear_of_an_hour_boundary()
    good = [summary(now - 1_000 * n, client_platform=p) for n, p in enumerate(["web", "ios"] * 3)]
    bad = [
        summary(now, client_platform="tv"),  # event_time then removed
        summary(-5, client_platform="tv"),  # before 1970
        summary(10**17, client_platform="tv"),  # beyond the year 9999
        summary(now, client_platform="tv", event_time="soon"),  # not a number
    ]
    del bad[0]["event_time"]
    old = [summary(BASE_MS, client_platform="web")]  # a good file of another day
    write_lake([*old, *good, *bad], tmp_path / "lake", tmp_path / "events.sqlite")
    today = datetime.fromtimestamp(now / 1000, UTC).date()
    hour = datetime.fromtimestamp(now / 1000, UTC).strftime("%H")
    rows = read_lake(tmp_path / "lake")
    shared = [r for r in rows if r["dt"] == today.isoformat() and r["hour"] == hour]
    assert {r["client_platform"] for r in shared} == {"web", "ios", "tv"}, "one file holds both"
    files = live_dataset_files(tmp_path / "lake")
    with duckdb.connect() as con:
        bounded = needs_time_bounds(con, files)
    assert {Path(f).parent.parent.name for f in bounded} == {f"dt={today}"}
    assert len(bounded) < len(files), "the other day's file is read without bounds"
    # The oracle's scope is the Trino text's: the time bounds on every row.
    timed = [r for r in [*old, *good, *bad] if isinstance(r.get("event_time"), int)]
    timed = [r for r in timed if r["event_time"] < 10**17]
    query, params = named_query(name), QueryParams(today, today)
    result = run(tmp_path / "lake", query, params)
    assert same(result.rows, expected(query, in_scope(timed, params))), result.rows
    # From 1960 the -5 row is in range by its time (its dt is its log time's: the oracle's days
    # are event days, so this is checked on a query without days).
    query, params = named_query("popular-platforms"), QueryParams(date(1960, 1, 1), today)
    result = run(tmp_path / "lake", query, params)
    assert same(result.rows, expected(query, in_scope(timed, params))), result.rows
    assert "tv" in {r["client_platform"] for r in result.records()}


def test_queries_on_several_threads_at_once_each_read_their_own_range(lake: Path) -> None:
    """Queries share the process's DuckDB database, each on a connection with its own view of
    its own files: run side by side, every one still gives its sequential answer."""
    jobs = [(name, label) for name in ("kpis-by-platform", "popular-channels") for label in PARAMS]
    alone = {job: run(lake, QUERIES[job[0]], PARAMS[job[1]]).rows for job in jobs}
    assert len({repr(rows) for rows in alone.values()}) == len(jobs), "the answers differ"
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            (job, pool.submit(run, lake, QUERIES[job[0]], PARAMS[job[1]])) for job in jobs * 3
        ]
        for job, future in futures:
            assert same(future.result().rows, alone[job]), job


def test_a_file_gone_since_the_listing_is_duckdbs_io_error(tmp_path: Path) -> None:
    """A compaction may delete a file between the listing and the read: the caller sees
    DuckDB's IOException, which the dashboards retry once, whichever step meets it first."""
    write_lake(RECORDS[:500], tmp_path / "lake", tmp_path / "events.sqlite")
    files = live_dataset_files(tmp_path / "lake")
    files[0].unlink()
    with duckdb.connect() as con, pytest.raises(duckdb.IOException):
        needs_time_bounds(con, files)


def test_every_event_posted_twice_changes_no_answer(lake: Path, tmp_path: Path) -> None:
    """Every golden event sent twice (a client re-sending batches whose replies it lost, later
    and with a new arrival time): the local lake holds each event_id once, and every named query
    gives the same rows as over the events sent once."""
    resent = [{**r, "received_at": r["received_at"] + 60_000} for r in RECORDS]
    twice = tmp_path / "twice"
    write_lake([*RECORDS, *resent], twice, tmp_path / "events.sqlite", [*VIEW_RECORDS] * 2)
    params = PARAMS["all days"]
    for name, query in QUERIES.items():
        once, both = run(lake, query, params).rows, run(twice, query, params).rows
        assert len(both) == len(once) and same(both, once), name


def test_the_golden_views_have_what_the_tests_need() -> None:
    """Every outcome; views whose only record is their ATTEMPT; fatal errors without `phase`;
    sessions a pause split in two views; views that close on the day after their last record."""
    assert {v["outcome"] for v in VIEW_RECORDS} == {
        "played",
        "abandoned",
        "exit_before_start",
        "start_failure",
        "playback_failure",
    }
    assert any(v["records"] == 1 and v["attempt_time"] is not None for v in VIEW_RECORDS)
    assert any(r["metric_type"] == "ERROR" and r.get("fatal") and "phase" not in r for r in RECORDS)
    per_session: dict[str, int] = {}
    for v in VIEW_RECORDS:
        per_session[v["session_id"]] = per_session.get(v["session_id"], 0) + 1
    assert any(n > 1 for n in per_session.values()), "a pause splits a view"
    assert any(day_of(v) != day_of({"event_time": v["view_end"]}) for v in VIEW_RECORDS)
    assert sum(v["score"] is None for v in VIEW_RECORDS) > 0


def test_the_views_table_holds_the_views_log_by_close_time(lake: Path) -> None:
    """Every view record of the log once, every field as the realtime engine wrote it, in the
    dt=/hour= partition of its close time (`event_time`)."""
    files = live_dataset_files(lake, table=VIEWS)
    assert files and all(f.parent.parent.parent.name == "views" for f in files)
    rows = duckdb.execute(
        "SELECT * FROM read_parquet($files, hive_partitioning = true,"
        " hive_types = {'dt': VARCHAR, 'hour': VARCHAR}) ORDER BY event_id",
        {"files": [str(f) for f in files]},
    )
    names = [d[0] for d in rows.description]
    got = [dict(zip(names, row, strict=True)) for row in rows.fetchall()]
    want = sorted(VIEW_RECORDS, key=lambda v: v["event_id"])
    assert len(got) == len(want)
    for row, view in zip(got, want, strict=True):
        closed = datetime.fromtimestamp(view["event_time"] / 1000, UTC)
        assert (row.pop("dt"), row.pop("hour")) == (
            closed.date().isoformat(),
            closed.strftime("%H"),
        )
        assert same([tuple(row.values())], [tuple(view.values())]), (row, view)
        assert list(row) == list(view)


def test_the_kpis_and_the_view_kpis_agree_on_the_view_metrics(lake: Path) -> None:
    params = PARAMS["all days"]
    for by in ("", "-by-platform", "-by-channel"):
        all_rows = run(lake, named_query(f"kpis{by}"), params).records()
        of_views = run(lake, named_query(f"view-kpis{by}"), params).records()
        assert of_views
        for row in of_views:
            key = {k: row[k] for k in named_query(f"view-kpis{by}").group_columns}
            (match,) = [r for r in all_rows if all(r[k] == v for k, v in key.items())]
            for _, metric in named_query(f"view-kpis{by}").metric_columns:
                assert same([(match[metric],)], [(row[metric],)]), (key, metric)


def test_views_by_outcome_add_up_to_the_views(lake: Path) -> None:
    params = PARAMS["all days"]
    by_outcome = run(lake, named_query("views-by-outcome"), params).records()
    assert {r["outcome"] for r in by_outcome} == {v["outcome"] for v in VIEW_RECORDS}
    assert sum(r["views"] for r in by_outcome) == len(VIEW_RECORDS)


def test_a_lake_without_views_answers_the_view_queries_as_empty(tmp_path: Path) -> None:
    """No views log flushed yet: the KPIs over events answer (views 0, view ratios none), the
    queries of views alone say the range has no data."""
    write_lake(RECORDS[:800], tmp_path / "lake", tmp_path / "events.sqlite")
    params = PARAMS["all days"]
    rows = run(tmp_path / "lake", named_query("kpis"), params).records()
    assert rows and all(r["views"] == 0 and r["video_start_failure"] is None for r in rows)
    answer = LakeReader(tmp_path / "lake").query(named_query("view-kpis"), params)
    assert answer.rows == [] and answer.empty_reason is not None


def test_stream_durations_pair_each_stream_s_start_and_end(tmp_path: Path) -> None:
    """Four streams of one channel (10, 20, 30 and 100 minutes: an even count, so the median
    interpolates), one without its end, one redelivered, another channel's stream: the median,
    mean and longest of each channel's complete streams."""
    day_ms = BASE_MS - BASE_MS % 86_400_000 + 3_600_000  # 01:00 on the golden first day
    events = []
    for n, minutes in enumerate([10, 20, 30, 100]):
        start = day_ms + n * 600_000
        events += [
            eventbridge_event("Stream Start", channel_id="a", stream_id=f"st-a{n}", time_ms=start),
            eventbridge_event(
                "Stream End", channel_id="a", stream_id=f"st-a{n}", time_ms=start + minutes * 60_000
            ),
        ]
    events.append(
        eventbridge_event("Stream Start", channel_id="a", stream_id="st-open", time_ms=day_ms)
    )
    events.append(events[0])  # EventBridge delivered it twice: one record (same id)
    events += [
        eventbridge_event("Stream Start", channel_id="b", stream_id="st-b", time_ms=day_ms),
        eventbridge_event("Stream End", channel_id="b", stream_id="st-b", time_ms=day_ms + 90_000),
    ]
    records = [stored_record(e, day_ms + 86_000_000) for e in events]
    write_lake(records, tmp_path / "lake", tmp_path / "events.sqlite")
    day = datetime.fromtimestamp(day_ms / 1000, UTC).date()
    result = run(tmp_path / "lake", named_query("stream-durations"), QueryParams(day, day))
    assert same(
        result.rows,
        [
            (day.isoformat(), "a", 4, 25.0, 40.0, 100.0),
            (day.isoformat(), "b", 1, 1.5, 1.5, 1.5),
        ],
    ), result.rows
