"""A named query: its name, what it answers, its Trino text and the catalogue metrics it reports."""

from __future__ import annotations

from dataclasses import dataclass

# The parameter bound to each `?` of a table's scope (`definitions.SCOPE`, `VIEWS_SCOPE`), in
# order; a query that reads both tables binds them twice, the events' scope first.
PLACEHOLDERS: tuple[str, ...] = (
    "from",
    "to",
    "from",
    "to",
    "platform",
    "platform",
    "channel",
    "channel",
    "country",
    "country",
)


@dataclass(frozen=True, slots=True)
class NamedQuery:
    name: str
    description: str
    sql: str  # Trino (Athena) text with `?` placeholders, bound in `placeholders` order
    group_columns: tuple[str, ...]  # the output columns that identify a row, in sort order
    metric_columns: tuple[tuple[str, str], ...]  # (output column, catalogue metric name)
    rank_by: tuple[str, ...] = ()  # metric columns sorted descending before the group columns
    tables: tuple[str, ...] = ("events",)  # the lake tables it reads, in its scopes' order
    value_columns: tuple[str, ...] = ()  # output columns after the metrics: a view's fields

    @property
    def columns(self) -> tuple[str, ...]:
        """Every output column, in order."""
        return (*self.group_columns, *(c for c, _ in self.metric_columns), *self.value_columns)

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The parameter bound to each `?` of the text, in order."""
        return PLACEHOLDERS * len(self.tables)
