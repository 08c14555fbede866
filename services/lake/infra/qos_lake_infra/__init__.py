"""CDK code of the lake service: the stack, its CDK app, and the Glue table it declares.

`catalog` is plain Python (no aws_cdk), so tests and tools can use the table definition without
paying for jsii. The public surface (`__all__`) is what the platform app and its tests use; it
is loaded on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qos_shared_cdk.surface import lazy_attributes

if TYPE_CHECKING:
    from qos_lake_infra.app import add_lake_stack
    from qos_lake_infra.stack import LakeStack, database_name

__all__ = ["LakeStack", "add_lake_stack", "database_name"]
_HOMES = {"add_lake_stack": "app", "LakeStack": "stack", "database_name": "stack"}

__getattr__ = lazy_attributes(__name__, _HOMES)
