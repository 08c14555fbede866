"""The Flink job's distribution rows on the local mini-cluster, against a plain-Python oracle.

The job runs once for the session (`conftest.job_output`) over the golden records. Every line it
writes must be a row the CloudWatch publisher reads and publishes; its distribution rows, merged
per (window, source, group), must hold exactly the values of that group's records.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from qos_realtime.adapters.flink import sql
from qos_realtime.domain.datums import PublisherConfig, SkipReason, translate
from qos_realtime.domain.distributions import DistributionRow, distribution_row
from qos_realtime.domain.records import parse_row
from qos_realtime.domain.rows import MetricRow

from .events import CHANNELS, WINDOW_S, DistributionKey, Record, oracle_distributions

pytestmark = pytest.mark.flink


@pytest.fixture(scope="module")
def distribution_rows(job_output: list[str]) -> list[DistributionRow]:
    return [row for row in map(parse_row, job_output) if isinstance(row, DistributionRow)]


@pytest.fixture(scope="module")
def by_group(
    distribution_rows: list[DistributionRow],
) -> dict[DistributionKey, list[DistributionRow]]:
    """Each (window, source, group)'s rows, ordered by their values."""
    groups: dict[DistributionKey, list[DistributionRow]] = defaultdict(list)
    for row in distribution_rows:
        groups[row.key()].append(row)
    return {k: sorted(rows, key=lambda r: r.values[0]) for k, rows in groups.items()}


def test_the_publisher_reads_and_publishes_every_row_the_job_writes(job_output: list[str]) -> None:
    rows = [parse_row(line) for line in job_output]  # a MalformedRow fails the test
    kinds = Counter(type(row) for row in rows)
    assert kinds[MetricRow] > 0 and kinds[DistributionRow] > 0
    assert kinds.total() == len(job_output)
    config = PublisherConfig(channels=frozenset(CHANNELS))
    skipped: Counter[SkipReason | None] = Counter()
    for row in rows:
        translation = translate(row, config, now_ms=row.window_start)
        if isinstance(row, DistributionRow):
            assert translation.skipped is None, f"{row} not published: {translation.skipped}"
            assert sum(len(d.values) for d in translation.datums) == len(row.values)
        else:
            skipped[translation.skipped] += 1
    # Metric rows publish, except the percentiles (the distributions stand for them) and nulls.
    assert set(skipped) <= {None, SkipReason.PERCENTILE_ROW, SkipReason.NO_VALUE}
    assert skipped[None] > 0


def test_rows_are_final_sorted_histograms_of_whole_windows(
    distribution_rows: list[DistributionRow],
) -> None:
    assert {row.source for row in distribution_rows} == set(sql.DISTRIBUTION_SOURCES)
    for row in distribution_rows:
        assert row.final is True
        assert row.window_start % (WINDOW_S * 1000) == 0
        assert row.window_end - row.window_start == WINDOW_S * 1000
        assert (row.dimension == "all") == (row.dimension_value == "")
        assert row.values, "a row without values"
        assert all(a < b for a, b in zip(row.values, row.values[1:], strict=False))
        assert all(count > 0 for count in row.counts)
        # A row holds one chunk of consecutive integers (which bounds its size).
        assert len({int(v) // sql.DISTRIBUTION_CHUNK for v in row.values}) == 1


def test_every_group_holds_exactly_its_values(
    records: list[Record], by_group: dict[DistributionKey, list[DistributionRow]]
) -> None:
    expected = oracle_distributions(records, window_s=WINDOW_S)
    assert set(by_group) == set(expected), (
        f"only Flink: {sorted(set(by_group) - set(expected))[:5]}, "
        f"only the oracle: {sorted(set(expected) - set(by_group))[:5]}"
    )
    wrong = {}
    for key, rows in by_group.items():
        pairs = sorted(expected[key].items())
        got = (
            [v for r in rows for v in r.values],
            [c for r in rows for c in r.counts],
        )
        if got != ([float(v) for v, _ in pairs], [c for _, c in pairs]):
            wrong[key] = (got, pairs)
        # One row per group, unless its values span several chunks: then one per chunk.
        assert len(rows) == len({v // sql.DISTRIBUTION_CHUNK for v in expected[key]})
    assert not wrong, f"{len(wrong)} groups differ from the oracle, e.g. {list(wrong.items())[:3]}"


def test_one_row_is_what_the_domain_builds_from_the_same_values(
    records: list[Record], by_group: dict[DistributionKey, list[DistributionRow]]
) -> None:
    expected = oracle_distributions(records, window_s=WINDOW_S)
    single = {k: rows[0] for k, rows in by_group.items() if len(rows) == 1}
    assert single
    for (start, source, dimension, value), row in single.items():
        assert row == distribution_row(
            window_start=start,
            window_end=start + WINDOW_S * 1000,
            source=source,
            dimension=row.dimension,
            dimension_value=value,
            raw_values=expected[(start, source, dimension, value)].elements(),
        )


def test_the_golden_data_exercises_repeats_and_split_rows(
    by_group: dict[DistributionKey, list[DistributionRow]],
) -> None:
    rows = [row for group in by_group.values() for row in group]
    assert any(count > 1 for row in rows for count in row.counts), "no value repeats"
    assert any(len(group) > 1 for group in by_group.values()), "no group takes two rows"
    assert {d for _, _, d, _ in by_group} == {"all", "client_platform", "channel_watched"}
    assert {v for _, _, d, v in by_group if d == "channel_watched"} == set(CHANNELS)
