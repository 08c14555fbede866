"""Attempt loop shared by the AWS batch sinks: send in batches, re-send only what failed, classify.

An adapter supplies `send`, which makes one batch API call and reports, per record, either `None`
(accepted) or the `AwsError` the service returned for it. Everything else lives here: the
per-record size check, splitting into calls, turning a whole-call exception into a failure of every
record in that call, backoff between attempts, and the final `SinkFailure` reasons.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from botocore import exceptions as boto_errors

from qos_ingest.adapters import PutOutcome, SinkFailure, SinkRecord
from qos_ingest.adapters.batching import batches
from qos_shared.retry import RetryPolicy

# Codes that mean the request itself (or the account/stream/key setup) is wrong; sending the same
# records again cannot succeed, so retrying would only delay the failure. Anything not listed here
# (throttling, InternalFailure, ServiceUnavailable, unknown codes) is retried: losing an event to a
# misclassified transient error is worse than a few wasted attempts.
PERMANENT_ERROR_CODES: frozenset[str] = frozenset(
    {
        "AccessDeniedException",
        "InvalidArgumentException",
        "InvalidKMSResourceException",
        "InvalidSignatureException",
        "InvalidSourceException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
        "KMSOptInRequired",
        "ResourceNotFoundException",
        "UnrecognizedClientException",
        "ValidationException",
    }
)


class AwsError(NamedTuple):
    """What the service said went wrong, and whether sending the same records again may help."""

    code: str
    message: str
    retryable: bool


def record_error(code: str, message: str) -> AwsError:
    """Error reported by the service for one record (or for a whole call)."""
    return AwsError(code, message, retryable=code not in PERMANENT_ERROR_CODES)


def entry_error(entry: Mapping[str, Any]) -> AwsError | None:
    """The error of one entry of a PutRecords / PutRecordBatch response, if it failed."""
    code = entry.get("ErrorCode")
    return None if code is None else record_error(code, entry.get("ErrorMessage", ""))


def call_error(exc: boto_errors.BotoCoreError | boto_errors.ClientError) -> AwsError:
    """Classify an exception raised by a whole batch call."""
    if isinstance(exc, boto_errors.ClientError):
        error = exc.response.get("Error", {})
        return record_error(str(error.get("Code", "ClientError")), str(error.get("Message", exc)))
    # Connection resets and timeouts are transient; other botocore errors (parameter validation,
    # missing credentials) are local and would fail the same way every time.
    retryable = isinstance(exc, boto_errors.ConnectionError | boto_errors.HTTPClientError)
    return AwsError(type(exc).__name__, str(exc), retryable=retryable)


MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BatchLimits:
    service: str  # used in the oversize reason only
    max_records: int
    max_batch_bytes: int
    max_record_bytes: int


SendBatch = Callable[[Sequence[SinkRecord]], Sequence[AwsError | None]]


def put_with_retries(
    records: Sequence[SinkRecord],
    *,
    send: SendBatch,
    record_size: Callable[[SinkRecord], int],
    limits: BatchLimits,
    policy: RetryPolicy,
) -> PutOutcome:
    """Send `records`, retrying failed ones up to `policy.max_attempts` attempts in total."""
    outcome = PutOutcome()
    pending: list[tuple[int, SinkRecord]] = []
    for index, record in enumerate(records):
        size = record_size(record)
        if size > limits.max_record_bytes:
            reason = (
                f"RecordTooLarge: {size} bytes exceeds the {limits.service} limit of "
                f"{limits.max_record_bytes} bytes per record (not sent)"
            )
            outcome.failures.append(SinkFailure(index, reason))
        else:
            pending.append((index, record))

    max_attempts = max(1, policy.max_attempts)
    attempt = 1
    while pending:
        retry: list[tuple[int, SinkRecord]] = []
        for batch in batches(
            pending,
            max_records=limits.max_records,
            max_bytes=limits.max_batch_bytes,
            record_size=record_size,
        ):
            batch_records = [record for _, record in batch]
            try:
                results = send(batch_records)
            except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
                results = [call_error(exc)] * len(batch)
            for (index, record), error in zip(batch, results, strict=True):
                if error is None:
                    continue
                if error.retryable and attempt < max_attempts:
                    retry.append((index, record))
                else:
                    outcome.failures.append(SinkFailure(index, _reason(error, attempt)))
        if not retry:
            break
        policy.backoff(attempt)
        outcome.retried_records += len(retry)
        pending = retry
        attempt += 1

    outcome.failures.sort(key=lambda failure: failure.index)
    return outcome


class AwsBatchSink(ABC):
    """An AWS batch sink: the service's quotas, how it counts a record's bytes, one batch call.

    Subclasses set `name` and `limits`, and define `record_size` and `_send`; `put` is the attempt
    loop above, the same for every service.
    """

    name: str
    limits: ClassVar[BatchLimits]

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy

    @staticmethod
    @abstractmethod
    def record_size(record: SinkRecord) -> int:
        """Bytes the service counts against its quotas for one record."""

    def _prepare(self, records: Sequence[SinkRecord]) -> Sequence[SinkRecord]:
        """The records as they are sent (a service may need them changed first)."""
        return records

    @abstractmethod
    def _send(self, records: Sequence[SinkRecord]) -> list[AwsError | None]:
        """One batch API call: per record, None (accepted) or the error the service returned."""

    def put(self, records: Sequence[SinkRecord]) -> PutOutcome:
        return put_with_retries(
            self._prepare(records),
            send=self._send,
            record_size=self.record_size,
            limits=self.limits,
            policy=self._policy,
        )


def _reason(error: AwsError, attempts: int) -> str:
    if not error.retryable:
        return f"{error.code}: {error.message} (not retryable)"
    noun = "attempt" if attempts == 1 else "attempts"
    return f"{error.code}: {error.message} (gave up after {attempts} {noun})"
