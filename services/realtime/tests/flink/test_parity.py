"""The Flink job's metric rows on the local mini-cluster against the local engine and a
plain-Python oracle.

The job runs once for the session (`conftest.job_output`) over the golden records; here its
MetricRows, read back with the publisher's parser (the job's distribution rows are checked in
`test_distribution_rows`).
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

from qos_realtime.adapters.flink import sql
from qos_realtime.domain.records import parse_row
from qos_realtime.domain.rows import MetricRow
from qos_shared.catalogue import CATALOGUE

from .events import CHANNELS, LATENESS_S, ORACLE, WINDOW_S, Key, Record, oracle_rows

pytestmark = pytest.mark.flink


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@pytest.fixture(scope="module")
def flink_rows(job_output: list[str]) -> list[MetricRow]:
    rows = [row for row in map(parse_row, job_output) if isinstance(row, MetricRow)]
    assert rows, "the job wrote no metric row"
    return rows


def by_key(rows: list[MetricRow]) -> dict[Key, MetricRow]:
    keyed = {r.key(): r for r in rows}
    assert len(keyed) == len(rows), "duplicate rows"
    return keyed


def test_the_golden_data_is_out_of_order_within_the_lateness(records: list[Record]) -> None:
    times = [r["event_time"] for r in records]
    newest, backwards = 0, 0
    for t in times:
        backwards += t < newest
        assert t > newest - LATENESS_S * 1000, "a record would be late"
        newest = max(newest, t)
    assert backwards > len(records) // 10
    kinds = Counter(r["metric_type"] for r in records)
    assert set(kinds) == {"ATTEMPT", "PLAY", "PLAYBACK_SUMMARY", "QUALITY_CHANGED", "STOP", "ERROR"}
    assert any(
        r["metric_type"] == "ERROR" and r["fatal"] and r["phase"] == "startup" for r in records
    )
    assert any(r["metric_type"] == "STOP" and r.get("exit_before_start") for r in records)
    assert len({r["channel_watched"] for r in records}) == len(CHANNELS) <= 5


def test_rows_are_final_metric_rows_of_whole_windows(flink_rows: list[MetricRow]) -> None:
    names = {m.name for m in CATALOGUE}
    for row in flink_rows:
        assert row.final is True
        assert row.window_start % (WINDOW_S * 1000) == 0
        assert row.window_end - row.window_start == WINDOW_S * 1000
        assert row.metric in names
        assert (row.dimension == "all") == (row.dimension_value == "")
        assert (row.split != "") == (row.metric == "rendition_share")


def test_every_group_has_every_metric(flink_rows: list[MetricRow]) -> None:
    groups: dict[tuple[int, str, str], set[str]] = {}
    for row in flink_rows:
        if row.metric != "rendition_share":
            groups.setdefault((row.window_start, row.dimension, row.dimension_value), set()).add(
                row.metric
            )
    assert len(groups) > 20
    expected = {m.name for m in sql.GROUP_METRICS}
    assert all(metrics == expected for metrics in groups.values())


def test_no_record_was_dropped_as_late(records: list[Record], flink_rows: list[MetricRow]) -> None:
    plays = sum(r.value or 0 for r in flink_rows if r.metric == "plays" and r.dimension == "all")
    assert plays == sum(1 for r in records if r["metric_type"] == "PLAY")


def test_flink_matches_the_oracle(records: list[Record], flink_rows: list[MetricRow]) -> None:
    expected = oracle_rows(records, window_s=WINDOW_S)
    got = {
        k: r.value for k, r in by_key(flink_rows).items() if k[1] in {*ORACLE, "rendition_share"}
    }
    assert set(got) == set(expected)
    wrong = {k: (got[k], v) for k, v in expected.items() if not close(got[k], v)}
    assert not wrong, f"{len(wrong)} rows differ from the oracle, e.g. {list(wrong.items())[:5]}"
    assert sum(v is None for v in expected.values()) > 0, "the data should hit a null ratio"


def test_flink_matches_the_local_engine(records: list[Record], flink_rows: list[MetricRow]) -> None:
    from qos_realtime.adapters.window_engine import compute_rows

    local = by_key(compute_rows(records, window_s=WINDOW_S, top_n=len(CHANNELS)))
    flink = by_key(flink_rows)
    assert set(flink) == set(local), (
        f"only Flink: {sorted(set(flink) - set(local))[:5]}, "
        f"only local: {sorted(set(local) - set(flink))[:5]}"
    )
    wrong = {
        k: (flink[k].value, local[k].value)
        for k in local
        if not close(flink[k].value, local[k].value)
    }
    assert not wrong, f"{len(wrong)} rows differ, e.g. {list(wrong.items())[:5]}"
