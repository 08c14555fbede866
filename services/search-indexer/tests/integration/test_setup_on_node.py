"""The setup custom resource's handler against the real local node, then every panel on the result.

`setup_lambda.on_event` runs as CloudFormation would call it (Create, then Update), with its real
HTTP layer: `SigV4Http` signs every request (with fixed test credentials) exactly as on AWS and
urllib sends it; only the address changes, from the domain's HTTPS endpoint to the node's
`http://127.0.0.1:<port>`. The node has no security plugin, so it IGNORES the signature (SigV4 is
not off: the requests carry it; nothing checks it).

What runs where:

- on the real node: the ingest pipeline and the index template (`PUT _ingest/pipeline/qos-events`,
  `PUT _index_template/qos-events`); then the daily indices the golden records create are made
  from that template (settings, `dynamic: false` mapping, the pipeline's `viewer_location`), and
  every dashboard panel's search runs on them against the oracle (`panel_checks`, the same checks
  as `test_panels.py`);
- on the recorded fake (`tests/fake_domain.py`), because the node lacks the plugin (checked
  below with `GET _cat/plugins`): the security plugin's calls (roles, role mappings, audit
  configuration), the ISM policy (ISM is a plugin of OpenSearch Service, not in the node's
  modules), and Dashboards' saved objects import (Dashboards is another server).
  `test_the_calls_the_node_cannot_answer_went_to_the_fake` lists them.

The setup creates no index and no alias itself: a daily index is created by its first write
(the indexer's) from the template, which is what the indexing below checks.

Running the setup twice (Create, Update) is idempotent: the second run raises nothing, sends the
same requests, and leaves the node's template, pipeline and documents, and the fake's state, as
the first left them.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials
from opensearchpy import OpenSearch

from qos_search_indexer.adapters.signed_http import SigV4Http, urllib_send
from qos_search_indexer.api import INDEX_PATTERN, VIEWS_INDEX_PATTERN, client_for
from qos_search_indexer.dashboards.panels import Panel
from qos_search_indexer.domain.design import HttpResponse
from qos_search_indexer.domain.index import (
    PIPELINE_NAME,
    TEMPLATE_NAME,
    VIEWS_TEMPLATE_NAME,
    index_template,
    ingest_pipeline,
    mappings,
    view_mappings,
    views_index_template,
)
from qos_search_indexer.entrypoints.setup_lambda import on_event, physical_id
from qos_shared.testing.oracle import Record

from ..fake_domain import IMPORT, ISM, FakeDomain
from ..panel_checks import PANELS, PLATFORM_FILTERS, check_panel, index_records
from ..panels_support import generate, with_views

ENDPOINT = "search-qos-test-node.eu-west-1.es.amazonaws.com"
INDEXER_ROLE = "arn:aws:iam::123456789012:role/qos-test-search-IndexerRole-XYZ"
READER_ROLE = "arn:aws:iam::123456789012:role/qos-test-search-DashboardsReader-ABC"
ADMIN_ROLE = "arn:aws:iam::123456789012:role/qos-test-search-DashboardsAdmin-DEF"
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "TOKEN")
SAVED_OBJECTS = Path(__file__).resolve().parents[2] / "dashboards" / "qos-dashboards.ndjson"
# Paths of the plugins the node lacks, and the plugin each belongs to.
FAKED_PREFIXES = {
    "/_plugins/_security/": "security",
    "/_plugins/_ism/": "index management (ISM)",
    "/_dashboards/": "OpenSearch Dashboards",
}
SECURITY = "/_plugins/_security/api"
# Every call of one setup run that stays on the fake, in order, written out here.
FAKED_CALLS = [
    ("PUT", f"{SECURITY}/roles/qos_indexer_writer"),
    ("PUT", f"{SECURITY}/rolesmapping/qos_indexer_writer"),
    ("PUT", f"{SECURITY}/roles/qos_dashboards_reader"),
    ("PUT", f"{SECURITY}/rolesmapping/qos_dashboards_reader"),
    ("PUT", f"{SECURITY}/roles/qos_dashboards_admin"),
    ("PUT", f"{SECURITY}/rolesmapping/qos_dashboards_admin"),
    ("PUT", f"{SECURITY}/audit/config"),
    ("GET", ISM),
    ("PUT", ISM),
    ("POST", IMPORT),
]
NODE_CALLS = [
    ("PUT", f"/_ingest/pipeline/{PIPELINE_NAME}"),
    ("PUT", f"/_index_template/{TEMPLATE_NAME}"),
    ("PUT", f"/_index_template/{VIEWS_TEMPLATE_NAME}"),
]


@dataclass
class Routed:
    """`service.Http` of the setup: the node for what it serves, the fake for the rest."""

    node: SigV4Http
    fake: FakeDomain
    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (where, method, path)

    def __call__(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        if any(path.startswith(prefix) for prefix in FAKED_PREFIXES):
            self.sent.append(("fake", method, path))
            return self.fake(method, path, body=body, headers=headers)
        self.sent.append(("node", method, path))
        return self.node(method, path, body=body, headers=headers)


def to_node(node_url: str, seen: list[dict[str, str]]) -> Any:
    """A `SigV4Http` sender that delivers the signed request to the node instead of AWS."""

    def send(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
        assert request.full_url.startswith(f"https://{ENDPOINT}/")
        path = request.full_url.removeprefix(f"https://{ENDPOINT}")
        headers = dict(request.header_items())
        seen.append({k.lower(): v for k, v in headers.items()})
        retargeted = urllib.request.Request(
            node_url + path, data=request.data, headers=headers, method=request.get_method()
        )
        return urllib_send(retargeted, timeout)

    return send


def _event(request_type: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ResourceType": "Custom::QosSearchSetup",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:provider",
            "DomainEndpoint": ENDPOINT,
            "IndexerRoleArn": INDEXER_ROLE,
            "DashboardsReaderRoleArn": READER_ROLE,
            "DashboardsAdminRoleArn": ADMIN_ROLE,
            "AuditLogs": "true",
            "Shards": "1",
            "Replicas": "0",  # one node: a replica could never be allocated
            "DeleteAfterDays": "14",
        },
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = physical_id(ENDPOINT)
    return event


@dataclass
class NodeState:
    template: Any
    views_template: Any
    pipeline: Any
    documents: int
    views: int


def node_state(client: OpenSearch) -> NodeState:
    client.indices.refresh(index=f"{INDEX_PATTERN},{VIEWS_INDEX_PATTERN}")
    return NodeState(
        template=client.indices.get_index_template(name=TEMPLATE_NAME),
        views_template=client.indices.get_index_template(name=VIEWS_TEMPLATE_NAME),
        pipeline=client.ingest.get_pipeline(id=PIPELINE_NAME),
        documents=client.count(index=INDEX_PATTERN)["count"],
        views=client.count(index=VIEWS_INDEX_PATTERN)["count"],
    )


@dataclass
class Applied:
    client: OpenSearch
    records: list[Record]
    indices: list[str]
    plugins: set[str]
    runs: list[Routed]
    results: list[dict[str, Any]]
    states: list[NodeState]
    fake_after: list[dict[str, Any]]
    signed_headers: list[dict[str, str]]


@pytest.fixture(scope="module")
def applied(opensearch_url: str) -> Iterator[Applied]:
    client = client_for(opensearch_url)
    # Another module may have put the same objects: start without them, so what the node has
    # below is the setup's doing.
    client.indices.delete_index_template(name=TEMPLATE_NAME, ignore=[404])
    client.indices.delete_index_template(name=VIEWS_TEMPLATE_NAME, ignore=[404])
    client.ingest.delete_pipeline(id=PIPELINE_NAME, ignore=[404])
    plugins = {row["component"] for row in client.cat.plugins(format="json")}
    fake = FakeDomain()
    signed: list[dict[str, str]] = []
    node_http = SigV4Http(
        ENDPOINT, region="eu-west-1", credentials=CREDENTIALS, send=to_node(opensearch_url, signed)
    )
    saved = SAVED_OBJECTS.read_bytes()
    runs: list[Routed] = []
    results: list[dict[str, Any]] = []
    states: list[NodeState] = []
    fake_after: list[dict[str, Any]] = []
    records = with_views(generate())
    indices: list[str] = []

    def run(request_type: str) -> None:
        routed = Routed(node_http, fake)
        runs.append(routed)

        def http_for(endpoint: str) -> Routed:
            assert endpoint == ENDPOINT
            return routed

        results.append(
            on_event(_event(request_type), http_for=http_for, saved_objects=lambda: saved)
        )
        fake_after.append(json.loads(json.dumps(fake.documents)))

    try:
        run("Create")
        indices = index_records(client, records)
        states.append(node_state(client))
        run("Update")
        states.append(node_state(client))
        yield Applied(client, records, indices, plugins, runs, results, states, fake_after, signed)
    finally:
        client.indices.delete(index=",".join(indices) or "qos-events-none", ignore_unavailable=True)
        client.close()


def test_the_node_lacks_the_plugins_whose_calls_are_faked(applied: Applied) -> None:
    """If the node gains one of these plugins, its calls belong on the node: move them."""
    names = " ".join(sorted(applied.plugins)).lower()
    assert "security" not in names
    assert "indexmanagement" not in names and "ism" not in names
    # What it has: the modules the pipeline and the template need.
    assert any(p.endswith("IngestCommonPlugin") for p in applied.plugins)
    assert any(p.endswith("PainlessPlugin") for p in applied.plugins)


def test_the_calls_the_node_cannot_answer_went_to_the_fake(applied: Applied) -> None:
    create, update = applied.runs
    faked = [(m, p) for where, m, p in create.sent if where == "fake"]
    on_node = [(m, p) for where, m, p in create.sent if where == "node"]
    assert faked == FAKED_CALLS
    assert on_node == NODE_CALLS
    # Update: the same calls; ISM's write now carries the version it replaces.
    assert [(m, p) for where, m, p in update.sent if where == "node"] == NODE_CALLS
    ism_write = ("PUT", f"{ISM}?if_seq_no=0&if_primary_term=1")
    expected = [ism_write if call == ("PUT", ISM) else call for call in FAKED_CALLS]
    assert [(m, p) for where, m, p in update.sent if where == "fake"] == expected


def test_the_requests_reached_the_node_signed(applied: Applied) -> None:
    assert len(applied.signed_headers) == 2 * len(NODE_CALLS)
    for headers in applied.signed_headers:
        assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        assert "/eu-west-1/es/aws4_request" in headers["authorization"]


def test_the_handler_reports_every_step(applied: Applied) -> None:
    saved_count = sum(1 for line in SAVED_OBJECTS.read_bytes().splitlines() if line.strip())
    for result in applied.results:
        assert result["PhysicalResourceId"] == f"qos-search-setup:{ENDPOINT}"
        # writer role + mapping, 2 Dashboards roles + mappings, audit, pipeline, 2 templates,
        # ISM policy, saved objects.
        assert result["Data"] == {"Steps": 12, "SavedObjects": saved_count}


def test_the_node_holds_the_pipeline_and_template_as_designed(applied: Applied) -> None:
    state = applied.states[0]
    assert state.pipeline == {PIPELINE_NAME: ingest_pipeline()}
    (stored,) = state.template["index_templates"]
    assert stored["name"] == TEMPLATE_NAME
    expected = index_template(shards=1, replicas=0)
    got = stored["index_template"]
    assert got["index_patterns"] == expected["index_patterns"] == ["qos-events-*"]
    assert got["priority"] == 100
    # The node keeps settings as strings.
    assert got["template"]["settings"]["index"] == {
        "number_of_shards": "1",
        "number_of_replicas": "0",
        "refresh_interval": "5s",
        "default_pipeline": PIPELINE_NAME,
        # What the slow logs record (the domain publishes them), nested as the node keeps them.
        "search": {
            "slowlog": {
                "threshold": {"query": {"warn": "5s", "info": "1s"}, "fetch": {"warn": "1s"}}
            }
        },
        "indexing": {"slowlog": {"threshold": {"index": {"warn": "5s", "info": "1s"}}}},
    }
    assert got["template"]["mappings"] == mappings()
    (stored_views,) = state.views_template["index_templates"]
    assert stored_views["name"] == VIEWS_TEMPLATE_NAME
    got_views = stored_views["index_template"]
    assert got_views["index_patterns"] == views_index_template()["index_patterns"]
    assert got_views["index_patterns"] == ["qos-views-*"]
    assert "default_pipeline" not in got_views["template"]["settings"]["index"]
    assert got_views["template"]["mappings"] == view_mappings()


def test_daily_indices_are_made_from_the_template(applied: Applied) -> None:
    client, records = applied.client, applied.records
    assert applied.indices == ["qos-events-2027.01.15", "qos-views-2027.01.15"]
    for index in applied.indices[:1]:
        settings = client.indices.get_settings(index=index)[index]["settings"]["index"]
        assert settings["default_pipeline"] == PIPELINE_NAME
        assert settings["number_of_replicas"] == "0"
        assert settings["search"]["slowlog"]["threshold"]["query"]["warn"] == "5s"
        mapping = client.indices.get_mapping(index=index)[index]["mappings"]
        assert mapping["dynamic"] == "false"
        assert mapping["properties"]["viewer_location"] == {"type": "geo_point"}
    events = [r for r in records if r["metric_type"] != "VIEW"]
    assert applied.states[0].documents == len(events)
    assert applied.states[0].views == len(records) - len(events) > 0
    # The views' index: from its template (no pipeline, every view field, times as dates).
    views_index = applied.indices[1]
    settings = client.indices.get_settings(index=views_index)[views_index]["settings"]["index"]
    assert "default_pipeline" not in settings and settings["number_of_replicas"] == "0"
    mapping = client.indices.get_mapping(index=views_index)[views_index]["mappings"]
    assert mapping["dynamic"] == "false"
    assert mapping["properties"]["view_start"] == {"type": "date", "format": "epoch_millis"}
    assert mapping["properties"]["outcome"]["type"] == "keyword"
    # The pipeline ran on every located record, and only those.
    located = client.count(
        index=INDEX_PATTERN, body={"query": {"exists": {"field": "viewer_location"}}}
    )["count"]
    assert located == sum(1 for r in records if r.get("viewer_latitude") is not None) > 0


def test_running_the_setup_again_changes_nothing(applied: Applied) -> None:
    first, second = applied.states
    assert second == first
    assert applied.fake_after[1] == applied.fake_after[0]


@pytest.mark.parametrize("platform", PLATFORM_FILTERS, ids=lambda p: p or "all")
@pytest.mark.parametrize("panel", PANELS, ids=lambda p: p.id)
def test_panel_on_the_set_up_node_matches_the_independent_truth(
    applied: Applied, panel: Panel, platform: str | None
) -> None:
    check_panel(applied.client, panel, applied.records, platform)
