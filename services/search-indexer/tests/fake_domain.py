"""A recorded fake of an OpenSearch Service domain's setup API: it keeps what it is sent.

It answers as OpenSearch Service does where it matters: PUTs create or replace, an ISM policy is
replaced only with its sequence number (409 otherwise), Dashboards' import answers with a success
flag and a count (the multipart body read back with the standard library's MIME parser, not the
code's own). The setup handler's tests use it for every call; the test on the real node for the
calls whose plugin the node lacks (security, ISM, Dashboards).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qos_search_indexer.domain.design import HttpResponse

ISM = "/_plugins/_ism/policies/qos-events-retention"
IMPORT = "/_dashboards/api/saved_objects/_import?overwrite=true"


@dataclass
class Call:
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]


@dataclass
class FakeDomain:
    """Keeps every document PUT; scripted failures by (method, path)."""

    documents: dict[str, Any] = field(default_factory=dict)
    ism_seq_no: int = -1
    saved_objects: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    fail: dict[tuple[str, str], HttpResponse] = field(default_factory=dict)

    def __call__(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        self.calls.append(Call(method, path, body, dict(headers or {})))
        if (method, path) in self.fail:
            return self.fail[(method, path)]
        base, _, query = path.partition("?")
        if base == ISM:
            return self._ism(method, query, body)
        if method == "PUT":
            created = base not in self.documents
            self.documents[base] = json.loads(body or b"")
            return HttpResponse(201 if created else 200, b'{"status":"OK"}')
        if method == "POST" and base == IMPORT.split("?")[0]:
            return self._import(body or b"", headers or {})
        return HttpResponse(404, b'{"error":"no handler"}')

    def _ism(self, method: str, query: str, body: bytes | None) -> HttpResponse:
        if method == "GET":
            if ISM not in self.documents:
                return HttpResponse(404, b'{"error":{"type":"status_exception"}}')
            found = {"_id": "qos-events-retention", "_seq_no": self.ism_seq_no}
            found |= {"_primary_term": 1, **self.documents[ISM]}
            return HttpResponse(200, json.dumps(found).encode())
        expected = f"if_seq_no={self.ism_seq_no}&if_primary_term=1"
        if ISM in self.documents and query != expected:
            return HttpResponse(409, b'{"error":"version_conflict_engine_exception"}')
        self.documents[ISM] = json.loads(body or b"")
        self.ism_seq_no += 1
        return HttpResponse(201, b"{}")

    def _import(self, body: bytes, headers: Mapping[str, str]) -> HttpResponse:
        if headers.get("osd-xsrf") != "true":
            return HttpResponse(400, b'{"message":"Request must contain a osd-xsrf header."}')
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body
        )
        (part,) = list(message.iter_parts())
        assert part.get_param("name", header="content-disposition") == "file"
        content = part.get_payload(decode=True)
        assert isinstance(content, bytes)
        objects = [json.loads(line) for line in content.splitlines() if line.strip()]
        self.saved_objects = objects
        return HttpResponse(
            200, json.dumps({"success": True, "successCount": len(objects)}).encode()
        )
