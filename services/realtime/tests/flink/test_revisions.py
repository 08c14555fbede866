"""Revisions on the local mini-cluster: late records within the revision horizon correct their
closed window, and a record far ahead of the others moves no one's watermark.

The late input is `test_duplicates_and_late`'s (half the records of the first two windows come
minutes late), with a revision horizon that the first window's records are beyond and the
second's within (`revision_horizon_s`). The expected values come from the hand-written oracle
(`events.oracle_rows`, `oracle_distributions`) over every record, and the CloudWatch side of the
combination is computed here from PutMetricData's fields (what `Sum` and `Average` over a period
are: the values and statistic sets' sums, over their sample counts).
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from qos_realtime.adapters.flink import sql
from qos_realtime.domain.datums import MetricDatum, PublisherConfig, translate
from qos_realtime.domain.naming import PUBLISHED
from qos_realtime.domain.records import parse_row
from qos_realtime.domain.rows import MetricRow

from .conftest import run_job
from .events import CHANNELS, WINDOW_S, Record, oracle_distributions, oracle_rows
from .late import WINDOW_MS, late_by_watermark
from .test_duplicates_and_late import assert_same_metric_rows, corrections, local_rows, split_rows
from .test_parity import close

pytestmark = pytest.mark.flink

# The metrics a late record can correct, by hand from METRICS.md: counts, sums, means and ratios
# over events (the IVS stream events' counts too). Not distinct counts (live channels among
# them), shares, nor the metrics over views (a late record joins no view); percentiles are
# corrected by distribution rows.
CORRECTABLE = {
    "stream_starts": "Sum",
    "stream_ends": "Sum",
    "stream_failures": "Sum",
    "starvations": "Sum",
    "startup_time": "Average",
    "live_latency": "Average",
    "rebuffering_ratio": "Average",
    "rebuffer_frequency": "Average",
    "average_bitrate": "Average",
    "errors": "Sum",
    "attempts": "Sum",
    "plays": "Sum",
    "quality_switches_up": "Sum",
    "quality_switches_down": "Sum",
    "watch_time": "Sum",
}
CONFIG = PublisherConfig(channels=frozenset(CHANNELS), legacy_metrics=False)
CloudWatchKey = tuple[str, tuple[tuple[str, str], ...], int]  # name, dimensions, timestamp


def test_the_job_corrects_the_additive_metrics_over_events() -> None:
    assert {m.name for m in sql.CORRECTABLE_METRICS} == set(CORRECTABLE)
    assert {name: PUBLISHED[name].statistic for name in CORRECTABLE} == CORRECTABLE


def _late_windows(late_input: list[Record]) -> tuple[int, int]:
    late, _ = late_by_watermark(late_input)
    beyond, within = sorted(late)
    return beyond, within


def cloudwatch_data(lines: list[str], now_ms: int) -> dict[CloudWatchKey, list[MetricDatum]]:
    """The datums the publisher sends for these rows, by metric, dimensions and timestamp."""
    out: dict[CloudWatchKey, list[MetricDatum]] = defaultdict(list)
    for line in lines:
        for datum in translate(parse_row(line), CONFIG, now_ms=now_ms).datums:
            out[(datum.name, datum.dimensions, datum.timestamp_ms)].append(datum)
    return out


def statistic(datums: list[MetricDatum], name: str) -> float | None:
    """CloudWatch's Sum or Average over these datums, from the API's fields."""
    total = samples = 0.0
    for datum in datums:
        api = datum.to_api()
        if "StatisticValues" in api:
            total += api["StatisticValues"]["Sum"]
            samples += api["StatisticValues"]["SampleCount"]
        elif "Value" in api:
            total += api["Value"]
            samples += 1
    if name == "Sum":
        return total
    return total / samples if samples else None


def _dimensions(dimension: str, value: str) -> tuple[tuple[str, str], ...]:
    return {
        "all": (),
        "client_platform": (("ClientPlatform", value),),
        "channel_watched": (("Channel", value),),
    }[dimension]


def test_late_records_within_the_horizon_correct_their_window_exactly(
    records: list[Record], late_input: list[Record], late_output: list[str]
) -> None:
    """Final rows plus correction rows, as CloudWatch combines them (statistic sets and values
    at the window's timestamp), give the oracle's value over every record, in every group."""
    _, within = _late_windows(late_input)
    expected = {
        k: v
        for k, v in oracle_rows(records, window_s=WINDOW_S).items()
        if k[0] == within and k[1] in CORRECTABLE
    }
    got = cloudwatch_data(late_output, now_ms=within + 60_000)
    checked = 0
    for (_, metric, dimension, value, _), want in expected.items():
        key = (PUBLISHED[metric].name, _dimensions(dimension, value), within)
        have = statistic(got.get(key, []), CORRECTABLE[metric])
        if want is None or (CORRECTABLE[metric] == "Sum" and want == 0):
            assert have in (None, 0.0), (key, have)
            continue
        assert have is not None and close(have, want), (key, have, want)
        checked += 1
    assert checked > 40
    # Without the corrections, the finals alone would be off: the test can tell.
    finals = [line for line in late_output if not parse_row(line).correction]
    got_finals = cloudwatch_data(finals, now_ms=within + 60_000)
    off = [
        k
        for k, want in expected.items()
        if want
        and not close(
            statistic(
                got_finals.get((PUBLISHED[k[1]].name, _dimensions(k[2], k[3]), within), []),
                CORRECTABLE[k[1]],
            ),
            want,
        )
    ]
    assert len(off) > 20


def test_correction_rows_are_per_window_deltas_of_records_within_the_horizon(
    late_input: list[Record], late_output: list[str]
) -> None:
    beyond, within = _late_windows(late_input)
    metrics, distributions = corrections(late_output)
    assert metrics and distributions
    assert {r.window_start for r in metrics} == {r.window_start for r in distributions} == {within}
    for row in metrics:
        assert row.final and row.metric in CORRECTABLE and row.split == ""
        assert row.window_end == within + WINDOW_MS
        assert row.numerator is not None
        assert (row.denominator is None) == (CORRECTABLE[row.metric] == "Sum")
    # Beyond the horizon: only late_events rows.
    _, late_rows, _ = split_rows(late_output)
    assert {r.window_start for r in late_rows} == {beyond, within}


def test_distribution_corrections_complete_the_windows_values(
    records: list[Record], late_input: list[Record], late_output: list[str]
) -> None:
    beyond, within = _late_windows(late_input)
    _, _, finals = split_rows(late_output)
    _, late_values = corrections(late_output)
    got: dict[tuple[int, str, str, str], Counter[int]] = defaultdict(Counter)
    for row in [*finals, *late_values]:
        for value, count in zip(row.values, row.counts, strict=True):
            got[row.key()][int(value)] += count
    expected = oracle_distributions(records, window_s=WINDOW_S)
    for key, values in expected.items():
        if key[0] == within:
            assert got[key] == values, key
    # Beyond the horizon the window keeps its on-time values only: some are missing.
    assert any(got[k] != v for k, v in expected.items() if k[0] == beyond)


# --- a record far ahead --------------------------------------------------------------------------


def with_one_record_ahead(records: list[Record], ahead_ms: int) -> list[Record]:
    """The golden records with, a third of the way in, a copy (its own event_id) of a playback
    summary whose client clock is `ahead_ms` ahead: its event time, not its receive time."""
    third = len(records) // 3
    summary = next(r for r in records[third:] if r["metric_type"] == "PLAYBACK_SUMMARY")
    ahead = {**summary, "event_id": "ahead-of-everyone", "event_time": summary["event_time"]}
    ahead["event_time"] = int(summary["event_time"]) + ahead_ms
    assert ahead["received_at"] < ahead["event_time"] - ahead_ms // 2
    return [*records[:third], ahead, *records[third:]]


@pytest.fixture(scope="module")
def ahead_input(records: list[Record]) -> list[Record]:
    return with_one_record_ahead(records, 3_600_000)


@pytest.fixture(scope="module")
def ahead_output(ahead_input: list[Record], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return run_job(ahead_input, tmp_path_factory.mktemp("ahead"))


def test_a_record_an_hour_ahead_makes_no_record_late(
    ahead_input: list[Record], ahead_output: list[str]
) -> None:
    """By the event times alone, the record an hour ahead would close every window behind it."""
    late_by_event_time, _ = late_by_watermark(ahead_input)
    assert sum(late_by_event_time.values()) > 500
    metrics, late, _ = split_rows(ahead_output)
    assert late == []
    assert corrections(ahead_output) == ([], [])
    assert_same_metric_rows(metrics, local_rows(ahead_input))


def test_a_record_an_hour_ahead_gets_the_oracles_windows(
    ahead_input: list[Record], ahead_output: list[str]
) -> None:
    metrics, _, _ = split_rows(ahead_output)
    got = {r.key(): r.value for r in metrics if r.metric in CORRECTABLE}
    expected = {
        k: v for k, v in oracle_rows(ahead_input, window_s=WINDOW_S).items() if k[1] in CORRECTABLE
    }
    assert set(expected) <= set(got)
    wrong = {k: (got[k], v) for k, v in expected.items() if not close(got[k], v)}
    assert not wrong, list(wrong.items())[:5]
    ahead_window = max(k[0] for k in expected)
    assert ahead_window - min(k[0] for k in expected) > 3_000_000
    assert got[(ahead_window, "errors", "all", "", "")] is not None


def _rows(lines: list[str]) -> list[MetricRow]:
    return [r for r in map(parse_row, lines) if isinstance(r, MetricRow)]


def test_rows_carry_their_aggregates(late_output: list[str]) -> None:
    """A final row's value is its aggregates' (numerator x scale, or numerator / denominator x
    scale), so that readers can combine them; the others carry none."""
    scales = {m.name: m.scale for m in sql.ADDITIVE_METRICS}
    for row in _rows(late_output):
        if row.metric not in scales:
            assert (row.numerator, row.denominator) == (None, None), row
            continue
        assert row.numerator is not None, row
        if row.denominator is None:
            assert close(row.value, row.numerator * scales[row.metric]), row
        elif row.denominator == 0:
            assert row.value is None, row
        else:
            assert close(row.value, row.numerator / row.denominator * scales[row.metric]), row
