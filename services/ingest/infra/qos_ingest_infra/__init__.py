"""CDK code of the ingest service: the stack, its Lambda bundle and its CDK app.

The public surface (`__all__`) is what the platform app and its tests use; it is loaded on first
access, so `python -m qos_ingest_infra.packaging` doesn't pay for jsii and runtime code never
needs this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qos_shared_cdk.surface import lazy_attributes

if TYPE_CHECKING:
    from qos_ingest_infra.app import add_ingest_stack
    from qos_ingest_infra.packaging import BUNDLE, INGEST_ROOT, REPO_ROOT, build_lambda_asset
    from qos_ingest_infra.stack import HANDLER, IngestStack

__all__ = [
    "BUNDLE",
    "HANDLER",
    "INGEST_ROOT",
    "REPO_ROOT",
    "IngestStack",
    "add_ingest_stack",
    "build_lambda_asset",
]
_HOMES = {
    "add_ingest_stack": "app",
    "BUNDLE": "packaging",
    "INGEST_ROOT": "packaging",
    "REPO_ROOT": "packaging",
    "build_lambda_asset": "packaging",
    "HANDLER": "stack",
    "IngestStack": "stack",
}

__getattr__ = lazy_attributes(__name__, _HOMES)
