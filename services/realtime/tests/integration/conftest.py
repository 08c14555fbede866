"""Fixtures of the realtime integration tests: moto behind every AWS API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qos_shared.testing.aws import mocked_aws


@pytest.fixture
def aws() -> Iterator[None]:
    """moto for every AWS API, with fake credentials so nothing can reach a real account."""
    with mocked_aws():
        yield
