"""Messy inputs as clients send them, and what ingest should store of them.

Each scenario is viewing sessions of its own channel (so the per-channel KPIs isolate it), as
requests (`Send`) that go out at a given time by the true clock:

- `attempt-only`: sessions that send an ATTEMPT and nothing more (the viewer left before the first
  frame and the exit beacon was lost), beside a few that play;
- `fatal-no-phase`: fatal ERRORs without `phase`, before and after the first frame;
- `clock-ahead` / `clock-behind`: SDK clients whose clocks are 10 minutes fast / slow: their
  events and their body's `sent_at` are stamped by that clock;
- `hour-ahead`: old players (the legacy envelope, no `sent_at`) in normal traffic, one of whose
  events is stamped an hour ahead, and one such event from an SDK client whose clock is right;
- `replay`: a backfill of events ten minutes old, sent at once in event-time waves, with a 10 s
  pause halfway;
- `twice`: every request sent twice (a retry whose answer was lost), with event ids from the
  client or derived by ingest, through both bodies;
- `legacy-pair`: two identical legacy records (the old player's two summaries it could not tell
  apart) in one envelope.

`stored_time` is ingest's rule for the time it stores (docs/adr/0015), written here from the
decision record, not from ingest's code; `ingested` applies it, and `first_of_each` the rule for ids
(a repeated event_id is dropped; identical records of one request without id are each kept), to
give the records ingest should store: what every engine's KPIs are compared on.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from qos_shared.events import CLIENT_EVENT_ADAPTER

Record = dict[str, Any]

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
# docs/adr/0015-client-clocks-corrected-at-ingest.md and ingest's documented limits.
CLOCK_TOLERANCE_MS = 2_000
MAX_CLOCK_CORRECTION_MS = 24 * HOUR_MS
MAX_FUTURE_SKEW_MS = 5 * MINUTE_MS
V1, LEGACY = "/v1/events", "/streams"

SCENARIOS = (
    "attempt-only",
    "fatal-no-phase",
    "clock-ahead",
    "clock-behind",
    "hour-ahead",
    "replay",
    "twice",
    "legacy-pair",
)
PLATFORMS = ("web", "ios", "android", "other")
REPLAY_AGE_MS = 10 * MINUTE_MS
REPLAY_PAUSE_MS = 10_000


def channel(scenario: str) -> str:
    return f"sc-{scenario}"


@dataclass(frozen=True, slots=True)
class Send:
    """One request: its events as the client stamped them, when it goes out (true clock), and the
    client's clock error (None: the body has no `sent_at`, as the legacy envelope never does)."""

    scenario: str
    due_ms: int
    path: str
    events: tuple[Record, ...]
    clock_skew_ms: int | None = 0
    # A retry of the request before it (same events, a `sent_at` of its own).
    retry: bool = False

    def body(self, now_ms: int) -> dict[str, Any]:
        """The body as the client sends it when the true clock reads `now_ms`."""
        if self.path == LEGACY:
            return {"Records": [{"Data": dict(e)} for e in self.events]}
        body: dict[str, Any] = {"events": [dict(e) for e in self.events]}
        sent_at = self.sent_at(now_ms)
        if sent_at is not None:
            body["sent_at"] = sent_at
        return body

    def sent_at(self, now_ms: int) -> int | None:
        if self.path == LEGACY or self.clock_skew_ms is None:
            return None
        return now_ms + self.clock_skew_ms


@dataclass
class _Builder:
    sends: list[Send] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=itertools.count)

    def session(
        self,
        scenario: str,
        number: int,
        start_ms: int,
        *,
        attempt: bool = True,
        play: bool = True,
        summaries: int = 3,
        fatal: str | None = None,  # None, "startup" or "playback": a fatal ERROR without phase
        stop: bool = True,
        every_ms: int = 2_000,
    ) -> list[tuple[int, Record]]:
        """One viewing session's events at their true times (no event_time, no id yet)."""
        common = {
            "session_id": f"{scenario}-{number}",
            "user_id": f"u-{scenario}-{number}",
            "client_platform": PLATFORMS[number % len(PLATFORMS)],
            "is_live": number % 2 == 0,
            "channel_watched": channel(scenario),
        }
        out: list[tuple[int, Record]] = []
        t = start_ms
        if attempt:
            out.append((t, {**common, "metric_type": "ATTEMPT"}))
        if fatal == "startup":
            error = {"metric_type": "ERROR", "error_code": "MEDIA_ERR_SRC", "fatal": True}
            out.append((t + 700 + 100 * number, {**common, **error}))
            return out
        if not play:
            return out
        startup = 400 + 173 * number
        t += startup
        out.append((t, {**common, "metric_type": "PLAY", "startup_latency_ms": startup}))
        for i in range(summaries):
            t += every_ms
            summary: Record = {
                "metric_type": "PLAYBACK_SUMMARY",
                "playing_time_ms": every_ms - 150 * (i % 3),
                "buffering_time_ms": 150 * (i % 3),
                "buffering_count": i % 3,
                "rendition_name": ("720p", "1080p", "480p")[(number + i) % 3],
                "bitrate_bps": (3_000_000, 6_000_000, 1_200_000)[(number + i) % 3],
            }
            if common["is_live"]:
                summary["live_latency_ms"] = 2_000 + 37 * number + 11 * i
            out.append((t, {**common, **summary}))
        if fatal == "playback":
            error = {"metric_type": "ERROR", "error_code": "3016", "fatal": True}
            out.append((t + 300, {**common, **error}))
            return out
        if stop:
            out.append((t + 500, {**common, "metric_type": "STOP"}))
        return out

    def add(
        self,
        scenario: str,
        events: list[tuple[int, Record]],
        *,
        path: str = V1,
        skew_ms: int | None = 0,
        ids: bool = True,
        send_delay_ms: int = 0,
        retry: bool = False,
    ) -> None:
        """The events as sends: each second's events of a session in one request, sent at the end
        of that second (so never before an event happened), stamped by a clock `skew_ms` off."""
        by_second: dict[int, list[Record]] = {}
        for true_ms, event in events:
            stamped = {**event, "event_time": true_ms + (skew_ms or 0)}
            if ids:
                stamped["event_id"] = f"e-{scenario}-{next(self.ids)}"
            by_second.setdefault(true_ms // 1000, []).append(stamped)
        for second, stamped_events in by_second.items():
            due = (second + 1) * 1000 + send_delay_ms
            send = Send(scenario, due, path, tuple(stamped_events), skew_ms)
            self.sends.append(send)
            if retry:
                self.sends.append(Send(scenario, due, path, send.events, skew_ms, retry=True))


def live_sends(start_ms: int) -> list[Send]:
    """Every scenario but the replay, in real time from `start_ms` (true clock), over about 20 s."""
    b = _Builder()
    s = start_ms
    # Sessions that send only ATTEMPT, beside two that play.
    for n in range(6):
        b.add("attempt-only", b.session("attempt-only", n, s + 900 * n, play=False))
    for n in (6, 7):
        b.add("attempt-only", b.session("attempt-only", n, s + 1_300 * n))
    # Fatal errors without phase: before the first frame (start failures) and after it.
    for n in range(4):
        b.add("fatal-no-phase", b.session("fatal-no-phase", n, s + 1_100 * n, fatal="startup"))
    for n in range(4, 7):
        fatal = b.session("fatal-no-phase", n, s + 800 * n, fatal="playback", summaries=2)
        b.add("fatal-no-phase", fatal)
    b.add("fatal-no-phase", b.session("fatal-no-phase", 7, s + 2_000))
    # SDK clients 10 minutes fast and 10 minutes slow (their sent_at too).
    for scenario, skew in (("clock-ahead", 10 * MINUTE_MS), ("clock-behind", -10 * MINUTE_MS)):
        for n in range(5):
            b.add(scenario, b.session(scenario, n, s + 1_500 * n, summaries=4), skew_ms=skew)
        b.add(scenario, b.session(scenario, 5, s + 1_000, play=False), skew_ms=skew)
    # Old players in normal traffic (the legacy envelope: no ATTEMPT, no sent_at, no ids).
    hour = "hour-ahead"
    for n in range(6):
        b.add(
            hour,
            b.session(hour, n, s + 1_200 * n, attempt=False, summaries=4),
            path=LEGACY,
            skew_ms=None,
            ids=False,
        )
    # And an SDK client whose clock is right (its body has sent_at).
    b.add(hour, b.session(hour, 6, s + 3_000, summaries=4))
    # Sessions 3's and 6's first summary, in its request, stamped an hour ahead.
    for session in (f"{hour}-3", f"{hour}-6"):

        def ahead(e: Record, session: str = session) -> bool:
            return bool(e["session_id"] == session and e["metric_type"] == "PLAYBACK_SUMMARY")

        i, send = next((i, x) for i, x in enumerate(b.sends) if any(ahead(e) for e in x.events))
        stamped = tuple(
            {**e, "event_time": e["event_time"] + HOUR_MS} if ahead(e) else e for e in send.events
        )
        b.sends[i] = replace(send, events=stamped)
    # Every request twice: SDK bodies with ids, SDK bodies without ids, legacy envelopes.
    for n in range(6):
        events = b.session("twice", n, s + 1_400 * n, attempt=n % 3 != 2)
        if n % 3 == 0:
            b.add("twice", events, retry=True)
        elif n % 3 == 1:
            b.add("twice", events, ids=False, retry=True)
        else:
            b.add("twice", events, path=LEGACY, skew_ms=None, ids=False, retry=True)
    # Two identical legacy records in one envelope: the old player's twin summaries.
    pair = "legacy-pair"
    for n in range(4):
        events = b.session(pair, n, s + 1_600 * n, attempt=False, summaries=3)
        i = next(i for i, (_, e) in enumerate(events) if e["metric_type"] == "PLAYBACK_SUMMARY")
        events.insert(i + 1, events[i])
        b.add(pair, events, path=LEGACY, skew_ms=None, ids=False)
    return sorted(b.sends, key=lambda x: x.due_ms)  # stable: a session's order is kept


def replay_sends(send_start_ms: int, *, wave_ms: int = 250) -> list[Send]:
    """A backfill of about 30 s of events from `REPLAY_AGE_MS` before `send_start_ms`, sent at once
    in event-time waves of one second (one every `wave_ms`), and a `REPLAY_PAUSE_MS` pause
    halfway; from an SDK whose clock is right (its events keep their times)."""
    b = _Builder()
    first = send_start_ms - REPLAY_AGE_MS
    for n in range(8):
        b.add("replay", b.session("replay", n, first + 2_700 * n, summaries=4))
    waves: dict[int, list[Send]] = {}
    for send in b.sends:
        waves.setdefault(send.due_ms, []).append(send)
    out: list[Send] = []
    seconds = sorted(waves)
    for i, second in enumerate(seconds):
        due = send_start_ms + i * wave_ms + (REPLAY_PAUSE_MS if i >= len(seconds) // 2 else 0)
        out += [Send(x.scenario, due, x.path, x.events, x.clock_skew_ms) for x in waves[second]]
    return out


# -- what ingest should store -----------------------------------------------------------------


def stored_time(event_time: int, sent_at: int | None, received_at: int) -> tuple[int, str]:
    """(stored event_time, event_time_source) of a client-stamped event, by ADR 0015: a request's
    clock offset (received - sent_at) under the tolerance is latency, up to a day it shifts every
    event, beyond nothing; then a time later than the receive time (by the tolerance with
    `sent_at`, by the older five minutes without) becomes the receive time."""
    shift = 0
    latest = received_at + MAX_FUTURE_SKEW_MS
    if sent_at is not None:
        offset = received_at - sent_at
        if CLOCK_TOLERANCE_MS <= abs(offset) <= MAX_CLOCK_CORRECTION_MS:
            shift = offset
        latest = received_at + CLOCK_TOLERANCE_MS
    stored = event_time + shift
    if stored > latest:
        return received_at, "clamped"
    return stored, "corrected" if shift else "client"


def event_identity(event: Record, repeat: int) -> str:
    """What identifies an event downstream: its id, or (without one) its content as sent and its
    rank among identical events of its request, from which ingest derives an id."""
    if event.get("event_id") is not None:
        return str(event["event_id"])
    canonical = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    return f"derived-{hashlib.blake2b(canonical, digest_size=12).hexdigest()}-{repeat}"


def sent_events(sends: list[Send]) -> list[tuple[int, str, Record]]:
    """Every event of every request as sent, with its request's index and the id it has
    downstream (a retried request's events again, with the same ids)."""
    out: list[tuple[int, str, Record]] = []
    for index, send in enumerate(sends):
        repeats: Counter[str] = Counter()
        for event in send.events:
            content = orjson.dumps(event, option=orjson.OPT_SORT_KEYS).decode()
            out.append((index, event_identity(event, repeats[content]), event))
            repeats[content] += 1
    return out


def ingested(
    sends: list[Send],
    sent_at: list[int | None],
    received_at: list[int],
    *,
    pseudonym_key: bytes | None = None,
) -> list[Record]:
    """Every record ingest emits for `sends`, request by request (a retried request's records
    again, with the same ids), given each request's `sent_at` (None without) and receive time:
    the client's fields (with the contract's defaults), the stored time and its source, the
    request's format. The ids of events sent without one stand for ingest's derived ids (same
    event as sent, same id). With `pseudonym_key`, user ids as ingest pseudonymises them (the
    first 32 hex digits of their HMAC-SHA256 under the key)."""
    out: list[Record] = []
    for index, event_id, event in sent_events(sends):
        time, source = stored_time(event["event_time"], sent_at[index], received_at[index])
        # The event as the contract reads it (its defaults filled in), then ingest's fields.
        as_read = CLIENT_EVENT_ADAPTER.validate_python(event).model_dump(exclude_none=True)
        if pseudonym_key is not None and "user_id" in as_read:
            digest = hmac.new(pseudonym_key, as_read["user_id"].encode(), hashlib.sha256)
            as_read |= {"user_id": digest.hexdigest()[:32], "user_id_pseudonymised": True}
        out.append(
            {
                **as_read,
                "event_id": event_id,
                "event_time": time,
                "event_time_source": source,
                "received_at": received_at[index],
                "source_format": "legacy" if sends[index].path == LEGACY else "v1",
            }
        )
    return out


def first_of_each(records: list[Record]) -> list[Record]:
    """The records a store keeps: the first of each event_id."""
    seen: set[str] = set()
    out: list[Record] = []
    for r in records:
        if r["event_id"] not in seen:
            seen.add(r["event_id"])
            out.append(r)
    return out
