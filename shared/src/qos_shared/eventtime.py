"""What an event time is to every consumer: when it is usable, and its UTC hour and day buckets.

An `event_time` is epoch milliseconds (UTC) as the player stamped it. A consumer can place a record
in time only when that value is *usable*: an integer (not a bool) in `[0, MAX_EVENT_MS)`. Beyond
year 9999 there is no `dt=YYYY-MM-DD` partition to write and no daily index name to give, and a
negative time is before any stream existed. The lake partitions, the search indexer's daily indices
and the realtime windows all go by this one definition; what each does with an unusable time (the
log's time instead, a dead letter, a late row) is theirs to say.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MAX_EVENT_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z: the first instant with no dt= to write

_EPOCH = date(1970, 1, 1)


def is_usable(event_time: Any) -> bool:
    """Whether `event_time` is an integer in `[0, MAX_EVENT_MS)` (a bool is not an integer here)."""
    return (
        isinstance(event_time, int)
        and not isinstance(event_time, bool)
        and 0 <= event_time < MAX_EVENT_MS
    )


def hour_bucket(epoch_ms: int) -> int:
    """Whole UTC hours since the epoch of a time in milliseconds."""
    return epoch_ms // HOUR_MS


def day_bucket(epoch_ms: int) -> int:
    """Whole UTC days since the epoch of a time in milliseconds."""
    return epoch_ms // DAY_MS


def day_start_ms(day: date) -> int:
    """Epoch milliseconds of a calendar day's first instant (UTC)."""
    return (day - _EPOCH).days * DAY_MS


def utc_day(epoch_ms: int) -> date:
    """The UTC calendar day a time in milliseconds falls on."""
    return _EPOCH + timedelta(days=epoch_ms // DAY_MS)
