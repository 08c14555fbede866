"""Rows to CloudWatch metric data: names, units, dimensions, timestamps, values, what is skipped.

Expected names and units are written out by hand from METRICS.md and the original sample's
dashboard (namespace, `ClientPlatform`, STARTUP_TIME in Seconds, ...), not read from the code.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qos_realtime.domain.datums import (
    MetricDatum,
    PublisherConfig,
    SkipReason,
    StatisticSet,
    Translation,
    translate,
)
from qos_realtime.domain.distributions import DistributionRow
from qos_realtime.domain.naming import LEGACY, PUBLISHED, camel_case, percentile_statistic
from qos_realtime.domain.rows import MetricRow
from qos_shared.catalogue import CATALOGUE

NOW = 1_750_000_000_000
START = NOW - 120_000
END = START + 60_000
CONFIG = PublisherConfig(channels=frozenset({"news", "sports"}))

# catalogue name -> (CloudWatch name, unit, statistic that reads a window back)
EXPECTED_NAMES = {
    "startup_time": ("StartupTimeMean", "Seconds", "Average"),
    "errors": ("Errors", "Count", "Sum"),
    "rebuffering_ratio": ("RebufferingRatio", "Percent", "Average"),
    "live_latency": ("LiveLatencyMean", "Seconds", "Average"),
    "concurrency": ("Concurrency", "Count", "Average"),
    "attempts": ("Attempts", "Count", "Sum"),
    "plays": ("Plays", "Count", "Sum"),
    "views": ("Views", "Count", "Sum"),
    "video_start_failure": ("VideoStartFailure", "Percent", "Average"),
    "exits_before_video_start": ("ExitsBeforeVideoStart", "Percent", "Average"),
    "startup_time_p50": ("StartupTime", "Seconds", "p50"),
    "startup_time_p90": ("StartupTime", "Seconds", "p90"),
    "startup_time_p95": ("StartupTime", "Seconds", "p95"),
    "rebuffer_frequency": ("RebufferFrequency", "None", "Average"),
    "playback_failure": ("PlaybackFailure", "Percent", "Average"),
    "average_bitrate": ("AverageBitrate", "Bits/Second", "Average"),
    "rendition_share": ("RenditionShare", "Percent", "Average"),
    "quality_switches_up": ("QualitySwitchesUp", "Count", "Sum"),
    "quality_switches_down": ("QualitySwitchesDown", "Count", "Sum"),
    "live_latency_p50": ("LiveLatency", "Seconds", "p50"),
    "live_latency_p95": ("LiveLatency", "Seconds", "p95"),
    "concurrent_viewers": ("ConcurrentViewers", "Count", "Average"),
    "watch_time": ("WatchTime", "None", "Sum"),
    "experience_score": ("ExperienceScore", "None", "Average"),
    # A distinct count per window is a level (Average across windows); event counts add up.
    "live_channels": ("LiveChannels", "Count", "Average"),
    "stream_starts": ("StreamStarts", "Count", "Sum"),
    "stream_ends": ("StreamEnds", "Count", "Sum"),
    "stream_failures": ("StreamFailures", "Count", "Sum"),
    "starvations": ("Starvations", "Count", "Sum"),
    "late_events": ("LateEvents", "Count", "Sum"),
}
# The original sample's KDA SQL: METRIC_TYPE and METRIC_UNIT of each output row.
ORIGINAL_FIVE = {
    "STARTUP_TIME": "Seconds",
    "ERRORS": "Count",
    "BUFFER_RATIO": "Percent",
    "LIVE_LATENCY": "Seconds",
    "CONCURRENCY": "Count",
}


def row(
    metric: str, value: float | None, dimension: str = "all", dv: str = "", **kw: object
) -> MetricRow:
    return MetricRow(START, END, metric, dimension, dv, value, **kw)  # type: ignore[arg-type]


def test_every_catalogue_metric_has_its_expected_cloudwatch_name() -> None:
    assert set(PUBLISHED) == {m.name for m in CATALOGUE} | {"late_events"}
    got = {k: (p.name, p.unit, p.statistic) for k, p in PUBLISHED.items()}
    assert got == EXPECTED_NAMES


def test_legacy_names_and_units_are_the_original_sample_s() -> None:
    assert {name: p.unit for name, p in LEGACY.items()} == ORIGINAL_FIVE


@pytest.mark.parametrize(
    ("name", "expected"),
    [("video_start_failure", "VideoStartFailure"), ("plays", "Plays"), ("a__b", "AB")],
)
def test_camel_case(name: str, expected: str) -> None:
    assert camel_case(name) == expected


@pytest.mark.parametrize(("q", "stat"), [(0.5, "p50"), (0.95, "p95"), (0.999, "p99.9")])
def test_percentile_statistic(q: float, stat: str) -> None:
    assert percentile_statistic(q) == stat


def test_platform_row_of_an_original_metric_publishes_its_legacy_name_too() -> None:
    translation = translate(
        row("rebuffering_ratio", 2.5, "client_platform", "web"), CONFIG, now_ms=NOW
    )
    dims = (("ClientPlatform", "web"),)
    assert translation.skipped is None
    assert translation.datums == (
        MetricDatum("IVS/QoS", "RebufferingRatio", "Percent", START, dims, value=2.5),
        MetricDatum("IVS/QoS", "BUFFER_RATIO", "Percent", START, dims, value=2.5),
    )


def test_legacy_names_can_go_to_the_old_dashboards_namespace_or_nowhere() -> None:
    old = PublisherConfig(legacy_namespace="qos-stack-QoS/PlayerSummary")
    datums = translate(row("concurrency", 7, "client_platform", "ios"), old, now_ms=NOW).datums
    assert [(d.namespace, d.name) for d in datums] == [
        ("IVS/QoS", "Concurrency"),
        ("qos-stack-QoS/PlayerSummary", "CONCURRENCY"),
    ]
    assert old.namespaces == ("IVS/QoS", "qos-stack-QoS/PlayerSummary")

    off = PublisherConfig(legacy_metrics=False, legacy_namespace="elsewhere")
    datums = translate(row("concurrency", 7, "client_platform", "ios"), off, now_ms=NOW).datums
    assert [d.name for d in datums] == ["Concurrency"]
    assert off.namespaces == ("IVS/QoS",)


def test_all_rows_are_dimensionless_and_publish_no_legacy_name() -> None:
    (datum,) = translate(row("startup_time", 1.25), CONFIG, now_ms=NOW).datums
    assert datum == MetricDatum("IVS/QoS", "StartupTimeMean", "Seconds", START, (), value=1.25)


def test_channels_are_published_only_when_allowed() -> None:
    (datum,) = translate(row("plays", 3, "channel_watched", "news"), CONFIG, now_ms=NOW).datums
    assert datum.dimensions == (("Channel", "news"),)
    skipped = translate(row("plays", 3, "channel_watched", "other"), CONFIG, now_ms=NOW)
    assert skipped == translate(row("plays", 3, "channel_watched", "x"), CONFIG, now_ms=NOW)
    assert skipped.skipped is SkipReason.CHANNEL_NOT_ALLOWED
    assert skipped.datums == ()


def test_share_rows_carry_the_rendition() -> None:
    share = row("rendition_share", 62.5, "client_platform", "android", split="720p")
    (datum, *legacy) = translate(share, CONFIG, now_ms=NOW).datums
    assert legacy == []
    assert datum.name == "RenditionShare"
    assert datum.dimensions == (("ClientPlatform", "android"), ("Rendition", "720p"))
    no_split = translate(row("rendition_share", 1.0), CONFIG, now_ms=NOW)
    assert no_split.skipped is SkipReason.BAD_DIMENSION


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (row("errors", 1, final=False), SkipReason.PROVISIONAL),
        (row("startup_time_p95", 3.2), SkipReason.PERCENTILE_ROW),
        (row("live_latency_p50", 3.2, "client_platform", "web"), SkipReason.PERCENTILE_ROW),
        (row("video_start_failure", None), SkipReason.NO_VALUE),
        (row("errors", float("nan")), SkipReason.NO_VALUE),
        (row("no_such_metric", 1.0), SkipReason.UNKNOWN_METRIC),
        (row("errors", 1, "client_platform", ""), SkipReason.BAD_DIMENSION),
        (
            MetricRow(NOW - 15 * 86_400_000, NOW, "errors", "all", "", 1.0),
            SkipReason.OUT_OF_TIME_RANGE,
        ),
        (
            MetricRow(NOW + 3 * 3_600_000, NOW, "errors", "all", "", 1.0),
            SkipReason.OUT_OF_TIME_RANGE,
        ),
    ],
)
def test_rows_that_publish_nothing(bad: MetricRow, reason: SkipReason) -> None:
    assert translate(bad, CONFIG, now_ms=NOW) == Translation(skipped=reason)


def test_late_events_are_a_count() -> None:
    (datum,) = translate(row("late_events", 4), CONFIG, now_ms=NOW).datums
    assert (datum.name, datum.unit, datum.value) == ("LateEvents", "Count", 4)


def distribution(values: list[float], counts: list[int], **kw: object) -> DistributionRow:
    fields: dict[str, object] = {
        "window_start": START,
        "window_end": END,
        "source": "startup_latency_ms",
        "dimension": "client_platform",
        "dimension_value": "web",
        "values": values,
        "counts": counts,
        **kw,
    }
    return DistributionRow(**fields)  # type: ignore[arg-type]


def test_distribution_values_are_scaled_to_seconds_under_the_base_name() -> None:
    (datum,) = translate(distribution([1200.0, 3400.0], [2, 1]), CONFIG, now_ms=NOW).datums
    assert datum == MetricDatum(
        "IVS/QoS",
        "StartupTime",
        "Seconds",
        START,
        (("ClientPlatform", "web"),),
        values=(1.2, 3.4),
        counts=(2.0, 1.0),
    )
    (live,) = translate(
        distribution([2500.0], [9], source="live_latency_ms", dimension="all", dimension_value=""),
        CONFIG,
        now_ms=NOW,
    ).datums
    assert (live.name, live.unit, live.dimensions, live.values, live.counts) == (
        "LiveLatency",
        "Seconds",
        (),
        (2.5,),
        (9.0,),
    )


def test_a_large_distribution_is_split_into_datums_of_150_values() -> None:
    values = [float(v) for v in range(1, 401)]
    datums = translate(distribution(values, [1] * 400), CONFIG, now_ms=NOW).datums
    assert [len(d.values) for d in datums] == [150, 150, 100]
    assert {(d.name, d.dimensions, d.timestamp_ms) for d in datums} == {
        ("StartupTime", (("ClientPlatform", "web"),), START)
    }
    assert [v for d in datums for v in d.values] == pytest.approx([v / 1000 for v in values])


def test_distribution_rows_follow_the_row_rules() -> None:
    assert (
        translate(distribution([1.0], [1], final=False), CONFIG, now_ms=NOW).skipped
        is SkipReason.PROVISIONAL
    )
    assert (
        translate(distribution([1.0], [1], source="bitrate_bps"), CONFIG, now_ms=NOW).skipped
        is SkipReason.UNKNOWN_METRIC
    )
    channel = distribution([1.0], [1], dimension="channel_watched", dimension_value="vod-42")
    assert translate(channel, CONFIG, now_ms=NOW).skipped is SkipReason.CHANNEL_NOT_ALLOWED


def test_api_shape_of_a_datum() -> None:
    single = MetricDatum("IVS/QoS", "Errors", "Count", START, (("ClientPlatform", "web"),), 3.0)
    assert single.to_api() == {
        "MetricName": "Errors",
        "Timestamp": datetime.fromtimestamp(START / 1000, tz=UTC),
        "Unit": "Count",
        "StorageResolution": 60,
        "Dimensions": [{"Name": "ClientPlatform", "Value": "web"}],
        "Value": 3.0,
    }
    dist = MetricDatum("IVS/QoS", "StartupTime", "Seconds", START, values=(1.0,), counts=(2.0,))
    api = dist.to_api()
    assert (api["Values"], api["Counts"]) == ([1.0], [2.0])
    assert "Value" not in api
    assert "Dimensions" not in api


def test_a_datum_is_checked_against_cloudwatch_s_rules() -> None:
    with pytest.raises(ValueError, match="one of a value, values, statistics"):
        MetricDatum("N", "M", "Count", 0)
    with pytest.raises(ValueError, match="at most 150"):
        MetricDatum("N", "M", "Count", 0, values=(1.0,) * 151, counts=(1.0,) * 151)
    with pytest.raises(ValueError, match="30 dimensions"):
        MetricDatum("N", "M", "Count", 0, tuple((f"d{i}", "v") for i in range(31)), 1.0)


# --- statistic sets and corrections --------------------------------------------------------------


def average_over(datums: list[MetricDatum]) -> float:
    """What CloudWatch's Average is over these datums of one metric (values count one sample
    each, a statistic set its SampleCount), computed here from the API's fields."""
    total = samples = 0.0
    for datum in datums:
        api = datum.to_api()
        if "StatisticValues" in api:
            total += api["StatisticValues"]["Sum"]
            samples += api["StatisticValues"]["SampleCount"]
        else:
            total += api["Value"]
            samples += 1
    return total / samples


def test_a_ratio_with_its_aggregates_is_a_statistic_set_weighted_by_its_denominator() -> None:
    # rebuffering_ratio in percent: 30 s stalled over 600 s watched.
    (datum,) = translate(
        row("rebuffering_ratio", 5.0, numerator=30_000, denominator=600_000), CONFIG, now_ms=NOW
    ).datums
    assert datum.value is None
    assert datum.to_api()["StatisticValues"] == {
        "SampleCount": 600_000.0,
        "Sum": 3_000_000.0,
        "Minimum": 5.0,
        "Maximum": 5.0,
    }
    assert "Value" not in datum.to_api()


def test_final_and_corrections_average_to_the_value_over_all_records() -> None:
    """A mean's final row over 4 startups (1, 2, 3, 6 s), then two corrections of late startups
    (10 s; 0.5 s and 1.5 s): CloudWatch's Average of the window is the mean of all seven."""
    final = row("startup_time", 3.0, numerator=12_000, denominator=4)
    first = row("startup_time", 10.0, numerator=10_000, denominator=1, correction=True)
    second = row("startup_time", 1.0, numerator=2_000, denominator=2, correction=True)
    datums = [d for r in (final, first, second) for d in translate(r, CONFIG, now_ms=NOW).datums]
    assert {(d.name, d.timestamp_ms) for d in datums} == {("StartupTimeMean", START)}
    assert average_over(datums) == pytest.approx((1 + 2 + 3 + 6 + 10 + 0.5 + 1.5) / 7)


def test_a_legacy_name_gets_the_same_statistic_set() -> None:
    platform = row("startup_time", 2.0, "client_platform", "web", numerator=8_000, denominator=4)
    datums = translate(platform, CONFIG, now_ms=NOW).datums
    assert [d.name for d in datums] == ["StartupTimeMean", "STARTUP_TIME"]
    assert {d.statistics for d in datums} == {StatisticSet(4.0, 8.0, 2.0, 2.0)}


def test_count_corrections_add_to_the_sum_and_empty_ones_are_not_sent() -> None:
    final = translate(row("plays", 7.0, numerator=7.0), CONFIG, now_ms=NOW).datums
    late = translate(row("plays", 2.0, numerator=2.0, correction=True), CONFIG, now_ms=NOW)
    assert sum(d.value or 0.0 for d in [*final, *late.datums]) == 9.0
    assert all(d.statistics is None for d in [*final, *late.datums])
    nothing = translate(row("errors", 0.0, numerator=0.0, correction=True), CONFIG, now_ms=NOW)
    assert nothing == Translation(skipped=SkipReason.NO_CHANGE)


def test_a_ratio_over_a_zero_denominator_and_a_row_without_aggregates() -> None:
    zero = row("rebuffering_ratio", None, numerator=0.0, denominator=0.0, correction=True)
    assert translate(zero, CONFIG, now_ms=NOW) == Translation(skipped=SkipReason.NO_VALUE)
    # The local engine's rows carry no aggregates: the value itself, one sample.
    (datum,) = translate(row("rebuffering_ratio", 5.0), CONFIG, now_ms=NOW).datums
    assert datum.value == 5.0 and datum.statistics is None


def test_a_distribution_correction_is_values_like_any_distribution_row() -> None:
    late = distribution([1500.0], [1], correction=True)
    (datum,) = translate(late, CONFIG, now_ms=NOW).datums
    assert (datum.name, datum.values, datum.counts) == ("StartupTime", (1.5,), (1.0,))


def test_a_statistic_set_is_checked() -> None:
    with pytest.raises(ValueError, match="positive sample count"):
        StatisticSet(sample_count=0.0, sum=0.0, minimum=0.0, maximum=0.0)
    with pytest.raises(ValueError, match="one of a value"):
        MetricDatum("N", "M", "None", START, value=1.0, statistics=StatisticSet(1, 1, 1, 1))
