"""CloudWatch sink: PutMetricData calls with retries (backoff and jitter) on throttling and 5xx.

PutMetricData is all or nothing per call, so a call is retried whole. Retried: throttling
(`Throttling`, `ThrottlingException`, ...), any 5xx or 429 answer, and connection failures that
happen before the request is sent. Not retried: everything else (a bad parameter, missing
permissions), and read timeouts, since the data may have landed and CloudWatch would add it
twice. A call that still fails is reported with the error code, message and attempt count.

The boto3 client should be made with botocore's own retries off (`bootstrap` does), so that this
policy is the only one and its attempt count is what is reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore import exceptions as boto_errors

from qos_realtime.domain.batching import PutMetricDataCall
from qos_realtime.service.publisher import CallFailure, SinkOutcome
from qos_shared.retry import RetryPolicy

THROTTLING_CODES: frozenset[str] = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
    }
)
# Server-side failures CloudWatch reports by code, whatever the HTTP status says.
TRANSIENT_CODES: frozenset[str] = frozenset(
    {"InternalFailure", "InternalServiceFault", "InternalServiceError", "ServiceUnavailable"}
)


class CloudWatchClient(Protocol):
    def put_metric_data(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class CallError:
    code: str
    message: str
    retryable: bool


def classify(exc: boto_errors.BotoCoreError | boto_errors.ClientError) -> CallError:
    if isinstance(exc, boto_errors.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "ClientError"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        retryable = (
            code in THROTTLING_CODES or code in TRANSIENT_CODES or status >= 500 or status == 429
        )
        return CallError(code, str(error.get("Message", exc)), retryable)
    unsent = isinstance(exc, boto_errors.EndpointConnectionError | boto_errors.ConnectTimeoutError)
    return CallError(type(exc).__name__, str(exc), retryable=unsent)


class CloudWatchSink:
    name = "cloudwatch"

    def __init__(self, client: CloudWatchClient, policy: RetryPolicy) -> None:
        self._client = client
        self._policy = policy

    def put(self, calls: Sequence[PutMetricDataCall[Any]]) -> SinkOutcome:
        outcome = SinkOutcome()
        max_attempts = max(1, self._policy.max_attempts)
        for index, call in enumerate(calls):
            request = call.request()
            attempt = 1
            while True:
                outcome.api_calls += 1
                try:
                    self._client.put_metric_data(**request)
                    break
                except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
                    error = classify(exc)
                if error.retryable and attempt < max_attempts:
                    self._policy.backoff(attempt)
                    attempt += 1
                    outcome.retries += 1
                    continue
                outcome.failures.append(CallFailure(index, _reason(error, attempt)))
                break
        return outcome


def _reason(error: CallError, attempts: int) -> str:
    if not error.retryable:
        return f"{error.code}: {error.message} (not retryable)"
    noun = "attempt" if attempts == 1 else "attempts"
    return f"{error.code}: {error.message} (gave up after {attempts} {noun})"
