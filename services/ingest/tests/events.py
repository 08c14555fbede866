"""Event builders for ingest's tests (valid by construction unless a test breaks them)."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

import orjson

from qos_shared.examples import original_sample_envelope
from qos_shared.testing.sessions import playback_summary

ORIGINAL_SAMPLE_BODY = orjson.dumps(original_sample_envelope())

# Real time, so that events are fresh both for the domain (given NOW_MS) and a live server.
NOW_MS = time.time_ns() // 1_000_000
_counter = itertools.count()


def summary(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    return playback_summary(n, event_id=str(uuid.uuid4()), event_time=NOW_MS - 1000) | overrides


def batch(*events: dict[str, Any]) -> bytes:
    return orjson.dumps({"events": list(events)})
