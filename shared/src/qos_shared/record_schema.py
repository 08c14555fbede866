"""Column types of a stored record, derived from the models: one typed column per known field.

Engines that load records into typed tables (the realtime window engine, the lake's Parquet) take
their schema from here, so a field added to a model gets its column everywhere.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

from pydantic import BaseModel

from qos_shared.events import (
    Attempt,
    Enrichment,
    Error,
    Play,
    PlaybackSummary,
    QualityChanged,
    Stop,
    StreamHealth,
    StreamState,
)

ColumnType = Literal["string", "int", "float", "bool", "json"]

_MODELS: tuple[type[BaseModel], ...] = (
    Attempt,
    Play,
    PlaybackSummary,
    QualityChanged,
    Stop,
    Error,
    StreamState,
    StreamHealth,
    Enrichment,
)


def _base_type(annotation: Any) -> ColumnType:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _base_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds = {_base_type(a) for a in typing.get_args(annotation) if a is not type(None)}
        if len(kinds) == 1:
            return kinds.pop()
        if kinds <= {"int", "float"}:
            return "float"
        return "string"
    if origin is Literal:
        values = typing.get_args(annotation)
        if all(isinstance(v, bool) for v in values):
            return "bool"
        return "string"
    if origin is dict:
        return "json"
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    if annotation is str:
        return "string"
    raise TypeError(f"no column type for {annotation!r}")


def column_types() -> dict[str, ColumnType]:
    """Every field of every event model and of the enrichment, with one column type each."""
    columns: dict[str, ColumnType] = {}
    for model in _MODELS:
        for name, info in model.model_fields.items():
            kind = _base_type(info.annotation)
            previous = columns.setdefault(name, kind)
            if previous != kind:
                raise TypeError(f"{name} is {previous} in one model and {kind} in another")
    return columns
