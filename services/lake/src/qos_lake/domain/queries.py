"""The lake's named queries, written once in Athena's dialect (Trino).

Every query reads the table `events` (the lake: event columns plus the `dt`/`hour` partition
columns), the table `views` (a record per view, `qos_shared.views.VIEW_FIELDS`, partitioned by
its close time), or both, each through its scope, whose SQL text is fixed; the time range and
the dimension filters are bound to its `?` placeholders, never spliced into the text:

- `from`, `to` (dates, inclusive, UTC): on the `dt` partition (so Athena and DuckDB skip other
  days' files) and on `event_time`;
- `platform`, `channel`, `country` (optional): `client_platform`, `channel_watched` and
  `viewer_country` equal to the value; unset (null) means every value.

The placeholders are positional (Athena's `ExecutionParameters`, Trino's `EXECUTE … USING`) and
are the same in every scope: `QueryParams.values(query)` gives them in the query's order
(`PLACEHOLDERS`, once per table it reads).

The KPI formulas are not written here: `qos_shared.catalogue_sql` renders them from the metric
catalogue, so the lake computes the same numbers as the realtime engines. `adapters.duckdb_query`
runs the same text on DuckDB over the lake's live files.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from qos_lake.domain.definitions import build_queries
from qos_lake.domain.named_query import PLACEHOLDERS, NamedQuery

ParameterType = Literal["date", "varchar"]


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    type: ParameterType
    required: bool
    description: str


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("from", "date", True, "first day, inclusive (UTC, YYYY-MM-DD)"),
    Parameter("to", "date", True, "last day, inclusive (UTC, YYYY-MM-DD)"),
    Parameter("platform", "varchar", False, "only this client_platform"),
    Parameter("channel", "varchar", False, "only this channel_watched"),
    Parameter("country", "varchar", False, "only this viewer_country"),
)


@dataclass(frozen=True, slots=True)
class QueryParams:
    """The values of a query's parameters: a day range and optional dimension filters."""

    from_day: date
    to_day: date
    platform: str | None = None
    channel: str | None = None
    country: str | None = None

    def __post_init__(self) -> None:
        if self.from_day > self.to_day:
            raise ValueError(f"the range is reversed: from {self.from_day} is after {self.to_day}")

    def by_name(self) -> dict[str, str | None]:
        return {
            "from": self.from_day.isoformat(),
            "to": self.to_day.isoformat(),
            "platform": self.platform,
            "channel": self.channel,
            "country": self.country,
        }

    def values(self, query: NamedQuery | None = None) -> list[str | None]:
        """The values for the `?` placeholders of a query's text, in order (dates as YYYY-MM-DD
        text); those of one scope (`PLACEHOLDERS`) without a query."""
        named = self.by_name()
        return [named[name] for name in (PLACEHOLDERS if query is None else query.placeholders)]

    def days(self) -> set[str]:
        """Every day in range, as its `dt=` partition names it (YYYY-MM-DD)."""
        span = (self.to_day - self.from_day).days
        return {(self.from_day + timedelta(days=n)).isoformat() for n in range(span + 1)}


QUERIES: dict[str, NamedQuery] = {q.name: q for q in build_queries()}


class UnknownQuery(KeyError):
    """A query name that is not in QUERIES; the message suggests close names."""

    def __str__(self) -> str:
        return str(self.args[0])


def named_query(name: str) -> NamedQuery:
    try:
        return QUERIES[name]
    except KeyError:
        close = difflib.get_close_matches(name, QUERIES, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UnknownQuery(
            f"unknown query {name!r}{hint} (`qos-lake queries` lists them)"
        ) from None


__all__ = [
    "PARAMETERS",
    "PLACEHOLDERS",
    "QUERIES",
    "NamedQuery",
    "Parameter",
    "QueryParams",
    "UnknownQuery",
    "named_query",
]
