"""The contract's limits (EVENTS.md §4), in one place for the models, ingest and the docs."""

from __future__ import annotations

from dataclasses import dataclass

MAX_STRING_CHARS = 256
MAX_CHANNEL_CHARS = 128
MAX_ID_CHARS = 128
MAX_VERSION_CHARS = 64
# A page URL (no query, no fragment by default) and a referrer's host name (DNS's limit).
MAX_URL_CHARS = 1024
MAX_HOST_CHARS = 253
MAX_DURATION_MS = 24 * 60 * 60 * 1000
MAX_STARTUP_MS = 10 * 60 * 1000
MAX_EXTRA_FIELDS = 32
MAX_EXTRA_KEY_CHARS = 64
# Objects and arrays inside one event, counting the event itself as level 1. Unknown fields are
# stored flattened to text, so no real client nests deeply; a deeper event is rejected on its own.
MAX_NESTING_DEPTH = 16
# Integers a record may carry: what every engine downstream holds (signed and unsigned 64-bit).
MIN_INTEGER = -(2**63)
MAX_INTEGER = 2**64 - 1


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """Per-request limits ingest enforces before looking at single events.

    Field-level limits (string lengths, duration ranges) are part of the event contract and live in
    the models; these request-level ones are deployment settings and can be changed per environment.
    """

    max_body_bytes: int = 1024 * 1024
    max_events: int = 500
    # A client clock further ahead of the server than this is not trusted: event_time is clamped.
    max_future_skew_ms: int = 5 * 60 * 1000
    # Older events are rejected: they fit no realtime window and usually mean a broken clock.
    max_event_age_ms: int = 7 * 24 * 60 * 60 * 1000
    # A request's `sent_at` this close to the server's receive time is network latency, not a wrong
    # clock: its event times are kept as sent.
    clock_tolerance_ms: int = 2_000
    # A client clock further off than this is not corrected: the request's events are judged as
    # sent (clamped when ahead, rejected when too old), and the reply says why.
    max_clock_correction_ms: int = 24 * 60 * 60 * 1000
