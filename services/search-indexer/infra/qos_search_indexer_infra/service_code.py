"""Everything the search CDK code takes from the service's own package, in one place.

When the service's modules move, this is the one file to re-point: the setup function's entry
point, the index names, and what the setup function applies (its saved objects file's name and
the digest of the index design).
"""

from __future__ import annotations

from qos_search_indexer.index import INDEX_PATTERN, INDEX_PREFIX
from qos_search_indexer.setup_lambda.domain_setup import SAVED_OBJECTS_FILENAME, design_sha256

__all__ = ["HANDLER", "INDEX_PATTERN", "INDEX_PREFIX", "SAVED_OBJECTS_FILENAME", "design_sha256"]

HANDLER = "qos_search_indexer.setup_lambda.handler.handler"
