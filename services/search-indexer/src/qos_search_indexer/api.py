"""The search indexer's public surface: the only module of `qos_search_indexer` others import.

The composition (`infra/`: `qos up`, its tests) and the benchmarks (`bench/`) use these names and
nothing else of the package, so its inside can change without them; the local OpenSearch node
is a package of its own (`qos_search_node`).

- The index: `INDEX_PATTERN` (every daily index, `qos-events-*`), `INDEX_PREFIX`, `index_for`;
  the views' (`qos-views-*`): `VIEWS_INDEX_PATTERN`, `VIEWS_INDEX_PREFIX`, `view_index_for`.
- Indexing the local event log: `client_for`, `apply_index_design`, `build_indexer` (a
  `SearchIndexer` configured by `IndexerConfig`, checkpointed as `CONSUMER`), `DeadLetterStore`;
  `LOCAL_INDEXER_MODULE` runs it as a process (`python -m`).
- The setup on OpenSearch Service (for the stack): `design_sha256`, `SAVED_OBJECTS_FILENAME`.
- The indexer Lambda's code path (a Kinesis batch in, a partial batch response out):
  `handle_kinesis_batch` with a `StreamIndexer` (`build_stream_indexer` from
  `IndexerLambdaSettings`, or `StreamIndexer` on a cluster of `client_for`).
- The Dashboards panels as searches: `all_panels`, `catalogue_panels`, `search_body`,
  `read_rows` (`Panel`), to check or time them against a cluster.
"""

from __future__ import annotations

from typing import Any

from qos_search_indexer.adapters.deadletter_store import DeadLetterStore
from qos_search_indexer.adapters.opensearch import OpenSearchCluster, client_for
from qos_search_indexer.bootstrap import apply_index_design, build_indexer, build_stream_indexer
from qos_search_indexer.dashboards.panels import (
    Panel,
    all_panels,
    catalogue_panels,
    read_rows,
    search_body,
)
from qos_search_indexer.domain.deadletter import DeadLetter
from qos_search_indexer.domain.design import SAVED_OBJECTS_FILENAME, design_sha256
from qos_search_indexer.domain.documents import bulk_body
from qos_search_indexer.domain.index import (
    INDEX_PATTERN,
    INDEX_PREFIX,
    VIEWS_INDEX_PATTERN,
    VIEWS_INDEX_PREFIX,
    index_for,
    view_index_for,
)
from qos_search_indexer.entrypoints import local_indexer
from qos_search_indexer.service import (
    CONSUMER,
    BatchResult,
    IndexerConfig,
    SearchIndexer,
    StreamConfig,
    StreamIndexer,
)
from qos_search_indexer.settings import IndexerLambdaSettings


def handle_kinesis_batch(
    event: dict[str, Any], context: Any, indexer: StreamIndexer
) -> dict[str, Any]:
    """The indexer Lambda's handler body on one Kinesis event (`entrypoints.indexer_lambda`);
    needs Powertools (the `aws` extra), imported here and not with the rest of the surface."""
    from qos_search_indexer.entrypoints.indexer_lambda import handle_batch

    return handle_batch(event, context, indexer)


#: The local indexer's process, for `python -m` (`qos up` starts it so).
LOCAL_INDEXER_MODULE = local_indexer.__name__

__all__ = [
    "CONSUMER",
    "INDEX_PATTERN",
    "INDEX_PREFIX",
    "LOCAL_INDEXER_MODULE",
    "SAVED_OBJECTS_FILENAME",
    "VIEWS_INDEX_PATTERN",
    "VIEWS_INDEX_PREFIX",
    "BatchResult",
    "DeadLetter",
    "DeadLetterStore",
    "IndexerConfig",
    "IndexerLambdaSettings",
    "OpenSearchCluster",
    "Panel",
    "SearchIndexer",
    "StreamConfig",
    "StreamIndexer",
    "all_panels",
    "apply_index_design",
    "build_indexer",
    "build_stream_indexer",
    "bulk_body",
    "catalogue_panels",
    "client_for",
    "design_sha256",
    "handle_kinesis_batch",
    "index_for",
    "read_rows",
    "search_body",
    "view_index_for",
]
