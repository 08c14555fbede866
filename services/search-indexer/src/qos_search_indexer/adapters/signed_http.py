"""SigV4-signed HTTPS requests to an OpenSearch Service domain (service name `es`), with retries.

botocore signs (`SigV4Auth` over an `AWSRequest`), the standard library sends: the setup needs
no HTTP client beyond urllib. The domain's own API and Dashboards' (`/_dashboards/api/...`) take
the same signature. A fresh domain can answer 503 for a while (the security plugin initialising),
so 429 and 5xx, and requests that get no answer at all, are retried with capped backoff.
"""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.session import Session

from qos_search_indexer.domain.design import HttpResponse, SetupError

SERVICE = "es"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# Sends a prepared urllib request with a timeout; returns (status, body) for any HTTP status.
Sender = Callable[[urllib.request.Request, float], tuple[int, bytes]]


def urllib_send(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - https URL built from the domain endpoint
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:  # an answer, with an error status
        return int(error.code), error.read()


class SigV4Http:
    """`service.Http` for the domain setup: signs each request for `es`, retries transient ones."""

    def __init__(
        self,
        endpoint: str,
        *,
        region: str,
        credentials: Credentials | None = None,
        timeout_s: float = 30.0,
        attempts: int = 6,
        send: Sender = urllib_send,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        host = endpoint.removeprefix("https://").rstrip("/")
        if not host or "/" in host or "://" in host:
            raise SetupError(f"DomainEndpoint {endpoint!r}: expected a host name")
        found = credentials or Session().get_credentials()
        if found is None:
            raise SetupError("no AWS credentials to sign the setup requests with")
        self.base_url = f"https://{host}"
        self._region = region
        self._credentials = found
        self._timeout_s = timeout_s
        self._attempts = max(1, attempts)
        self._send = send
        self._sleep = sleep

    def __call__(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        for attempt in range(1, self._attempts + 1):
            try:
                status, payload = self._send(
                    self._signed(method, path, body, headers), self._timeout_s
                )
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self._attempts:
                    raise SetupError(
                        f"{method} {path}: no answer from {self.base_url} after "
                        f"{attempt} attempts: {exc}"
                    ) from exc
            else:
                if status not in RETRY_STATUSES or attempt == self._attempts:
                    return HttpResponse(status, payload)
            self._sleep(min(2.0**attempt, 20.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def _signed(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str] | None
    ) -> urllib.request.Request:
        """The request with its SigV4 headers (signed afresh: a retry gets a new date)."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        data = body or b""
        request = AWSRequest(method=method, url=self.base_url + path, data=data)
        for name, value in (headers or {}).items():
            request.headers[name] = value
        # The payload's hash, signed with the rest: OpenSearch Service checks it against the body.
        request.headers["x-amz-content-sha256"] = hashlib.sha256(data).hexdigest()
        SigV4Auth(self._credentials, SERVICE, self._region).add_auth(request)
        return urllib.request.Request(  # noqa: S310 - always https, to the domain's endpoint
            self.base_url + path,
            data=data if body is not None else None,
            headers=dict(request.headers.items()),
            method=method,
        )
