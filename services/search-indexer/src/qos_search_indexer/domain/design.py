"""What makes an OpenSearch Service domain ready for Firehose and Dashboards, as data.

The security role Firehose writes with and its mapping to the delivery role's ARN, the index
design (`index.py`) and the ISM retention policy, by the name each is put under (`design`), with
a digest the stack passes so that a change re-runs the setup; the setup's settings as the custom
resource gives them; and the values its requests exchange. The requests themselves are
`service.apply_domain_setup`, over an HTTP port (`service.Http`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qos_search_indexer.domain.index import (
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


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"null")


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
