"""A named query: its name, what it answers, its Trino text and the catalogue metrics it reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NamedQuery:
    name: str
    description: str
    sql: str  # Trino (Athena) text with `?` placeholders, bound in PLACEHOLDERS order
    group_columns: tuple[str, ...]  # the output columns that identify a row, in sort order
    metric_columns: tuple[tuple[str, str], ...]  # (output column, catalogue metric name)
    rank_by: tuple[str, ...] = ()  # metric columns sorted descending before the group columns
