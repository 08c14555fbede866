"""The setup function's requests, against a fake domain that keeps what it is sent.

The fake (`tests/fake_domain.py`) answers as OpenSearch Service does where it matters. Expected
bodies are built here from `index.py` and the NDJSON.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.credentials import Credentials

from qos_search_indexer.adapters.signed_http import SigV4Http
from qos_search_indexer.domain.design import (
    HttpResponse,
    SetupError,
    SetupSettings,
    design_sha256,
)
from qos_search_indexer.domain.index import index_template, ingest_pipeline, views_index_template
from qos_search_indexer.entrypoints import setup_lambda as handler_module
from qos_search_indexer.entrypoints.setup_lambda import on_event, physical_id

from ..fake_domain import IMPORT, ISM, FakeDomain

ENDPOINT = "search-qos-test-abc123.eu-west-1.es.amazonaws.com"
INDEXER_ROLE = "arn:aws:iam::123456789012:role/qos-test-search-IndexerRole-XYZ"
NDJSON = (
    b'{"type":"index-pattern","id":"qos-events","attributes":{"title":"qos-events-*"}}\n'
    b'{"type":"visualization","id":"startup","attributes":{"title":"Startup time"}}\n'
)
READER_ROLE_ARN = "arn:aws:iam::123456789012:role/qos-test-search-DashboardsReader-ABC"
ADMIN_ROLE_ARN = "arn:aws:iam::123456789012:role/qos-test-search-DashboardsAdmin-DEF"
ROLE = "/_plugins/_security/api/roles/qos_indexer_writer"
MAPPING = "/_plugins/_security/api/rolesmapping/qos_indexer_writer"
READER = "/_plugins/_security/api/roles/qos_dashboards_reader"
READER_MAPPING = "/_plugins/_security/api/rolesmapping/qos_dashboards_reader"
ADMIN = "/_plugins/_security/api/roles/qos_dashboards_admin"
ADMIN_MAPPING = "/_plugins/_security/api/rolesmapping/qos_dashboards_admin"
AUDIT = "/_plugins/_security/api/audit/config"
PIPELINE = "/_ingest/pipeline/qos-events"
TEMPLATE = "/_index_template/qos-events"
VIEWS_TEMPLATE = "/_index_template/qos-views"


def _event(request_type: str, **properties: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ResourceType": "Custom::QosSearchSetup",
        # CloudFormation hands every property over as a string.
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:provider",
            "DomainEndpoint": ENDPOINT,
            "IndexerRoleArn": INDEXER_ROLE,
            "Shards": "1",
            "Replicas": "1",
            "DeleteAfterDays": "14",
            "DashboardsReaderRoleArn": READER_ROLE_ARN,
            "DashboardsAdminRoleArn": ADMIN_ROLE_ARN,
            "AuditLogs": "true",
            **properties,
        },
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = physical_id(ENDPOINT)
    return event


def _run(domain: FakeDomain, event: dict[str, Any]) -> dict[str, Any]:
    endpoints: list[str] = []

    def http_for(endpoint: str) -> FakeDomain:
        endpoints.append(endpoint)
        return domain

    result = on_event(event, http_for=http_for, saved_objects=lambda: NDJSON)
    assert endpoints in ([], [ENDPOINT])
    return result


def _steps(ism_write: str = ISM, *, cognito: bool = True) -> list[tuple[str, str]]:
    """The setup's requests in order; the ISM policy is written to `ism_write`; without Cognito
    (and audit logs), no Dashboards role mappings and no audit configuration."""
    return [
        ("PUT", ROLE),
        ("PUT", MAPPING),
        ("PUT", READER),
        *([("PUT", READER_MAPPING)] if cognito else []),
        ("PUT", ADMIN),
        *([("PUT", ADMIN_MAPPING)] if cognito else []),
        *([("PUT", AUDIT)] if cognito else []),
        ("PUT", PIPELINE),
        ("PUT", TEMPLATE),
        ("PUT", VIEWS_TEMPLATE),
        ("GET", ISM),
        ("PUT", ism_write),
        ("POST", IMPORT),
    ]


def test_create_applies_every_step_in_order() -> None:
    domain = FakeDomain()
    result = _run(domain, _event("Create"))

    assert [(c.method, c.path) for c in domain.calls] == _steps()
    assert result["PhysicalResourceId"] == f"qos-search-setup:{ENDPOINT}"
    assert result["Data"] == {"Steps": 12, "SavedObjects": 2}

    role = domain.documents[ROLE]
    assert sorted(role["cluster_permissions"]) == ["cluster_composite_ops", "cluster_monitor"]
    assert role["index_permissions"] == [
        {
            "index_patterns": ["qos-events-*", "qos-views-*"],
            "allowed_actions": ["crud", "create_index", "manage"],
        }
    ]
    assert domain.documents[MAPPING]["backend_roles"] == [INDEXER_ROLE]
    # Cognito's signed-in users read the QoS indices (events and views) and the global
    # tenant, and nothing else.
    reader = domain.documents[READER]
    assert reader["index_permissions"] == [
        {"index_patterns": ["qos-events-*", "qos-views-*"], "allowed_actions": ["read"]}
    ]
    assert reader["cluster_permissions"] == ["cluster_composite_ops_ro"]
    assert reader["tenant_permissions"] == [
        {"tenant_patterns": ["global_tenant"], "allowed_actions": ["kibana_all_read"]}
    ]
    assert domain.documents[READER_MAPPING]["backend_roles"] == [READER_ROLE_ARN]
    admin = domain.documents[ADMIN]
    assert admin["tenant_permissions"] == [
        {"tenant_patterns": ["global_tenant"], "allowed_actions": ["kibana_all_write"]}
    ]
    assert [p["index_patterns"] for p in admin["index_permissions"]] == [
        ["qos-events-*", "qos-views-*"]
    ]
    assert domain.documents[ADMIN_MAPPING]["backend_roles"] == [ADMIN_ROLE_ARN]
    audit = domain.documents[AUDIT]
    assert audit["enabled"] is True and audit["audit"]["enable_rest"] is True
    assert audit["audit"]["log_request_body"] is False
    assert domain.documents[PIPELINE] == ingest_pipeline()
    template = domain.documents[TEMPLATE]
    assert template == index_template(shards=1, replicas=1)
    assert template["template"]["settings"]["index"]["number_of_replicas"] == 1
    views_template = domain.documents[VIEWS_TEMPLATE]
    assert views_template == views_index_template(shards=1, replicas=1)
    assert views_template["index_patterns"] == ["qos-views-*"]
    assert domain.documents[ISM]["policy"]["ism_template"] == [
        {"index_patterns": ["qos-events-*", "qos-views-*"], "priority": 100}
    ]
    states = {s["name"]: s for s in domain.documents[ISM]["policy"]["states"]}
    assert states["hot"]["transitions"] == [
        {"state_name": "delete", "conditions": {"min_index_age": "14d"}}
    ]
    assert states["delete"]["actions"] == [{"delete": {}}]
    assert [o["id"] for o in domain.saved_objects] == ["qos-events", "startup"]
    for call in domain.calls:
        if call.method == "PUT":
            assert call.headers["Content-Type"] == "application/json"


def test_without_cognito_the_dashboards_roles_are_made_but_not_mapped() -> None:
    domain = FakeDomain()
    event = _event("Create", AuditLogs="false")
    del event["ResourceProperties"]["DashboardsReaderRoleArn"]
    event["ResourceProperties"]["DashboardsAdminRoleArn"] = ""
    result = _run(domain, event)
    assert [(c.method, c.path) for c in domain.calls] == _steps(cognito=False)
    assert result["Data"] == {"Steps": 9, "SavedObjects": 2}


def test_saved_objects_go_to_the_global_tenant_as_a_multipart_file() -> None:
    domain = FakeDomain()
    _run(domain, _event("Create"))
    (call,) = [c for c in domain.calls if c.method == "POST"]
    assert call.headers["osd-xsrf"] == "true"
    assert call.headers["securitytenant"] == "global"
    assert call.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert call.body is not None and NDJSON in call.body
    assert b'filename="qos-dashboards.ndjson"' in call.body


def test_update_reapplies_everything_idempotently() -> None:
    domain = FakeDomain()
    _run(domain, _event("Create"))
    after_create = json.loads(json.dumps(domain.documents))
    domain.calls.clear()

    result = _run(domain, _event("Update"))
    assert result["PhysicalResourceId"] == f"qos-search-setup:{ENDPOINT}"
    # The same steps; the ISM policy is replaced with the sequence number it was read with.
    assert [(c.method, c.path) for c in domain.calls] == _steps(
        ism_write=f"{ISM}?if_seq_no=0&if_primary_term=1"
    )
    assert domain.documents == after_create

    _run(domain, _event("Update", Replicas="2", DeleteAfterDays="7"))
    template = domain.documents[TEMPLATE]["template"]["settings"]["index"]
    assert template["number_of_replicas"] == 2
    transition = domain.documents[ISM]["policy"]["states"][0]["transitions"][0]
    assert transition["conditions"] == {"min_index_age": "7d"}


def test_delete_sends_nothing() -> None:
    domain = FakeDomain()
    result = _run(domain, _event("Delete"))
    assert domain.calls == []
    assert result == {"PhysicalResourceId": physical_id(ENDPOINT)}


@pytest.mark.parametrize(
    "failing", [("PUT", MAPPING), ("PUT", READER_MAPPING), ("PUT", TEMPLATE), ("GET", ISM)]
)
def test_a_refused_request_stops_the_setup_with_its_status_and_body(
    failing: tuple[str, str],
) -> None:
    steps_sent = _steps().index(failing) + 1
    body = b'{"status":"FORBIDDEN","message":"no permissions for [cluster:admin/x]"}'
    domain = FakeDomain(fail={failing: HttpResponse(403, body)})
    with pytest.raises(SetupError) as caught:
        _run(domain, _event("Create"))
    message = str(caught.value)
    assert f"{failing[0]} {failing[1]} -> HTTP 403" in message
    assert "no permissions for [cluster:admin/x]" in message
    assert len(domain.calls) == steps_sent


def test_a_long_error_body_is_cut_in_the_reason() -> None:
    domain = FakeDomain(fail={("PUT", ROLE): HttpResponse(500, b"x" * 5000)})
    with pytest.raises(SetupError, match=r"HTTP 500: x+\.\.\.$") as caught:
        _run(domain, _event("Create"))
    assert len(str(caught.value)) < 1200


def test_saved_objects_refused_by_dashboards_fail_the_setup() -> None:
    refusal = {
        "success": False,
        "successCount": 1,
        "errors": [{"id": "startup", "type": "visualization", "error": {"type": "conflict"}}],
    }
    domain = FakeDomain(fail={("POST", IMPORT): HttpResponse(200, json.dumps(refusal).encode())})
    with pytest.raises(SetupError, match=r"Dashboards refused saved objects.*conflict"):
        _run(domain, _event("Create"))


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"IndexerRoleArn": "qos-indexer"}, "not an IAM role ARN"),
        ({"DashboardsReaderRoleArn": "arn:aws:iam::1:user/x"}, "DashboardsReaderRoleArn"),
        ({"AuditLogs": "yes"}, "AuditLogs"),
        ({"Replicas": "one"}, "not an integer"),
        ({"Shards": "0"}, "shards=0"),
        ({"DomainEndpoint": ""}, "no DomainEndpoint"),
    ],
)
def test_bad_properties_fail_before_any_request(properties: dict[str, str], message: str) -> None:
    domain = FakeDomain()
    with pytest.raises(SetupError, match=message):
        _run(domain, _event("Create", **properties))
    assert domain.calls == []


def test_missing_indexer_role_property_is_named() -> None:
    event = _event("Create")
    del event["ResourceProperties"]["IndexerRoleArn"]
    with pytest.raises(SetupError, match="IndexerRoleArn"):
        _run(FakeDomain(), event)


def test_empty_saved_objects_are_refused() -> None:
    with pytest.raises(SetupError, match="empty"):
        on_event(_event("Create"), http_for=lambda _e: FakeDomain(), saved_objects=lambda: b"\n")


def test_the_bundled_saved_objects_are_read_beside_the_code(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QOS_SEARCH_SAVED_OBJECTS_PATH", raising=False)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    with pytest.raises(SetupError, match="no saved objects at"):
        handler_module.read_saved_objects()
    (tmp_path / "qos-dashboards.ndjson").write_bytes(NDJSON)
    assert handler_module.read_saved_objects() == NDJSON


def test_the_lambda_entrypoint_handles_a_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    class Context:
        function_name = "qos-test-search-setup"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:setup"
        aws_request_id = "req-1"

    monkeypatch.setattr(handler_module, "signed_http", _no_http)
    assert handler_module.handler(_event("Delete"), Context()) == {  # type: ignore[arg-type]
        "PhysicalResourceId": physical_id(ENDPOINT)
    }


def _no_http(endpoint: str) -> FakeDomain:
    raise AssertionError(f"Delete must not reach {endpoint}")


def test_design_digest_follows_the_settings() -> None:
    digest = design_sha256(shards=1, replicas=1, delete_after_days=14)
    assert len(digest) == 64
    assert digest == design_sha256(shards=1, replicas=1, delete_after_days=14)
    assert digest != design_sha256(shards=1, replicas=0, delete_after_days=14)
    assert digest != design_sha256(shards=1, replicas=1, delete_after_days=30)


def test_settings_parse_cloudformation_strings() -> None:
    settings = SetupSettings.from_properties(
        {"IndexerRoleArn": INDEXER_ROLE, "Shards": "2", "Replicas": "1"}
    )
    assert (settings.shards, settings.replicas, settings.delete_after_days) == (2, 1, 30)


# --- the signed HTTP layer ------------------------------------------------------------------

CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "TOKEN")


@dataclass
class FakeSender:
    answers: list[tuple[int, bytes] | Exception]
    requests: list[urllib.request.Request] = field(default_factory=list)

    def __call__(self, request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _signed_http(sender: FakeSender, sleeps: list[float]) -> SigV4Http:
    return SigV4Http(
        ENDPOINT,
        region="eu-west-1",
        credentials=CREDENTIALS,
        attempts=3,
        send=sender,
        sleep=sleeps.append,
    )


def test_requests_are_signed_for_opensearch_service_with_the_body_hash() -> None:
    sender = FakeSender([(200, b"{}")])
    body = b'{"backend_roles":["arn"]}'
    response = _signed_http(sender, [])(
        "PUT", MAPPING, body=body, headers={"Content-Type": "application/json"}
    )
    assert response == HttpResponse(200, b"{}")
    (request,) = sender.requests
    assert request.full_url == f"https://{ENDPOINT}{MAPPING}"
    assert request.get_method() == "PUT"
    assert request.data == body
    headers = {k.lower(): v for k, v in request.header_items()}
    assert headers["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
    assert headers["x-amz-security-token"] == "TOKEN"
    authorization = headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/es/aws4_request" in authorization
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-content-sha256", "x-amz-date", "content-type"} <= set(signed)


def test_a_get_has_no_body_and_the_empty_payload_hash() -> None:
    sender = FakeSender([(404, b"{}")])
    assert _signed_http(sender, [])("GET", ISM).status == 404
    (request,) = sender.requests
    assert request.data is None
    headers = {k.lower(): v for k, v in request.header_items()}
    assert headers["x-amz-content-sha256"] == hashlib.sha256(b"").hexdigest()


def test_transient_answers_are_retried_with_backoff_and_errors_are_not() -> None:
    sleeps: list[float] = []
    sender = FakeSender([(503, b"security not initialized"), (200, b"ok")])
    assert _signed_http(sender, sleeps)("PUT", ROLE, body=b"{}").status == 200
    assert len(sender.requests) == 2 and sleeps == [2.0]
    # Each attempt is signed afresh (a retry after minutes must not carry a stale date).
    assert sender.requests[0] is not sender.requests[1]

    sender = FakeSender([(403, b"forbidden")])
    assert _signed_http(sender, sleeps)("PUT", ROLE, body=b"{}") == HttpResponse(403, b"forbidden")
    assert len(sender.requests) == 1

    sender = FakeSender([(503, b"a"), (503, b"b"), (503, b"c")])
    assert _signed_http(sender, [])("PUT", ROLE, body=b"{}") == HttpResponse(503, b"c")


def test_no_answer_at_all_is_a_setup_error_after_the_attempts() -> None:
    sender = FakeSender([urllib.error.URLError("connection refused")] * 3)
    with pytest.raises(SetupError, match=r"no answer from https://search-qos-test.*3 attempts"):
        _signed_http(sender, [])("GET", ISM)
    assert len(sender.requests) == 3


def test_the_endpoint_must_be_a_host_name() -> None:
    with pytest.raises(SetupError, match="expected a host name"):
        SigV4Http(f"https://{ENDPOINT}/x", region="eu-west-1", credentials=CREDENTIALS)
    assert (
        SigV4Http(f"https://{ENDPOINT}/", region="eu-west-1", credentials=CREDENTIALS).base_url
        == f"https://{ENDPOINT}"
    )
