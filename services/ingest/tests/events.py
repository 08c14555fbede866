"""Event builders for ingest's tests (valid by construction unless a test breaks them)."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

import orjson

from qos_shared.examples import ORIGINAL_SAMPLE_DATA

ORIGINAL_SAMPLE_BODY = orjson.dumps({"Records": [{"Data": ORIGINAL_SAMPLE_DATA}]})

# Real time, so that events are fresh both for the domain (given NOW_MS) and a live server.
NOW_MS = time.time_ns() // 1_000_000
_counter = itertools.count()


def summary(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    event: dict[str, Any] = {
        "metric_type": "PLAYBACK_SUMMARY",
        "event_id": str(uuid.uuid4()),
        "session_id": f"session-{n % 7}",
        "user_id": f"user-{n % 5}",
        "client_platform": "web",
        "is_live": True,
        "channel_watched": "channel-a",
        "event_time": NOW_MS - 1000,
        "playing_time_ms": 58_000,
        "buffering_time_ms": 2_000,
        "buffering_count": 1,
        "error_count": 0,
        "rendition_name": "720p",
        "rendition_height": 720,
        "live_latency_ms": 3_100,
    }
    event.update(overrides)
    return event


def batch(*events: dict[str, Any]) -> bytes:
    return orjson.dumps({"events": list(events)})
