"""The one definition of a usable event time and of UTC hour/day buckets."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from qos_shared import eventtime


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("value", "usable"),
    [
        (0, True),
        (_ms("2026-12-07T08:00:00"), True),
        (_ms("9999-12-31T23:59:59.999"), True),
        (_ms("9999-12-31T23:59:59.999") + 1, False),
        (-1, False),
        (True, False),
        (1.5e12, False),
        ("1765094400000", False),
        (None, False),
    ],
)
def test_usable(value: object, usable: bool) -> None:
    assert eventtime.is_usable(value) is usable


def test_buckets_agree_with_the_calendar() -> None:
    t = _ms("2026-12-07T13:59:59.999")
    assert eventtime.utc_day(t) == date(2026, 12, 7)
    assert eventtime.day_start_ms(date(2026, 12, 7)) == _ms("2026-12-07T00:00:00")
    assert eventtime.day_bucket(t) == (date(2026, 12, 7) - date(1970, 1, 1)).days
    assert eventtime.hour_bucket(t) * 3600 == _ms("2026-12-07T13:00:00") // 1000
    assert eventtime.utc_day(eventtime.MAX_EVENT_MS - 1) == date(9999, 12, 31)
    assert eventtime.utc_day(-1) == date(1969, 12, 31)
