"""A minimal Trino client over the HTTP protocol (``POST /v1/statement``, then ``nextUri``).

Enough for tests: a statement's columns and rows, a query failure as :class:`TrinoQueryError`
with Trino's message, and positional parameters bound the way Athena binds its
``ExecutionParameters``: ``PREPARE`` the fixed text, then ``EXECUTE ... USING`` the values as SQL
literals. Only the standard library is used.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qos_lake_trino.launcher import CATALOG

USER = "qos"
SCHEMA = "default"
QUERY_TIMEOUT = 300.0


class TrinoQueryError(RuntimeError):
    """Trino failed the statement (a syntax or semantic error, or a failure while running)."""

    def __init__(self, message: str, error_name: str, error_type: str) -> None:
        super().__init__(f"{error_name} ({error_type}): {message}")
        self.message = message
        self.error_name = error_name
        self.error_type = error_type


@dataclass(frozen=True)
class TrinoResult:
    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def literal(value: str | None) -> str:
    """A value as a Trino SQL literal, as Athena's ``ExecutionParameters`` are written."""
    if value is None:
        return "NULL"
    return "'" + value.replace("'", "''") + "'"


class TrinoClient:
    """Statements against one coordinator, in catalog ``hive``, schema ``default``, time zone
    UTC (Athena's session time zone)."""

    def __init__(self, url: str, *, catalog: str = CATALOG, schema: str = SCHEMA) -> None:
        self.url = url.rstrip("/")
        self.headers = {
            "X-Trino-User": USER,
            "X-Trino-Catalog": catalog,
            "X-Trino-Schema": schema,
            "X-Trino-Time-Zone": "UTC",
            "X-Trino-Source": "qos-lake-tests",
        }

    def execute(
        self,
        sql: str,
        *,
        prepared: dict[str, str] | None = None,
        timeout: float = QUERY_TIMEOUT,
    ) -> TrinoResult:
        """Run one statement to its end; ``prepared`` maps statement names to their text."""
        headers = dict(self.headers)
        if prepared:
            headers["X-Trino-Prepared-Statement"] = ",".join(
                f"{urllib.parse.quote(name)}={urllib.parse.quote(text)}"
                for name, text in prepared.items()
            )
        deadline = time.monotonic() + timeout
        page = self._request(f"{self.url}/v1/statement", sql.encode("utf-8"), headers, timeout)
        columns: list[dict[str, Any]] | None = None
        rows: list[tuple[Any, ...]] = []
        while True:
            error = page.get("error")
            if error is not None:
                raise TrinoQueryError(
                    str(error.get("message")),
                    str(error.get("errorName")),
                    str(error.get("errorType")),
                )
            if columns is None and page.get("columns") is not None:
                columns = page["columns"]
            rows += [tuple(row) for row in page.get("data") or []]
            next_uri = page.get("nextUri")
            if next_uri is None:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"Trino did not finish within {timeout:.0f} s: {sql[:200]}")
            page = self._request(str(next_uri), None, headers, timeout)
        described = columns or []
        return TrinoResult(
            columns=tuple(str(c["name"]) for c in described),
            types=tuple(str(c["type"]) for c in described),
            rows=rows,
        )

    def execute_with_parameters(
        self, sql: str, values: Sequence[str | None], *, timeout: float = QUERY_TIMEOUT
    ) -> TrinoResult:
        """``sql`` with its positional ``?`` bound to ``values``: what Athena does with
        ``StartQueryExecution(QueryString=sql, ExecutionParameters=[...])``.

        The text is prepared as it is (a statement name and its text travel in a header, as
        Trino's clients send them), then executed with the values as literals."""
        using = ", ".join(literal(v) for v in values)
        statement = "EXECUTE q" + (f" USING {using}" if values else "")
        return self.execute(statement, prepared={"q": sql}, timeout=timeout)

    @staticmethod
    def _request(
        url: str, body: bytes | None, headers: dict[str, str], timeout: float
    ) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the coordinator on loopback
            url, data=body, headers=headers, method="POST" if body is not None else "GET"
        )
        for attempt in range(20):
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                    page: dict[str, Any] = json.loads(response.read().decode("utf-8"))
                    return page
            except urllib.error.HTTPError as error:
                if error.code != 503 or attempt == 19:  # 503: busy, the protocol says retry
                    raise
            time.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")
