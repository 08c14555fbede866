"""The requests that make an OpenSearch Service domain ready for Firehose and Dashboards.

In this order, each idempotent (a PUT that replaces, or an import that overwrites), so a re-run
changes nothing that is already right:

1. the security role `qos_firehose_writer` (what Firehose may do, on `qos-events-*` only);
2. its role mapping to the Firehose delivery role's ARN (a backend role, under fine-grained
   access control);
3. the ingest pipeline, then 4. the index template (`index.py`: the same objects
   `setup.apply` puts on the local node; the pipeline first, since the template names it);
5. the ISM retention policy (read first: ISM replaces a policy only given its sequence number);
6. the Dashboards saved objects (the committed NDJSON), into the global tenant.

The HTTP layer is a callable (`Http`): the Lambda passes a SigV4-signing one, tests a fake.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from qos_search_indexer.index import (
    INDEX_PATTERN,
    PIPELINE_NAME,
    TEMPLATE_NAME,
    index_template,
    ingest_pipeline,
    ism_policy,
)

FIREHOSE_SECURITY_ROLE = "qos_firehose_writer"
ISM_POLICY_ID = "qos-events-retention"
SAVED_OBJECTS_FILENAME = "qos-dashboards.ndjson"
# Saved objects go to the global tenant, which every Dashboards user sees (under fine-grained
# access control each user otherwise has a private tenant).
SAVED_OBJECTS_TENANT = "global"
SAVED_OBJECTS_IMPORT_PATH = "/_dashboards/api/saved_objects/_import?overwrite=true"

_BODY_IN_ERRORS = 1000  # characters of a response body quoted in an error


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class Http(Protocol):
    """Sends one request to the domain (path relative to its endpoint) and returns the answer.

    Returns every HTTP status, error or not; raises only when there is no answer at all.
    """

    def __call__(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse: ...


class SetupError(RuntimeError):
    """A setup request was refused; the message has the request, the status and the body."""


@dataclass(frozen=True)
class SetupSettings:
    """What the custom resource's properties say (CloudFormation hands them over as strings)."""

    firehose_role_arn: str
    shards: int = 1
    replicas: int = 0
    delete_after_days: int = 30

    def __post_init__(self) -> None:
        if not self.firehose_role_arn.startswith("arn:") or ":role/" not in self.firehose_role_arn:
            raise SetupError(f"FirehoseRoleArn {self.firehose_role_arn!r} is not an IAM role ARN")
        if self.shards < 1 or self.replicas < 0 or self.delete_after_days < 1:
            raise SetupError(
                f"bad settings: shards={self.shards} (>= 1), replicas={self.replicas} (>= 0), "
                f"delete_after_days={self.delete_after_days} (>= 1)"
            )

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> SetupSettings:
        try:
            return cls(
                firehose_role_arn=str(properties["FirehoseRoleArn"]),
                shards=int(properties.get("Shards", 1)),
                replicas=int(properties.get("Replicas", 0)),
                delete_after_days=int(properties.get("DeleteAfterDays", 30)),
            )
        except KeyError as missing:
            raise SetupError(f"the custom resource has no {missing} property") from None
        except ValueError as exc:
            raise SetupError(f"a custom resource property is not an integer: {exc}") from None


@dataclass
class SetupReport:
    """What was applied, in order, for the custom resource's response and the log."""

    steps: list[str] = field(default_factory=list)
    saved_objects: int = 0


def firehose_writer_role() -> dict[str, Any]:
    """The security role Firehose's IAM role maps to: write and create daily indices, no more."""
    return {
        "description": "Firehose delivery of QoS events into the daily indices",
        "cluster_permissions": ["cluster_composite_ops", "cluster_monitor"],
        "index_permissions": [
            {
                "index_patterns": [INDEX_PATTERN],
                "allowed_actions": ["crud", "create_index", "manage"],
            }
        ],
    }


def firehose_role_mapping(firehose_role_arn: str) -> dict[str, Any]:
    return {
        "description": "The QoS Firehose delivery stream's IAM role",
        "backend_roles": [firehose_role_arn],
    }


def design(*, shards: int, replicas: int, delete_after_days: int) -> dict[str, Any]:
    """Every object the setup puts except the saved objects, by the name it is put under."""
    return {
        f"role/{FIREHOSE_SECURITY_ROLE}": firehose_writer_role(),
        f"pipeline/{PIPELINE_NAME}": ingest_pipeline(),
        f"template/{TEMPLATE_NAME}": index_template(shards=shards, replicas=replicas),
        f"ism/{ISM_POLICY_ID}": ism_policy(delete_after_days=delete_after_days),
    }


def design_sha256(*, shards: int, replicas: int, delete_after_days: int) -> str:
    """A digest of `design`: the stack passes it as a property, so a change re-runs the setup."""
    text = json.dumps(
        design(shards=shards, replicas=replicas, delete_after_days=delete_after_days),
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()


def apply_domain_setup(http: Http, settings: SetupSettings, saved_objects: bytes) -> SetupReport:
    """Apply the role, its mapping, pipeline, template, ISM policy and saved objects, in order."""
    if not saved_objects.strip():
        raise SetupError("the saved objects NDJSON is empty: nothing to import into Dashboards")
    report = SetupReport()
    objects = design(
        shards=settings.shards,
        replicas=settings.replicas,
        delete_after_days=settings.delete_after_days,
    )

    role_path = f"/_plugins/_security/api/roles/{FIREHOSE_SECURITY_ROLE}"
    _put_json(http, role_path, objects[f"role/{FIREHOSE_SECURITY_ROLE}"])
    report.steps.append(f"security role {FIREHOSE_SECURITY_ROLE}")

    mapping_path = f"/_plugins/_security/api/rolesmapping/{FIREHOSE_SECURITY_ROLE}"
    _put_json(http, mapping_path, firehose_role_mapping(settings.firehose_role_arn))
    report.steps.append(f"role mapping {FIREHOSE_SECURITY_ROLE} -> {settings.firehose_role_arn}")

    _put_json(http, f"/_ingest/pipeline/{PIPELINE_NAME}", objects[f"pipeline/{PIPELINE_NAME}"])
    report.steps.append(f"ingest pipeline {PIPELINE_NAME}")

    _put_json(http, f"/_index_template/{TEMPLATE_NAME}", objects[f"template/{TEMPLATE_NAME}"])
    report.steps.append(f"index template {TEMPLATE_NAME}")

    _put_ism_policy(http, objects[f"ism/{ISM_POLICY_ID}"])
    report.steps.append(f"ISM policy {ISM_POLICY_ID}")

    report.saved_objects = _import_saved_objects(http, saved_objects)
    report.steps.append(f"{report.saved_objects} saved objects")
    return report


def _put_json(http: Http, path: str, document: Mapping[str, Any]) -> HttpResponse:
    return _checked(
        "PUT",
        path,
        http(
            "PUT",
            path,
            body=json.dumps(document).encode(),
            headers={"Content-Type": "application/json"},
        ),
        ok=(200, 201),
    )


def _put_ism_policy(http: Http, policy: Mapping[str, Any]) -> None:
    path = f"/_plugins/_ism/policies/{ISM_POLICY_ID}"
    current = _checked("GET", path, http("GET", path), ok=(200, 404))
    if current.status == 200:
        found = current.json()
        # ISM refuses to replace a policy without the version it replaces.
        path += f"?if_seq_no={int(found['_seq_no'])}&if_primary_term={int(found['_primary_term'])}"
    _put_json(http, path, policy)


def _import_saved_objects(http: Http, ndjson: bytes) -> int:
    body, content_type = multipart_file(ndjson, SAVED_OBJECTS_FILENAME)
    headers = {
        "Content-Type": content_type,
        "osd-xsrf": "true",
        "securitytenant": SAVED_OBJECTS_TENANT,
    }
    path = SAVED_OBJECTS_IMPORT_PATH
    response = _checked("POST", path, http("POST", path, body=body, headers=headers), ok=(200,))
    result = response.json()
    if not isinstance(result, dict) or not result.get("success"):
        errors = result.get("errors") if isinstance(result, dict) else result
        raise SetupError(
            f"POST {path}: Dashboards refused saved objects: {_quote(json.dumps(errors).encode())}"
        )
    return int(result.get("successCount", 0))


def multipart_file(content: bytes, filename: str) -> tuple[bytes, str]:
    """A multipart/form-data body with one `file` part, and its Content-Type header."""
    boundary = f"qos-{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/ndjson\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + content + tail, f"multipart/form-data; boundary={boundary}"


def _checked(
    method: str, path: str, response: HttpResponse, *, ok: tuple[int, ...]
) -> HttpResponse:
    if response.status not in ok:
        raise SetupError(f"{method} {path} -> HTTP {response.status}: {_quote(response.body)}")
    return response


def _quote(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip() or "(empty body)"
    return text if len(text) <= _BODY_IN_ERRORS else text[:_BODY_IN_ERRORS] + "..."
