"""Wires the search indexer: OpenSearch clients, cluster adapter, dead-letter stores, signed HTTP.

The one place that turns settings into adapters and hands them to the service layer; the
entrypoints and the public `api` build through it.
"""

from __future__ import annotations

import os
import threading

from opensearchpy import OpenSearch

from qos_search_indexer.adapters.deadletter_store import DeadLetterStore, S3DeadLetterStore
from qos_search_indexer.adapters.opensearch import (
    OpenSearchCluster,
    client_for,
    signed_client_for,
)
from qos_search_indexer.service import (
    DeadLetterSink,
    Http,
    IndexerConfig,
    SearchIndexer,
    StreamConfig,
    StreamIndexer,
    set_up_indices,
)
from qos_search_indexer.settings import IndexerLambdaSettings, SearchSettings
from qos_shared.eventlog import EventLog

# The local process sends at most this many requests at once: the events' and the views'
# indexers, each `concurrent_requests` at a time (and the setup's request before them).
LOCAL_CONNECTIONS = 2 * IndexerConfig().concurrent_requests


def opensearch_client(settings: SearchSettings) -> OpenSearch:
    """The client of the configured cluster (its URL, auth and request timeout), with a
    connection per request the local process sends at once."""
    return client_for(
        settings.url,
        auth=settings.auth(),
        timeout=settings.request_timeout_s,
        pool_maxsize=LOCAL_CONNECTIONS,
    )


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


def views_dead_letter_store(settings: SearchSettings) -> DeadLetterStore:
    """The dead-letter store of the views log (created if absent)."""
    return DeadLetterStore(settings.views_dead_letter_path)


def build_stream_indexer(
    settings: IndexerLambdaSettings,
    *,
    dead_letters: DeadLetterSink | None = None,
    views: bool = False,
) -> StreamIndexer:
    """The indexer Lambda's `StreamIndexer`: a SigV4-signed client of the domain (or a plain one
    with `sigv4` off, for a local node), dead letters in the S3 bucket unless given a sink (under
    the views' prefix for the views stream's batches, with `views`)."""
    if settings.sigv4:
        if not settings.region:
            raise ValueError("AWS_REGION is not set: no region to sign requests for")
        client = signed_client_for(
            settings.url, region=settings.region, timeout=settings.request_timeout_s
        )
    else:
        client = client_for(settings.url, timeout=settings.request_timeout_s)
    if dead_letters is None:
        import boto3  # the `aws` extra

        prefix = settings.views_dead_letter_prefix if views else settings.dead_letter_prefix
        dead_letters = S3DeadLetterStore(boto3.client("s3"), settings.dead_letter_bucket, prefix)
    return StreamIndexer(
        OpenSearchCluster(client), dead_letters, StreamConfig(attempts=settings.item_attempts)
    )
