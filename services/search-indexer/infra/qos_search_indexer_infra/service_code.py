"""Everything the search CDK code takes from the service's own package, in one place.

When the service's modules move, this is the one file to re-point: the functions' entry
points, the index names, and what the setup function applies (its saved objects file's name and
the digest of the index design).
"""

from __future__ import annotations

from qos_search_indexer.api import (
    INDEX_PATTERN,
    INDEX_PREFIX,
    SAVED_OBJECTS_FILENAME,
    VIEWS_INDEX_PATTERN,
    design_sha256,
)

__all__ = [
    "DEV_TOOLING",
    "HANDLER",
    "INDEXER_HANDLER",
    "INDEX_PATTERN",
    "INDEX_PREFIX",
    "SAVED_OBJECTS_FILENAME",
    "VIEWS_INDEX_PATTERN",
    "design_sha256",
]

HANDLER = "qos_search_indexer.entrypoints.setup_lambda.handler"
# The indexer Lambda on the ingest stream and the views stream; its bundle is the setup
# function's (one package).
INDEXER_HANDLER = "qos_search_indexer.entrypoints.indexer_lambda.handler"
# The local node launcher ships in the same wheel; it is dev tooling, never the function's code.
DEV_TOOLING = ("qos_search_node",)
