"""What makes an OpenSearch Service domain ready for the indexer and Dashboards, as data.

The security role the indexer function writes with and its mapping to the function's IAM role;
the roles of people signed in to Dashboards through Cognito (a read-only role for every
signed-in user, an admin role for the admin group) and their mappings to the identity pool's IAM
roles; the audit log configuration; the index design (`index.py`) and the ISM retention policy,
by the name each is put under (`design`), with a digest the stack passes so that a change
re-runs the setup; the setup's settings as the custom resource gives them; and the values its
requests exchange. The requests themselves are `service.apply_domain_setup`, over an HTTP port
(`service.Http`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qos_search_indexer.domain.index import (
    ALL_PATTERNS,
    PIPELINE_NAME,
    TEMPLATE_NAME,
    VIEWS_TEMPLATE_NAME,
    index_template,
    ingest_pipeline,
    ism_policy,
    views_index_template,
)

INDEXER_SECURITY_ROLE = "qos_indexer_writer"
# Every user signed in through Cognito: search the QoS indices, read the global tenant.
DASHBOARDS_READER_ROLE = "qos_dashboards_reader"
# The user pool's admin group: the reader's rights, plus editing the global tenant's saved
# objects and managing the QoS indices (not the security configuration: that stays with the
# master user).
DASHBOARDS_ADMIN_ROLE = "qos_dashboards_admin"
# The security plugin's name for the tenant Dashboards' `securitytenant: global` header selects.
GLOBAL_TENANT = "global_tenant"
AUDIT_CONFIG_PATH = "/_plugins/_security/api/audit/config"
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

    indexer_role_arn: str
    shards: int = 1
    replicas: int = 0
    delete_after_days: int = 30
    # The identity pool's authenticated role (read-only) and the admin group's role; empty when
    # the stack has no Cognito sign-in (no mapping is made).
    dashboards_reader_role_arn: str = ""
    dashboards_admin_role_arn: str = ""
    # Turn the security plugin's audit logging on (the domain publishes AUDIT_LOGS).
    audit_logs: bool = False

    def __post_init__(self) -> None:
        for name, arn in (
            ("IndexerRoleArn", self.indexer_role_arn),
            ("DashboardsReaderRoleArn", self.dashboards_reader_role_arn or "arn::role/"),
            ("DashboardsAdminRoleArn", self.dashboards_admin_role_arn or "arn::role/"),
        ):
            if not _is_role_arn(arn):
                raise SetupError(f"{name} {arn!r} is not an IAM role ARN")
        if self.shards < 1 or self.replicas < 0 or self.delete_after_days < 1:
            raise SetupError(
                f"bad settings: shards={self.shards} (>= 1), replicas={self.replicas} (>= 0), "
                f"delete_after_days={self.delete_after_days} (>= 1)"
            )

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> SetupSettings:
        try:
            return cls(
                indexer_role_arn=str(properties["IndexerRoleArn"]),
                shards=int(properties.get("Shards", 1)),
                replicas=int(properties.get("Replicas", 0)),
                delete_after_days=int(properties.get("DeleteAfterDays", 30)),
                dashboards_reader_role_arn=str(properties.get("DashboardsReaderRoleArn") or ""),
                dashboards_admin_role_arn=str(properties.get("DashboardsAdminRoleArn") or ""),
                audit_logs=_flag(properties.get("AuditLogs", False)),
            )
        except KeyError as missing:
            raise SetupError(f"the custom resource has no {missing} property") from None
        except ValueError as exc:
            raise SetupError(f"a custom resource property is not an integer: {exc}") from None


def _is_role_arn(arn: str) -> bool:
    return arn.startswith("arn:") and ":role/" in arn


def _flag(value: Any) -> bool:
    """A boolean property: CloudFormation hands `true` over as the string "true"."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false", ""):
        raise SetupError(f"AuditLogs {value!r} is not true or false")
    return text == "true"


@dataclass
class SetupReport:
    """What was applied, in order, for the custom resource's response and the log."""

    steps: list[str] = field(default_factory=list)
    saved_objects: int = 0


def indexer_writer_role() -> dict[str, Any]:
    """The security role the indexer's IAM role maps to: write and create daily indices (of
    events and of views), no more."""
    return {
        "description": "The QoS indexer's writes of events and views into the daily indices",
        "cluster_permissions": ["cluster_composite_ops", "cluster_monitor"],
        "index_permissions": [
            {
                "index_patterns": list(ALL_PATTERNS),
                "allowed_actions": ["crud", "create_index", "manage"],
            }
        ],
    }


def indexer_role_mapping(indexer_role_arn: str) -> dict[str, Any]:
    return {
        "description": "The QoS indexer function's IAM role",
        "backend_roles": [indexer_role_arn],
    }


def dashboards_reader_role() -> dict[str, Any]:
    """Read-only Dashboards users: search the QoS indices and see the global tenant's
    dashboards, without changing them (`kibana_all_read`) or reading any other index."""
    return {
        "description": "QoS Dashboards readers (Cognito sign-in): read qos-events-* and "
        "qos-views-*, global tenant",
        "cluster_permissions": ["cluster_composite_ops_ro"],
        "index_permissions": [{"index_patterns": list(ALL_PATTERNS), "allowed_actions": ["read"]}],
        "tenant_permissions": [
            {"tenant_patterns": [GLOBAL_TENANT], "allowed_actions": ["kibana_all_read"]}
        ],
    }


def dashboards_admin_role() -> dict[str, Any]:
    """The admin group: edit the global tenant's saved objects, read and manage the QoS
    indices (delete a day by hand, see their stats); no security configuration."""
    return {
        "description": "QoS Dashboards admins (Cognito admin group): edit dashboards, manage "
        "qos-events-* and qos-views-*",
        "cluster_permissions": ["cluster_composite_ops", "cluster_monitor"],
        "index_permissions": [
            {
                "index_patterns": list(ALL_PATTERNS),
                "allowed_actions": ["read", "indices_monitor", "manage"],
            }
        ],
        "tenant_permissions": [
            {"tenant_patterns": [GLOBAL_TENANT], "allowed_actions": ["kibana_all_write"]}
        ],
    }


def dashboards_role_mapping(role_arn: str, who: str) -> dict[str, Any]:
    """A Cognito identity pool role as the backend role of a Dashboards security role."""
    return {"description": f"Cognito identity pool: {who}", "backend_roles": [role_arn]}


def audit_config() -> dict[str, Any]:
    """The security plugin's audit configuration (`PUT .../audit/config` takes it whole).

    REST and transport events, minus the two noisiest categories (every granted request,
    every successful authentication); no request bodies (documents are viewers' data) and no
    compliance logging (reads and writes of watched fields).
    """
    return {
        "enabled": True,
        "audit": {
            "enable_rest": True,
            "disabled_rest_categories": ["GRANTED_PRIVILEGES", "AUTHENTICATED"],
            "enable_transport": True,
            "disabled_transport_categories": ["GRANTED_PRIVILEGES", "AUTHENTICATED"],
            "resolve_bulk_requests": False,
            "log_request_body": False,
            "resolve_indices": True,
            "exclude_sensitive_headers": True,
            "ignore_users": [],
            "ignore_requests": [],
        },
        "compliance": {
            "enabled": False,
            "internal_config": False,
            "external_config": False,
            "read_metadata_only": True,
            "read_watched_fields": {},
            "read_ignore_users": [],
            "write_metadata_only": True,
            "write_log_diffs": False,
            "write_watched_indices": [],
            "write_ignore_users": [],
        },
    }


def design(*, shards: int, replicas: int, delete_after_days: int) -> dict[str, Any]:
    """Every object the setup puts except the saved objects, by the name it is put under."""
    return {
        f"role/{INDEXER_SECURITY_ROLE}": indexer_writer_role(),
        f"role/{DASHBOARDS_READER_ROLE}": dashboards_reader_role(),
        f"role/{DASHBOARDS_ADMIN_ROLE}": dashboards_admin_role(),
        "audit/config": audit_config(),
        f"pipeline/{PIPELINE_NAME}": ingest_pipeline(),
        f"template/{TEMPLATE_NAME}": index_template(shards=shards, replicas=replicas),
        f"template/{VIEWS_TEMPLATE_NAME}": views_index_template(shards=shards, replicas=replicas),
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
