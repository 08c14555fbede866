"""Wires the search indexer: OpenSearch client, cluster adapter, dead-letter store, signed HTTP.

The one place that turns settings into adapters and hands them to the service layer; the
entrypoints and the public `api` build through it.
"""

from __future__ import annotations

import os
import threading

from opensearchpy import OpenSearch

from qos_search_indexer.adapters.deadletter_store import DeadLetterStore
from qos_search_indexer.adapters.opensearch import OpenSearchCluster, client_for
from qos_search_indexer.service import (
    Http,
    IndexerConfig,
    SearchIndexer,
    set_up_indices,
)
from qos_search_indexer.settings import SearchSettings
from qos_shared.eventlog import EventLog


def opensearch_client(settings: SearchSettings) -> OpenSearch:
    """The client of the configured cluster (its URL, auth and request timeout)."""
    return client_for(settings.url, auth=settings.auth(), timeout=settings.request_timeout_s)


def apply_index_design(client: OpenSearch, *, shards: int = 1, replicas: int = 0) -> None:
    """Put the ingest pipeline and index template on the cluster of `client` (idempotent)."""
    set_up_indices(OpenSearchCluster(client), shards=shards, replicas=replicas)


def build_indexer(
    log: EventLog,
    client: OpenSearch,
    dead_letters: DeadLetterStore,
    config: IndexerConfig | None = None,
    *,
    stop: threading.Event | None = None,
) -> SearchIndexer:
    """A `SearchIndexer` of `log` into the cluster of `client`, parking refusals in the store."""
    cluster = OpenSearchCluster(client)
    return SearchIndexer(log, cluster, dead_letters, config or IndexerConfig(), stop=stop)


def indexer_config(settings: SearchSettings) -> IndexerConfig:
    """The local process's batch size and poll interval, as the settings say."""
    return IndexerConfig(batch_size=settings.batch_size, poll_interval_s=settings.poll_interval_s)


def dead_letter_store(settings: SearchSettings) -> DeadLetterStore:
    """The dead-letter store at the configured path (created if absent)."""
    return DeadLetterStore(settings.dead_letter_path)


def signed_http(endpoint: str) -> Http:
    """SigV4-signed requests to an OpenSearch Service domain, in the Lambda's region."""
    # botocore comes with the `aws` extra (the Lambda bundle), not with the local install.
    from qos_search_indexer.adapters.signed_http import SigV4Http

    return SigV4Http(endpoint, region=os.environ["AWS_REGION"])
