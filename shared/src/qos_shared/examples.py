"""Canonical payloads of the contract, for tests and docs: the original sample's, verbatim."""

from __future__ import annotations

from typing import Any

# EVENTS.md §1: what the original sample's web player posts, wrapped in {"Records": [{"Data": …}]}.
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


def original_sample_envelope() -> dict[str, Any]:
    """A fresh copy of the sample's whole request body."""
    return {"Records": [{"Data": dict(ORIGINAL_SAMPLE_DATA)}]}
