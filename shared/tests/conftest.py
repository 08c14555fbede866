"""Fixtures for the contract's tests: the original sample's payload, verbatim from EVENTS.md §1."""

from __future__ import annotations

from typing import Any

import pytest

ORIGINAL_SAMPLE_DATA: dict[str, Any] = {
    "metric_type": "PLAYBACK_SUMMARY",
    "client_platform": "web",
    "is_live": True,
    "channel_watched": "xhP3ExfcX8ON",
    "error_count": 0,
    "playing_time_ms": 60015,
    "buffering_time_ms": 0,
    "buffering_count": 0,
    "rendition_name": "720p",
    "rendition_height": 720,
    "live_latency_ms": 2000,
    "session_id": "7853d92ca5a94bb7b470cf615e75c322",
    "user_id": "26d648a4bc334862a6d0bd001f231d0e",
}


@pytest.fixture
def sample_data() -> dict[str, Any]:
    return dict(ORIGINAL_SAMPLE_DATA)


def common(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "session_id": "s-1",
        "user_id": "u-1",
        "client_platform": "web",
        "is_live": True,
        "channel_watched": "channel-1",
        "event_time": 1_790_000_000_000,
        "event_id": "0b8f1c1e-1111-4a4a-9c9c-000000000001",
    }
    base.update(overrides)
    return base
