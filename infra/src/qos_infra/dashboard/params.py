"""Query-parameter parsing for the dashboard's APIs: every bad input becomes one clear sentence.

`BadRequest` carries the sentence the API returns as `{"error": ...}` with status 400. Nothing
here raises anything else on any input: the handlers rely on that to never answer a bad request
with a 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl

MAX_VALUE_CHARS = 200
MAX_LAKE_DAYS = 366
MAX_RANGE_MS = 366 * 86_400_000
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_OFFSET = 100_000_000
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INTEGER = re.compile(r"^-?\d{1,20}$")


class BadRequest(ValueError):
    """An input the API refuses (status 400); the message is the reply's one sentence."""


class NotFound(LookupError):
    """A route or an object that is not there (status 404)."""


def query_params(query: str, allowed: Iterable[str]) -> dict[str, str]:
    """The query string as name -> value; blank values count as not given.

    Unknown names, repeated names and over-long values are refused, so a typo (`chanel=`) is
    reported instead of silently ignored.
    """
    allowed = tuple(allowed)
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the query string is not valid percent-encoded UTF-8") from None
    found: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name not in allowed:
            takes = ", ".join(allowed) if allowed else "no parameters"
            raise BadRequest(f"unknown parameter {_short(name)!r}; this endpoint takes: {takes}")
        if name in seen:
            raise BadRequest(f"parameter {name!r} is given more than once")
        seen.add(name)
        if len(value) > MAX_VALUE_CHARS:
            raise BadRequest(f"parameter {name!r} is longer than {MAX_VALUE_CHARS} characters")
        if any(ord(c) < 32 for c in value):
            raise BadRequest(f"parameter {name!r} holds control characters")
        value = value.strip()
        if value:
            found[name] = value
    return found


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as an ISO 8601 UTC date-time (for messages and replies)."""
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def instant(name: str, text: str) -> int:
    """A point in time: epoch milliseconds, or an ISO 8601 date-time (UTC when it has no zone)."""
    if _INTEGER.match(text):
        value = int(text)
        if not 0 <= value <= MAX_EPOCH_MS:
            raise BadRequest(
                f"{name}={text} is out of range: epoch milliseconds from 0 to year 9999"
            )
        return value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"{name}={_short(text)!r} is not a time: give epoch milliseconds or an ISO 8601 "
            "date-time such as 2026-11-01T22:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        ms = int(parsed.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        raise BadRequest(f"{name}={_short(text)!r} is out of range") from None
    if not 0 <= ms <= MAX_EPOCH_MS:
        raise BadRequest(f"{name}={_short(text)!r} is before 1970 or after year 9999")
    return ms


def time_range(
    params: dict[str, str], *, now_ms: int, default_span_ms: int = 3_600_000
) -> tuple[int, int]:
    """`from`/`to` as epoch ms, `from` inclusive and `to` exclusive; by default the last
    `default_span_ms` up to now (or up to `to`, or from `from`)."""
    start = instant("from", params["from"]) if "from" in params else None
    end = instant("to", params["to"]) if "to" in params else None
    if start is None and end is None:
        end = now_ms
    if start is None:
        assert end is not None
        start = max(0, end - default_span_ms)
    if end is None:
        end = min(MAX_EPOCH_MS, start + default_span_ms)
    if start > end:
        raise BadRequest(
            f"the time range is reversed: from ({iso_ms(start)}) is after to ({iso_ms(end)})"
        )
    if start == end:
        raise BadRequest(f"the time range is empty: from and to are both {iso_ms(start)}")
    if end - start > MAX_RANGE_MS:
        raise BadRequest("the time range is longer than 366 days; choose a shorter one")
    return start, end


def day(name: str, text: str) -> date:
    if not _DAY.match(text):
        raise BadRequest(f"{name}={_short(text)!r} is not a date: give YYYY-MM-DD (UTC)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}={text} is not a calendar date") from None


def day_range(params: dict[str, str], *, today: date, default_days: int = 7) -> tuple[date, date]:
    """`from`/`to` as UTC days, both inclusive; by default the last `default_days` days."""
    end = day("to", params["to"]) if "to" in params else None
    start = day("from", params["from"]) if "from" in params else None
    if end is None:
        end = today if start is None else start + timedelta(days=default_days - 1)
    if start is None:
        start = end - timedelta(days=default_days - 1)
    if start > end:
        raise BadRequest(f"the date range is reversed: from {start} is after to {end}")
    if (end - start).days + 1 > MAX_LAKE_DAYS:
        raise BadRequest(f"the date range spans more than {MAX_LAKE_DAYS} days; choose fewer")
    return start, end


def limit(params: dict[str, str]) -> int:
    """`limit`, the most rows (events, sessions, views, lake rows) one reply holds: a whole
    number from 1 to `MAX_LIMIT`, `DEFAULT_LIMIT` when not given. Every route that returns a
    list takes it, with these same rules."""
    text = params.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"\d{1,7}", text):
        raise BadRequest(f"limit={_short(text)!r} is not a whole number from 1 to {MAX_LIMIT}")
    value = int(text)
    if not 1 <= value <= MAX_LIMIT:
        raise BadRequest(f"limit={value} is out of range: from 1 to {MAX_LIMIT}")
    return value


def offset(params: dict[str, str]) -> int:
    """`offset`, how many rows to skip (paging: a reply's `next_offset` is the next page's):
    a whole number from 0 to `MAX_OFFSET`, 0 when not given."""
    text = params.get("offset")
    if text is None:
        return 0
    if not re.fullmatch(r"\d{1,9}", text) or int(text) > MAX_OFFSET:
        raise BadRequest(f"offset={_short(text)!r} is not a whole number from 0 to {MAX_OFFSET}")
    return int(text)


def page(rows_total: int, at: int, count: int) -> dict[str, int | bool | None]:
    """A paged reply's fields: where it starts, how many rows in all, whether more follow and
    where the next page starts (None when this is the last)."""
    more = at + count < rows_total
    return {
        "offset": at,
        "total": rows_total,
        "truncated": more,
        "next_offset": at + count if more else None,
    }


def choice(name: str, text: str | None, options: Iterable[str], default: str) -> str:
    options = tuple(options)
    if text is None:
        return default
    if text not in options:
        raise BadRequest(f"{name}={_short(text)!r} is not one of: {', '.join(options)}")
    return text
