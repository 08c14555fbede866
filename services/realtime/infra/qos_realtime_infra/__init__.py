"""CDK code of the realtime service: the stack, its publisher bundle, dashboard and CDK app.

The public surface (`__all__`) is what the platform app and its tests use; it is loaded on first
access, so `python -m qos_realtime_infra.packaging` doesn't pay for jsii and runtime code never
needs this package. `service_code` is the one module that imports the service's own code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qos_shared_cdk.surface import lazy_attributes

if TYPE_CHECKING:
    from qos_realtime_infra.app import add_realtime_stack, flink_runtime_from_pom
    from qos_realtime_infra.packaging import BUNDLE, REALTIME_ROOT, build_lambda_asset
    from qos_realtime_infra.stack import DEFAULT_FLINK_RUNTIME, RealtimeStack

__all__ = [
    "BUNDLE",
    "DEFAULT_FLINK_RUNTIME",
    "REALTIME_ROOT",
    "RealtimeStack",
    "add_realtime_stack",
    "build_lambda_asset",
    "flink_runtime_from_pom",
]
_HOMES = {
    "add_realtime_stack": "app",
    "flink_runtime_from_pom": "app",
    "BUNDLE": "packaging",
    "REALTIME_ROOT": "packaging",
    "build_lambda_asset": "packaging",
    "DEFAULT_FLINK_RUNTIME": "stack",
    "RealtimeStack": "stack",
}

__getattr__ = lazy_attributes(__name__, _HOMES)
