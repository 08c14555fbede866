"""Duplicates and late records on the local mini-cluster.

Kinesis delivers at least once: the job keeps the first record of each `event_id`. Records whose
window has closed (behind the watermark) become `late_events` rows instead of vanishing. Each
test runs the job over the golden records rearranged (`conftest.run_job`: parallelism 1 and a
watermark after every record, so the file's order alone decides what is late) and checks its rows
against the job's rows for the records once, the local engine, and a count made here.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from qos_realtime.domain.distributions import DistributionRow
from qos_realtime.domain.records import parse_row
from qos_realtime.domain.rows import MetricRow
from qos_realtime.entrypoints import flink_job as job
from qos_shared.catalogue import LATE_EVENTS

from .conftest import read_parts, run_job
from .events import CHANNELS, WINDOW_S, Record
from .late import WINDOW_MS, late_by_watermark, window_of
from .test_parity import by_key, close

pytestmark = pytest.mark.flink


def split_rows(lines: list[str]) -> tuple[list[MetricRow], list[MetricRow], list[DistributionRow]]:
    """(catalogue metric rows, late_events rows, distribution rows) of the job's output, but for
    the correction rows (`corrections`)."""
    rows = [parse_row(line) for line in lines if not parse_row(line).correction]
    metrics = [r for r in rows if isinstance(r, MetricRow)]
    distributions = [r for r in rows if isinstance(r, DistributionRow)]
    assert len(metrics) + len(distributions) == len(rows), "a line is neither row type"
    late = [r for r in metrics if r.metric == LATE_EVENTS]
    return [r for r in metrics if r.metric != LATE_EVENTS], late, distributions


def assert_same_metric_rows(got: list[MetricRow], expected: list[MetricRow]) -> None:
    got_keyed, expected_keyed = by_key(got), by_key(expected)
    assert set(got_keyed) == set(expected_keyed), (
        f"only got: {sorted(set(got_keyed) - set(expected_keyed))[:5]}, "
        f"only expected: {sorted(set(expected_keyed) - set(got_keyed))[:5]}"
    )
    wrong = {
        k: (got_keyed[k].value, v.value)
        for k, v in expected_keyed.items()
        if not close(got_keyed[k].value, v.value)
    }
    assert not wrong, f"{len(wrong)} rows differ, e.g. {list(wrong.items())[:5]}"


def distribution_key(row: DistributionRow) -> tuple[object, ...]:
    return (row.window_start, row.source, row.dimension, row.dimension_value, tuple(row.values))


def local_rows(records: list[Record]) -> list[MetricRow]:
    from qos_realtime.adapters.window_engine import compute_rows

    return compute_rows(records, window_s=WINDOW_S, top_n=len(CHANNELS))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pyflink's own, on import
def test_one_deduplication_serves_both_inserts_and_expires_after_the_ttl(tmp_path: Path) -> None:
    """The compiled plan of the job's statement set (pyflink wraps no `compilePlan`: the Java
    object's): one deduplication operator, whose state has the job's TTL. (Without
    `job.JOB_SETTINGS` each INSERT would plan its own copy, with a state of its own.)"""
    statements = job.file_statements(
        str(tmp_path / "in.ndjson"), str(tmp_path / "out"), window_s=WINDOW_S
    )
    env = job.table_environment(parallelism=1, config=job.file_config(1234))
    statement_set = env._j_tenv.createStatementSet()
    for statement in statements:
        if job.is_insert(statement):
            statement_set.addInsertSql(statement)
        else:
            env.execute_sql(statement)
    nodes = json.loads(statement_set.compilePlan().asJsonString())["nodes"]
    deduplications = [n for n in nodes if n["type"].startswith("stream-exec-deduplicate")]
    assert len(deduplications) == 1
    assert [s["ttl"] for s in deduplications[0]["state"]] == ["1234 s"]


# --- every record twice --------------------------------------------------------------------------


def twice(records: list[Record]) -> list[Record]:
    """Every record, then a copy of it: a third of the copies right after it, a third about 40
    records later (windows still open), a third after the last record (minutes later: behind the
    watermark by then, so a copy must not count as late either)."""
    placed: list[tuple[int, int, Record]] = []
    for i, record in enumerate(records):
        placed.append((i, 0, record))
        position = (i, i + 40, len(records) + i)[i % 3]
        placed.append((position, 1, dict(record)))
    placed.sort(key=lambda p: (p[0], p[1]))
    return [record for _, _, record in placed]


@pytest.fixture(scope="module")
def twice_work(records: list[Record], tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("twice")
    run_job(twice(records), work)
    return work


@pytest.fixture(scope="module")
def twice_output(twice_work: Path) -> list[str]:
    return read_parts(twice_work / "rows")


def test_the_input_has_every_record_twice_near_and_far(records: list[Record]) -> None:
    doubled = twice(records)
    ids = [r["event_id"] for r in doubled]
    assert Counter(ids) == Counter({r["event_id"]: 2 for r in records})
    first = {i: ids.index(i) for i in set(ids)}
    last = {i: len(ids) - 1 - ids[::-1].index(i) for i in set(ids)}
    gaps = Counter(
        "adjacent" if last[i] - first[i] == 1 else "far" if last[i] - first[i] > 30 else "near"
        for i in first
    )
    assert gaps["adjacent"] > 100 and gaps["far"] > 200


def test_duplicates_change_no_row(job_output: list[str], twice_output: list[str]) -> None:
    once_metrics, once_late, once_distributions = split_rows(job_output)
    metrics, late, distributions = split_rows(twice_output)
    assert once_late == [] and late == []
    assert_same_metric_rows(metrics, once_metrics)
    assert distributions, "no distribution rows"
    assert Counter((distribution_key(d), tuple(d.counts)) for d in distributions) == Counter(
        (distribution_key(d), tuple(d.counts)) for d in once_distributions
    )


def test_duplicates_change_no_view(job_views: list[dict[str, object]], twice_work: Path) -> None:
    doubled = [json.loads(line) for line in read_parts(twice_work / "views")]
    assert job_views, "no view records"
    assert sorted(map(_text, doubled)) == sorted(map(_text, job_views))


def _text(view: object) -> str:
    return json.dumps(view, sort_keys=True)


def test_duplicates_count_once_as_the_local_engine_counts_the_records_once(
    records: list[Record], twice_output: list[str]
) -> None:
    metrics, _, _ = split_rows(twice_output)
    assert_same_metric_rows(metrics, local_rows(records))


# --- late records --------------------------------------------------------------------------------


def corrections(lines: list[str]) -> tuple[list[MetricRow], list[DistributionRow]]:
    """The correction rows of the job's output: (MetricRows, DistributionRows)."""
    rows = [r for r in map(parse_row, lines) if r.correction]
    metrics = [r for r in rows if isinstance(r, MetricRow)]
    return metrics, [r for r in rows if isinstance(r, DistributionRow)]


def test_the_moved_records_are_late_and_the_others_not(
    records: list[Record], late_input: list[Record]
) -> None:
    late, on_time = late_by_watermark(late_input)
    moved = {r["event_id"] for r in records} - {r["event_id"] for r in on_time}
    windows = sorted({window_of(r) for r in records})[:2]
    assert sum(late.values()) == len(moved) > 20
    assert set(late) == set(windows)
    assert len(on_time) + len(moved) == len(records)


def test_late_records_become_late_events_rows(
    late_input: list[Record], late_output: list[str]
) -> None:
    expected, _ = late_by_watermark(late_input)
    _, late_rows, _ = split_rows(late_output)
    for row in late_rows:
        assert (row.dimension, row.dimension_value, row.split, row.final) == ("all", "", "", True)
        assert row.window_end == row.window_start + WINDOW_MS
        assert row.value == 1.0
    got: Counter[int] = Counter()
    for row in late_rows:
        got[row.window_start] += int(row.value or 0)
    assert got == expected


def test_the_windows_exclude_the_late_records(
    late_input: list[Record], late_output: list[str]
) -> None:
    _, on_time = late_by_watermark(late_input)
    metrics, _, _ = split_rows(late_output)
    assert_same_metric_rows(metrics, local_rows(on_time))
