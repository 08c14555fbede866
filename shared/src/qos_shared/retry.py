"""Exponential backoff with full jitter: the retry policy of every AWS adapter (ingest's Kinesis
and Firehose sinks, realtime's CloudWatch sink).

The adapters retry what the API reports as failed (PutRecords' failed entries, a throttled
PutMetricData) with these delays; each service sets the numbers from its own settings. Not
botocore's retry modes: standard mode also retries read timeouts, and PutMetricData is not
idempotent (a datum could count twice); its delays are fixed (base 1 s, cap 20 s) where these are
settings; it draws on a retry quota; and its attempts would not reach the services' own retry
metrics.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.05
    max_delay_s: float = 2.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rand: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, attempt: int) -> float:
        """Delay before attempt number `attempt + 1` (attempt counts from 1): full jitter."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return float(ceiling * self.rand())

    def backoff(self, attempt: int) -> None:
        self.sleep(self.delay(attempt))
