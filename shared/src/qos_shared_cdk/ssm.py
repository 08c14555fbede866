"""SSM parameter names of the platform's cross-stack wiring, each defined once, and stack names.

Stacks share nothing through CloudFormation: whatever one stack needs from another is an SSM
parameter `/qos/<env>/<service>/<resource>` that its owner writes and the reader resolves at
deploy time. Every such name is a constant here, so writer and reader can't drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

INGEST = "ingest"
REALTIME = "realtime"
LAKE = "lake"
SEARCH_INDEXER = "search-indexer"
# In deploy order: ingest first, since the others read what it writes.
SERVICES = (INGEST, REALTIME, LAKE, SEARCH_INDEXER)

_ENV_NAME = re.compile(r"^[a-z](?:[a-z0-9-]{0,18}[a-z0-9])?$")


def check_env_name(env_name: str) -> None:
    """Refuse an environment name that some resource name, stage name or SSM path won't take."""
    if not _ENV_NAME.fullmatch(env_name):
        raise ValueError(
            f"env_name {env_name!r}: use 1-20 lowercase letters, digits and inner hyphens, "
            "starting with a letter"
        )


def stack_name(env_name: str, service: str) -> str:
    """`qos-<env>-<service>`: the stack's name, in every app that deploys it."""
    return f"qos-{env_name}-{service}"


def parameter_name(env_name: str, service: str, resource: str) -> str:
    """The platform's SSM naming scheme for cross-service wiring."""
    return f"/qos/{env_name}/{service}/{resource}"


@dataclass(frozen=True)
class Parameter:
    """One SSM parameter of the wiring: the service whose stack writes it, and its resource."""

    service: str
    resource: str

    def name(self, env_name: str) -> str:
        return parameter_name(env_name, self.service, self.resource)

    def writer(self, env_name: str) -> str:
        """The stack that writes it (and must be deployed before any stack that reads it)."""
        return stack_name(env_name, self.service)


# --- ingest ------------------------------------------------------------------------------------
INGEST_STREAM_NAME = Parameter(INGEST, "stream-name")
INGEST_STREAM_ARN = Parameter(INGEST, "stream-arn")
INGEST_API_URL = Parameter(INGEST, "api-url")
# The edge in front of the API (CloudFront): what players post to, and the hosted demo page.
INGEST_EDGE_URL = Parameter(INGEST, "edge-url")
INGEST_DEMO_PAGE_URL = Parameter(INGEST, "demo-page-url")
# Written in us-east-1 by `qos-<env>-ingest-waf` (CloudFront's web ACLs live there only).
INGEST_WEB_ACL_ARN = Parameter(INGEST, "web-acl-arn")

# --- realtime ----------------------------------------------------------------------------------
REALTIME_METRIC_STREAM_ARN = Parameter(REALTIME, "metric-stream-arn")
REALTIME_METRIC_STREAM_NAME = Parameter(REALTIME, "metric-stream-name")
REALTIME_FLINK_APPLICATION_NAME = Parameter(REALTIME, "flink-application-name")
REALTIME_CLOUDWATCH_NAMESPACE = Parameter(REALTIME, "cloudwatch-namespace")
REALTIME_DASHBOARD_NAME = Parameter(REALTIME, "dashboard-name")
REALTIME_ALARM_TOPIC_ARN = Parameter(REALTIME, "alarm-topic-arn")
# The stream of closed views' records (`qos_shared.views`) the Flink job writes; the lake and the
# search index read it.
REALTIME_VIEWS_STREAM_ARN = Parameter(REALTIME, "views-stream-arn")
REALTIME_VIEWS_STREAM_NAME = Parameter(REALTIME, "views-stream-name")

# --- lake --------------------------------------------------------------------------------------
LAKE_BUCKET_NAME = Parameter(LAKE, "bucket-name")
LAKE_DATABASE = Parameter(LAKE, "database")
LAKE_TABLE = Parameter(LAKE, "table")
LAKE_WORKGROUP = Parameter(LAKE, "workgroup")
LAKE_DELIVERY_STREAM_NAME = Parameter(LAKE, "delivery-stream-name")
LAKE_VIEWS_TABLE = Parameter(LAKE, "views-table")
LAKE_VIEWS_DELIVERY_STREAM_NAME = Parameter(LAKE, "views-delivery-stream-name")

# --- search-indexer ----------------------------------------------------------------------------
SEARCH_DOMAIN_ENDPOINT = Parameter(SEARCH_INDEXER, "domain-endpoint")
SEARCH_DOMAIN_ARN = Parameter(SEARCH_INDEXER, "domain-arn")
SEARCH_DASHBOARDS_URL = Parameter(SEARCH_INDEXER, "dashboards-url")
SEARCH_INDEX_PATTERN = Parameter(SEARCH_INDEXER, "index-pattern")
SEARCH_INDEXER_FUNCTION_NAME = Parameter(SEARCH_INDEXER, "indexer-function-name")
SEARCH_FAILED_DOCUMENTS_BUCKET = Parameter(SEARCH_INDEXER, "failed-documents-bucket")

PARAMETERS: tuple[Parameter, ...] = tuple(
    value for value in tuple(globals().values()) if isinstance(value, Parameter)
)
