"""Exponential backoff with full jitter, for the CloudWatch sink's retries.

Not botocore's own retries (`Config(retries={"mode": "standard"})`): those also retry read
timeouts (`ReadTimeoutError` is an `HTTPClientError`, which standard mode treats as transient),
and PutMetricData is not idempotent, so CloudWatch could count a datum twice; their delays are
fixed (base 1 s, cap 20 s) where these are settings; they draw on a retry quota; and their
attempt count would not reach the Lambda's `PutMetricDataRetries` metric.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.1
    max_delay_s: float = 5.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rand: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, attempt: int) -> float:
        """Delay before attempt number `attempt + 1` (attempt counts from 1): full jitter."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return float(ceiling * self.rand())

    def backoff(self, attempt: int) -> None:
        self.sleep(self.delay(attempt))
