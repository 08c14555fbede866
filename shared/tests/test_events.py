"""The event models: each type, the discriminator, the limits, the tolerated spellings."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from qos_shared.events import (
    CLIENT_EVENT_ADAPTER,
    Attempt,
    Enrichment,
    Error,
    EventBase,
    Play,
    PlaybackSummary,
    QualityChanged,
    Stop,
    StoredEvent,
)
from qos_shared.limits import (
    MAX_CHANNEL_CHARS,
    MAX_DURATION_MS,
    MAX_HOST_CHARS,
    MAX_STARTUP_MS,
    MAX_STRING_CHARS,
    MAX_URL_CHARS,
)

from .conftest import common


def parse(data: dict[str, Any]) -> Any:
    return CLIENT_EVENT_ADAPTER.validate_python(data)


@pytest.mark.parametrize(
    ("extra", "model"),
    [
        ({"metric_type": "ATTEMPT", "visibility_state": "hidden"}, Attempt),
        ({"metric_type": "PLAY", "startup_latency_ms": 1200}, Play),
        (
            {
                "metric_type": "PLAYBACK_SUMMARY",
                "playing_time_ms": 59000,
                "buffering_time_ms": 1000,
                "buffering_count": 1,
            },
            PlaybackSummary,
        ),
        ({"metric_type": "QUALITY_CHANGED", "to_rendition_name": "1080p"}, QualityChanged),
        ({"metric_type": "STOP", "end_playback_position_sec": 12.5}, Stop),
        ({"metric_type": "ERROR", "error_code": "NETWORK", "fatal": True}, Error),
    ],
)
def test_each_metric_type_parses_to_its_model(
    extra: dict[str, Any], model: type[EventBase]
) -> None:
    event = parse(common(**extra))
    assert type(event) is model
    assert event.session_id == "s-1"


def test_original_sample_payload_is_a_valid_summary(sample_data: dict[str, Any]) -> None:
    event = parse(sample_data)
    assert isinstance(event, PlaybackSummary)
    assert event.live_latency_ms == 2000
    assert event.event_time is None and event.event_id is None


def test_unknown_metric_type_is_rejected_naming_the_known_ones() -> None:
    with pytest.raises(ValidationError) as info:
        parse(common(metric_type="REBUFFER"))
    text = str(info.value)
    assert "REBUFFER" in text and "PLAYBACK_SUMMARY" in text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("session_id", ""),
        ("session_id", "x" * 129),
        ("channel_watched", "c" * (MAX_CHANNEL_CHARS + 1)),
        ("playing_time_ms", -1),
        ("playing_time_ms", MAX_DURATION_MS + 1),
        ("buffering_count", -1),
        ("rendition_name", "r" * (MAX_STRING_CHARS + 1)),
        ("is_live", "perhaps"),
        ("event_time", -5),
    ],
)
def test_limits_reject_out_of_range_fields(field: str, value: Any) -> None:
    data = common(
        metric_type="PLAYBACK_SUMMARY",
        playing_time_ms=1000,
        buffering_time_ms=0,
        buffering_count=0,
    )
    data[field] = value
    with pytest.raises(ValidationError) as info:
        parse(data)
    assert field in str(info.value)


def test_limits_accept_the_boundaries() -> None:
    event = parse(
        common(
            metric_type="PLAYBACK_SUMMARY",
            playing_time_ms=MAX_DURATION_MS,
            buffering_time_ms=0,
            buffering_count=0,
            channel_watched="c" * MAX_CHANNEL_CHARS,
        )
    )
    assert event.playing_time_ms == MAX_DURATION_MS


def test_startup_latency_is_capped_at_ten_minutes() -> None:
    assert parse(common(metric_type="PLAY", startup_latency_ms=MAX_STARTUP_MS))
    with pytest.raises(ValidationError):
        parse(common(metric_type="PLAY", startup_latency_ms=MAX_STARTUP_MS + 1))


@pytest.mark.parametrize(
    ("given", "stored"), [("web", "web"), ("Web", "web"), (" IOS ", "ios"), ("roku", "other")]
)
def test_client_platform_spellings(given: str, stored: str) -> None:
    assert parse(common(metric_type="STOP", client_platform=given)).client_platform == stored


def test_quality_change_direction_is_derived_from_bitrates_when_absent() -> None:
    up = parse(
        common(
            metric_type="QUALITY_CHANGED",
            to_rendition_name="1080p",
            from_bitrate=2_000_000,
            to_bitrate=6_000_000,
        )
    )
    down = parse(
        common(
            metric_type="QUALITY_CHANGED",
            to_rendition_name="360p",
            from_bitrate=2_000_000,
            to_bitrate=600_000,
        )
    )
    given = parse(
        common(metric_type="QUALITY_CHANGED", to_rendition_name="360p", step_direction="UP")
    )
    assert (up.step_direction, down.step_direction, given.step_direction) == ("UP", "DOWN", "UP")


def test_error_codes_become_text_and_messages_are_truncated() -> None:
    event = parse(common(metric_type="ERROR", error_code=-3, fatal=False, error_message="m" * 1000))
    assert event.error_code == "-3"
    assert len(event.error_message) == MAX_STRING_CHARS


def test_unknown_fields_are_kept_apart_from_the_typed_ones() -> None:
    event = parse(common(metric_type="STOP", some_custom_field="x"))
    assert event.model_extra == {"some_custom_field": "x"}


def test_stored_event_splits_a_flat_record_back() -> None:
    record = {
        **common(metric_type="PLAY", startup_latency_ms=900),
        "received_at": 1_790_000_000_500,
        "event_time_source": "client",
        "source_format": "v1",
        "browser_family": "Chrome",
    }
    stored = StoredEvent.from_record(record)
    assert isinstance(stored.event, Play)
    assert stored.event.startup_latency_ms == 900
    assert stored.enrichment == Enrichment(
        received_at=1_790_000_000_500,
        event_time_source="client",
        source_format="v1",
        browser_family="Chrome",
    )
    assert stored.event_time == 1_790_000_000_000


_PLAYBACK_FIELDS = {
    "playback_id": "7d1f6c2e-9b1a-4c51-8d0e-2f3a4b5c6d7e",
    "page_url": "https://www.example.com/watch/live",
    "referrer_host": "news.example.org",
    "sdk_version": "0.2.0",
    "player_version": "hls.js 1.7.4",
}


@pytest.mark.parametrize(
    "extra",
    [
        {"metric_type": "ATTEMPT"},
        {"metric_type": "PLAY", "startup_latency_ms": 900},
        {
            "metric_type": "PLAYBACK_SUMMARY",
            "playing_time_ms": 1,
            "buffering_time_ms": 0,
            "buffering_count": 0,
        },
        {"metric_type": "QUALITY_CHANGED", "to_rendition_name": "720p"},
        {"metric_type": "STOP"},
        {"metric_type": "ERROR", "error_code": "x", "fatal": False},
    ],
)
def test_every_type_types_the_playback_fields(extra: dict[str, Any]) -> None:
    event = parse(common(**extra, **_PLAYBACK_FIELDS))
    for name, value in _PLAYBACK_FIELDS.items():
        assert getattr(event, name) == value
    # Typed, so none of them is an unknown field kept apart.
    assert not event.__pydantic_extra__
    # An old player's event without them is still valid, and has none.
    old = parse(common(**extra))
    assert all(getattr(old, name) is None for name in _PLAYBACK_FIELDS)


def test_bandwidth_estimate_on_summaries_and_switches() -> None:
    summary = parse(
        common(
            metric_type="PLAYBACK_SUMMARY",
            playing_time_ms=1,
            buffering_time_ms=0,
            buffering_count=0,
            bandwidth_estimate_bps=5_400_000,
        )
    )
    assert summary.bandwidth_estimate_bps == 5_400_000
    switch = parse(
        common(metric_type="QUALITY_CHANGED", to_rendition_name="a", bandwidth_estimate_bps=7)
    )
    assert switch.bandwidth_estimate_bps == 7
    with pytest.raises(ValidationError, match="bandwidth_estimate_bps"):
        parse(
            common(metric_type="QUALITY_CHANGED", to_rendition_name="a", bandwidth_estimate_bps=-1)
        )


def test_overlong_page_url_and_referrer_host_are_cut_not_refused() -> None:
    url = "https://example.com/" + "p" * 2000
    host = "h" * 300
    event = parse(common(metric_type="STOP", page_url=url, referrer_host=host))
    assert event.page_url == url[:MAX_URL_CHARS]
    assert event.referrer_host == host[:MAX_HOST_CHARS]
    with pytest.raises(ValidationError, match="page_url"):
        parse(common(metric_type="STOP", page_url=42))
