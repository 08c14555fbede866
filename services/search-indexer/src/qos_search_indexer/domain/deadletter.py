"""A dead letter: a record OpenSearch refused for good, or one that could not be read, with why.

Parked rather than retried (the rejection is permanent: a mapping conflict, a malformed document)
and never dropped: the whole record is kept to re-send after a fix. Keyed by log position, so a
batch replayed after a crash parks the same record once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class DeadLetter:
    position: int
    event_id: str
    index_name: str | None  # None: the record never got as far as an index
    status: int | None  # OpenSearch's item status; None for an unreadable record
    reason: str
    document: bytes


def rejection_reason(error: Any) -> str:
    """One line from the `error` of a refused `_bulk` item: type, reason and cause."""
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            text += f" (caused by {cause.get('type', '')}: {cause.get('reason', '')})"
        return text
    return str(error)
