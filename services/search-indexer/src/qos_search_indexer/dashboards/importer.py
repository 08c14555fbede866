"""Imports saved objects into OpenSearch Dashboards through its saved objects API.

    POST {endpoint}/api/saved_objects/_import?overwrite=true
    osd-xsrf: true
    Content-Type: multipart/form-data; boundary=...   (one part, `file`, the NDJSON)

`endpoint` is the Dashboards base URL: `http://localhost:5601` for a local Dashboards, and
`https://<domain endpoint>/_dashboards` for Amazon OpenSearch Service. Standard library only.

Dashboards answers 200 with `{"success": true, "successCount": n}` when every object was
written, 200 with `{"success": false, "successCount": k, "errors": [...]}` when some were not
(a conflict without overwrite, a missing reference, an unknown type), and 4xx/5xx with
`{"statusCode", "error", "message"}` for a request it refuses. Anything but complete success
raises `DashboardsImportError` with a one-line message.
"""

from __future__ import annotations

import base64
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

IMPORT_PATH = "/api/saved_objects/_import"
FILE_NAME = "qos.ndjson"


@dataclass(frozen=True, slots=True)
class ImportFailure:
    """One object Dashboards did not import."""

    id: str
    type: str
    title: str | None
    reason: str  # the error's type: conflict, missing_references, unsupported_type, unknown...
    detail: dict[str, Any]

    def describe(self) -> str:
        what = f"{self.type}/{self.id}" + (f" ({self.title})" if self.title else "")
        missing = self.detail.get("references")
        if self.reason == "missing_references" and isinstance(missing, list):
            names = ", ".join(f"{r.get('type')}/{r.get('id')}" for r in missing)
            return f"{what}: missing references {names}"
        message = self.detail.get("message")
        return f"{what}: {self.reason}" + (f" ({message})" if message else "")


@dataclass(frozen=True, slots=True)
class ImportResult:
    success: bool
    success_count: int
    errors: tuple[ImportFailure, ...] = ()


class DashboardsImportError(RuntimeError):
    """The import did not complete; `result` holds Dashboards' answer when it gave one."""

    def __init__(
        self, message: str, *, status: int | None = None, result: ImportResult | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.result = result


def import_url(endpoint: str, *, overwrite: bool = True) -> str:
    parsed = urllib.parse.urlsplit(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"not an http(s) Dashboards endpoint: {endpoint!r}")
    base = endpoint.rstrip("/")
    query = "?overwrite=true" if overwrite else ""
    return f"{base}{IMPORT_PATH}{query}"


def multipart_body(ndjson: bytes, *, filename: str = FILE_NAME) -> tuple[bytes, str]:
    """The form: one `file` part holding the NDJSON as is. Returns (body, content type)."""
    boundary = "qos-" + secrets.token_hex(16)
    while boundary.encode() in ndjson:  # pragma: no cover - 128 random bits
        boundary = "qos-" + secrets.token_hex(16)
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/ndjson\r\n"
        "\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + ndjson + tail, f"multipart/form-data; boundary={boundary}"


def parse_result(payload: dict[str, Any]) -> ImportResult:
    errors = tuple(
        ImportFailure(
            id=str(item.get("id", "?")),
            type=str(item.get("type", "?")),
            title=item.get("title") or (item.get("meta") or {}).get("title"),
            reason=str((item.get("error") or {}).get("type", "unknown")),
            detail=dict(item.get("error") or {}),
        )
        for item in payload.get("errors") or []
    )
    return ImportResult(
        success=bool(payload.get("success")),
        success_count=int(payload.get("successCount", 0)),
        errors=errors,
    )


def _error_message(raw: bytes) -> str:
    try:
        payload = json.loads(raw)
    except ValueError:
        text = raw.decode(errors="replace").strip().splitlines()
        return text[0][:300] if text else "(empty body)"
    if isinstance(payload, dict):
        message = payload.get("message") or payload.get("error")
        if message:
            return str(message)
    return json.dumps(payload)[:300]


def import_saved_objects(
    endpoint: str,
    ndjson: bytes,
    *,
    overwrite: bool = True,
    auth: tuple[str, str] | None = None,
    timeout: float = 30,
) -> ImportResult:
    """Imports `ndjson` into the Dashboards at `endpoint`; raises `DashboardsImportError`
    unless every object was imported."""
    url = import_url(endpoint, overwrite=overwrite)
    body, content_type = multipart_body(ndjson)
    headers = {
        "Content-Type": content_type,
        "osd-xsrf": "true",
        "Accept": "application/json",
    }
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) checked by import_url
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - idem
            status = response.status
            raw = response.read()
    except urllib.error.HTTPError as error:
        raw = error.read()
        raise DashboardsImportError(
            f"Dashboards refused the import: HTTP {error.code}: {_error_message(raw)}",
            status=error.code,
        ) from None
    except urllib.error.URLError as error:
        raise DashboardsImportError(f"cannot reach {url}: {error.reason}") from None
    except TimeoutError:
        raise DashboardsImportError(f"no answer from {url} within {timeout:g} s") from None
    try:
        payload = json.loads(raw)
    except ValueError:
        raise DashboardsImportError(
            f"Dashboards answered HTTP {status} with a body that is not JSON: "
            f"{raw[:200].decode(errors='replace')!r} (is {endpoint} the Dashboards base URL?)",
            status=status,
        ) from None
    if not isinstance(payload, dict) or "success" not in payload:
        raise DashboardsImportError(
            f"Dashboards answered HTTP {status} without an import result: {str(payload)[:200]}",
            status=status,
        )
    result = parse_result(payload)
    if not result.success or result.errors:
        shown = "; ".join(e.describe() for e in result.errors[:5])
        more = f" (and {len(result.errors) - 5} more)" if len(result.errors) > 5 else ""
        raise DashboardsImportError(
            f"{len(result.errors)} saved object(s) not imported "
            f"({result.success_count} imported): {shown or 'no details given'}{more}",
            status=status,
            result=result,
        )
    return result
