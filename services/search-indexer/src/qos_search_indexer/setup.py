"""Applies the index design to a cluster: the ingest pipeline, then the index template.

Idempotent (PUT replaces), so it runs at every start of the local indexer and at every deploy.
"""

from __future__ import annotations

from opensearchpy import OpenSearch

from qos_search_indexer.index import (
    PIPELINE_NAME,
    TEMPLATE_NAME,
    index_template,
    ingest_pipeline,
)


def apply(client: OpenSearch, *, shards: int = 1, replicas: int = 0) -> None:
    # The pipeline first: the template names it as every new index's default pipeline.
    client.ingest.put_pipeline(id=PIPELINE_NAME, body=ingest_pipeline())
    client.indices.put_index_template(
        name=TEMPLATE_NAME, body=index_template(shards=shards, replicas=replicas)
    )
