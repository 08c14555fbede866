"""moto behind every AWS API, with fake credentials, for the services' integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

# Set for the duration, so that a test can never sign a request for a real account.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def mocked_aws() -> Iterator[None]:
    """moto for every AWS API while inside; the environment is restored on the way out.

    Needs `moto` (the services' `test` extra); a pytest fixture is `with mocked_aws(): yield`.
    """
    from moto import mock_aws  # imported here: qos_shared itself does not depend on moto

    with mock.patch.dict(os.environ, FAKE_CREDENTIALS), mock_aws():
        yield


class RecordedSleeps:
    """A `RetryPolicy.sleep` that records each delay instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
