"""CDK code of the search service: the stack, its CDK app, and the functions' packaging.

The functions themselves (the setup, the indexer) are runtime code, in the service's own
package; this package only builds and deploys it (`service_code` is the one module that imports
the service's code). The public surface (`__all__`) is what the platform app and its tests use;
it is loaded on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qos_shared_cdk.surface import lazy_attributes

if TYPE_CHECKING:
    from qos_search_indexer_infra.access import VpcPlacement
    from qos_search_indexer_infra.app import add_search_indexer_stack
    from qos_search_indexer_infra.packaging import (
        BUNDLE,
        DEFAULT_SAVED_OBJECTS,
        SEARCH_ROOT,
        build_lambda_asset,
    )
    from qos_search_indexer_infra.stack import IndexerSource, SearchIndexerStack

__all__ = [
    "BUNDLE",
    "DEFAULT_SAVED_OBJECTS",
    "SEARCH_ROOT",
    "IndexerSource",
    "SearchIndexerStack",
    "VpcPlacement",
    "add_search_indexer_stack",
    "build_lambda_asset",
]
_HOMES = {
    "add_search_indexer_stack": "app",
    "BUNDLE": "packaging",
    "DEFAULT_SAVED_OBJECTS": "packaging",
    "SEARCH_ROOT": "packaging",
    "build_lambda_asset": "packaging",
    "IndexerSource": "stack",
    "SearchIndexerStack": "stack",
    "VpcPlacement": "access",
}

__getattr__ = lazy_attributes(__name__, _HOMES)
