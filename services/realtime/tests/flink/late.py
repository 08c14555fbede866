"""Late records for the job's tests: the golden records with some moved minutes later, and the
rule that says which are late (a watermark that trails the newest event time by the lateness)."""

from __future__ import annotations

from collections import Counter

from .events import LATENESS_S, WINDOW_S, Record

WINDOW_MS = WINDOW_S * 1000
LATENESS_MS = int(LATENESS_S * 1000)


def window_of(record: Record) -> int:
    return int(record["event_time"]) - int(record["event_time"]) % WINDOW_MS


def with_late_records(records: list[Record]) -> list[Record]:
    """The golden records, except that every other record of the first two windows comes after
    all the others (whose event times run minutes past those windows' end plus the lateness),
    one of them twice in a row; and a copy of an on-time record comes last."""
    windows = sorted({window_of(r) for r in records})[:2]
    moved = [r for i, r in enumerate(records) if window_of(r) in windows and i % 2 == 0]
    moved_ids = {r["event_id"] for r in moved}
    stay = [r for r in records if r["event_id"] not in moved_ids]
    return [*stay, *moved[:3], dict(moved[2]), *moved[3:], dict(stay[-1])]


def late_by_watermark(records: list[Record]) -> tuple[Counter[int], list[Record]]:
    """(late records per window, the on-time records), the first of each event_id only, by the
    rule of a watermark that trails the newest event time by the lateness and follows every
    record: a record is late when its window's last millisecond is at or behind it."""
    seen: set[str] = set()
    newest: int | None = None
    late: Counter[int] = Counter()
    on_time: list[Record] = []
    for record in records:
        if record["event_id"] in seen:
            continue
        seen.add(record["event_id"])
        start = window_of(record)
        if newest is not None and start + WINDOW_MS - 1 <= newest - LATENESS_MS:
            late[start] += 1
        else:
            on_time.append(record)
        t = int(record["event_time"])
        newest = t if newest is None else max(newest, t)
    return late, on_time


def revision_horizon_s(late_input: list[Record]) -> int:
    """A revision horizon that the first late window is beyond and the second within: the late
    records come after every other, when the watermark is the newest event time before them
    minus the lateness; the first window ended 45 s before the watermark less the horizon."""
    late, on_time = late_by_watermark(late_input)
    first, second = sorted(late)
    assert second == first + WINDOW_MS
    watermark = max(int(r["event_time"]) for r in on_time) - LATENESS_MS
    horizon_ms = watermark - (first + WINDOW_MS) - WINDOW_MS // 2
    assert horizon_ms > 60_000, "the late records are not minutes late"
    return horizon_ms // 1000
