"""A package's public surface loaded on first access (PEP 562), for the services' infra packages.

`__init__.py` names its surface in `__all__` and where each name lives; nothing is imported
until a name is used, so `python -m <svc>_infra.packaging` doesn't start jsii, and importing the
package root costs nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `<package>.<homes[name]>` and returns its `name`."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's name
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{homes[name]}"), name)

    return __getattr__
