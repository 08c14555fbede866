"""Fixtures for the contract's tests."""

from __future__ import annotations

from typing import Any

import pytest

from qos_shared.examples import ORIGINAL_SAMPLE_DATA


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
