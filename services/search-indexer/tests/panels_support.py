"""Records with known truth for the dashboard panel tests, and the plain-Python truth of the
panels the catalogue's oracle does not cover.

`generate()` makes the stored records (flat event + enrichment fields, as ingest writes them)
of viewing sessions over about 20 minutes of one UTC day: four platforms, three channels,
countries with coordinates (and viewers without), live and on-demand, stalls, renditions that
change, recoverable and fatal errors in the startup and playback phases, exits before start,
paused reports (no playing time) and old players that send a legacy PLAY and no ATTEMPT.
Every record is validated against the event models, so the data is what ingest would store.

`with_views(records)` adds the view records the realtime engine would build from them (the
hand-written oracle, `views_oracle.views`), and `messy(records)` loses what clients lose
(last beacons, an error's phase) and splits sessions by a pause, for the views' tests.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from qos_shared.events import StoredEvent
from qos_shared.testing.ivs import channel_streams, stored_record
from qos_shared.testing.oracle import Record, percentile
from qos_shared.testing.sessions import as_clients_lose_them
from qos_shared.testing.views_oracle import views

# 2027-01-15T10:00:00Z: a day no other test writes.
T0 = int(datetime(2027, 1, 15, 10, tzinfo=UTC).timestamp() * 1000)
MINUTE_MS = 60_000
PLATFORMS = ("web", "ios", "android", "other")
CHANNELS = ("ch-news", "ch-sport", "ch-kids")
# (ISO code, name, latitude, longitude); None: no CloudFront geography (e.g. local ingest).
PLACES: tuple[tuple[str, str, float, float] | None, ...] = (
    ("FR", "France", 48.8566, 2.3522),
    ("US", "United States", 40.7128, -74.006),
    ("DE", "Germany", 52.52, 13.405),
    ("JP", "Japan", 35.6762, 139.6503),
    ("BR", "Brazil", -23.5505, -46.6333),
    None,
)
RENDITIONS = (("1080p", 1080, 6_000_000), ("720p", 720, 3_000_000), ("480p", 480, 1_200_000))


def generate(seed: int = 5, sessions: int = 70) -> list[Record]:
    """Stored records of `sessions` sessions starting over 12 minutes, in event-time order."""
    rng = random.Random(seed)
    records: list[Record] = []
    for n in range(sessions):
        legacy = n % 7 == 3  # old players: legacy envelope, no ATTEMPT, no STOP
        place = PLACES[n % len(PLACES)]
        base: Record = {
            "session_id": f"sess-{n:03d}",
            "user_id": f"user-{n % 23}",
            "client_platform": "web" if legacy else PLATFORMS[n % len(PLATFORMS)],
            "channel_watched": CHANNELS[rng.randrange(len(CHANNELS))],
            "is_live": rng.random() < 0.7,
            "schema_version": "1",
            "source_format": "legacy" if legacy else "v1",
            "event_time_source": "server" if legacy else "client",
        }
        if not legacy:
            base["sdk_version"] = "2.1.0"
            base["player_version"] = "1.30.0"
        if place is not None:
            code, name, lat, lon = place
            base |= {
                "viewer_country": code,
                "viewer_country_name": name,
                "viewer_latitude": lat,
                "viewer_longitude": lon,
                "device_class": "mobile"
                if base["client_platform"] in ("ios", "android")
                else "desktop",
            }
        t = T0 + rng.randrange(12 * MINUTE_MS)

        def emit(metric_type: str, at: int, base: Record = base, **fields: Any) -> None:
            record: Record = {
                **base,
                "metric_type": metric_type,
                "event_time": at,
                "received_at": at + 40 + len(records) % 300,
                "event_id": f"{base['session_id']}-{len(records):05d}",
                **fields,
            }
            StoredEvent.from_record(record)  # valid per the contract, or the test data is wrong
            records.append(record)

        if not legacy:
            emit("ATTEMPT", t, visibility_state="visible", autoplay=n % 2 == 0)
            outcome = rng.random()
            if outcome < 0.1:
                emit(
                    "ERROR", t + 1_500, error_code="4001", error_type="NETWORK",
                    fatal=True, phase="startup", error_message="manifest request failed",
                )  # fmt: skip
                emit("STOP", t + 1_600, exit_before_start=False)
                continue
            if outcome < 0.18:
                emit("STOP", t + 2_500, exit_before_start=True)
                continue
            if outcome < 0.24:  # a recoverable startup error, then it plays
                emit("ERROR", t + 400, error_code="2", fatal=False, phase="startup")
        startup = rng.randrange(250, 7_000)
        t += startup
        emit("PLAY", t, startup_latency_ms=startup, start_playback_position_sec=0.0)
        rendition, height, bitrate = RENDITIONS[rng.randrange(len(RENDITIONS))]
        fatal_in_playback = not legacy and rng.random() < 0.15
        reports = rng.choice([1, 2, 3, 4, 6])
        for k in range(reports):
            t += rng.randrange(50_000, 70_000)
            paused = rng.random() < 0.1
            buffering = 0 if rng.random() < 0.5 else rng.randrange(100, 5_000)
            playing = 0 if paused else 60_000 - buffering
            summary: Record = {
                "playing_time_ms": playing,
                "buffering_time_ms": buffering,
                "buffering_count": 0 if buffering == 0 else rng.randrange(1, 4),
                "error_count": rng.choice([0, 0, 0, 1, 2]),
                "is_final": k == reports - 1,
            }
            if not (legacy and rng.random() < 0.5):  # some old players name no rendition
                summary |= {"rendition_name": rendition, "rendition_height": height}
            if base["is_live"]:
                summary["live_latency_ms"] = rng.randrange(1_500, 9_000)
            if not legacy:
                summary["bitrate_bps"] = bitrate
                summary["dropped_frames"] = rng.randrange(0, 30)
            emit("PLAYBACK_SUMMARY", t, **summary)
            if not legacy and rng.random() < 0.35:
                new = RENDITIONS[rng.randrange(len(RENDITIONS))]
                if new[0] != rendition:
                    emit(
                        "QUALITY_CHANGED",
                        t + 500,
                        from_rendition_name=rendition,
                        to_rendition_name=new[0],
                        from_bitrate=bitrate,
                        to_bitrate=new[2],
                        step_direction="UP" if new[2] > bitrate else "DOWN",
                    )
                    rendition, height, bitrate = new
            if not legacy and rng.random() < 0.1:
                emit("ERROR", t + 700, error_code="3", fatal=False, phase="playback")
        if fatal_in_playback:
            emit("ERROR", t + 900, error_code="3016", error_type="MEDIA", fatal=True,
                 phase="playback")  # fmt: skip
        if not legacy:
            emit("STOP", t + 1_000, end_playback_position_sec=120.5, exit_before_start=False)
    # The live channels' IVS stream events, as ingest stores them (received in time); half the
    # streams fail, so that every stream KPI has a value.
    live = [r for r in records if r["is_live"]]
    received = max(r["event_time"] for r in records)
    events = channel_streams(seed, live, failure_share=0.5)
    records += [stored_record(e, received) for e in events]
    records.sort(key=lambda r: (r["event_time"], r["event_id"]))
    return records


def with_views(records: list[Record]) -> list[Record]:
    """The records and the view records the realtime engine would append to the views log."""
    return records + views(records)


def messy(records: list[Record], seed: int = 11) -> list[Record]:
    """The records as clients lose them (`as_clients_lose_them`)."""
    return as_clients_lose_them(records, random.Random(seed))


def time_range(records: list[Record]) -> tuple[int, int]:
    """A range holding every record, aligned to whole minutes."""
    start = min(r["event_time"] for r in records) // MINUTE_MS * MINUTE_MS
    end = (max(r["event_time"] for r in records) // MINUTE_MS + 1) * MINUTE_MS - 1
    return start, end


def by_minute(records: Iterable[Record]) -> dict[int, list[Record]]:
    """Records grouped by the start of their UTC minute (OpenSearch's 1m buckets)."""
    groups: dict[int, list[Record]] = defaultdict(list)
    for r in records:
        groups[r["event_time"] // MINUTE_MS * MINUTE_MS].append(r)
    return dict(groups)


def summaries(rs: Iterable[Record]) -> list[Record]:
    return [r for r in rs if r["metric_type"] == "PLAYBACK_SUMMARY"]


# ---------------------------------------------------------------------------------------------
# Geohash (the public algorithm: interleaved longitude/latitude bits, base 32)

_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"


def geohash(lat: float, lon: float, precision: int) -> str:
    lat_lo, lat_hi, lon_lo, lon_hi = -90.0, 90.0, -180.0, 180.0
    bits, even, code = 0, True, 0
    out: list[str] = []
    while len(out) < precision:
        if even:
            mid = (lon_lo + lon_hi) / 2
            code = code * 2 + (lon >= mid)
            lon_lo, lon_hi = (mid, lon_hi) if lon >= mid else (lon_lo, mid)
        else:
            mid = (lat_lo + lat_hi) / 2
            code = code * 2 + (lat >= mid)
            lat_lo, lat_hi = (mid, lat_hi) if lat >= mid else (lat_lo, mid)
        even = not even
        bits += 1
        if bits == 5:
            out.append(_BASE32[code])
            bits, code = 0, 0
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Truth of the panels that are not catalogue KPIs, in plain Python (keys as the panel's buckets)

Truth = dict[tuple[Any, ...], tuple[float | None, ...]]


def _per_minute(rs: list[Record], value: Callable[[list[Record]], float | None]) -> Truth:
    return {(minute,): (value(group),) for minute, group in by_minute(rs).items()}


def _median(field: str, scale: float = 1.0) -> Callable[[list[Record]], Truth]:
    def truth(rs: list[Record]) -> Truth:
        def value(group: list[Record]) -> float | None:
            p = percentile([r[field] for r in summaries(group)], 0.5)
            return None if p is None else p * scale

        return _per_minute(rs, value)

    return truth


def _viewers_by_platform(rs: list[Record]) -> Truth:
    sessions: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for r in summaries(rs):
        sessions[(r["event_time"] // MINUTE_MS * MINUTE_MS, r["client_platform"])].add(
            r["session_id"]
        )
    return {key: (float(len(s)),) for key, s in sessions.items()}


def _start_stop(rs: list[Record]) -> Truth:
    counts: dict[tuple[Any, ...], int] = defaultdict(int)
    for r in rs:
        if r["metric_type"] in ("PLAY", "STOP"):
            counts[(r["event_time"] // MINUTE_MS * MINUTE_MS, r["metric_type"])] += 1
    return {key: (float(n),) for key, n in counts.items()}


def _watch_time_and_sessions(rs: list[Record]) -> Truth:
    s = summaries(rs)
    return {
        (): (
            sum(r["playing_time_ms"] for r in s) / 60_000,
            float(len({r["session_id"] for r in s})),
        )
    }


def _playing_time_map(precision: int) -> Callable[[list[Record]], Truth]:
    def truth(rs: list[Record]) -> Truth:
        cells: dict[tuple[Any, ...], float] = defaultdict(float)
        for r in summaries(rs):
            if r.get("viewer_latitude") is not None and r.get("viewer_longitude") is not None:
                cell = geohash(r["viewer_latitude"], r["viewer_longitude"], precision)
                cells[(cell,)] += r["playing_time_ms"] / 60_000
        return {key: (v,) for key, v in cells.items()}

    return truth


def _streams_started_stopped(rs: list[Record]) -> Truth:
    counts: dict[tuple[Any, ...], int] = defaultdict(int)
    for r in rs:
        if r["metric_type"] == "STREAM_STATE" and r["event_name"] in ("Stream Start", "Stream End"):
            counts[(r["event_time"] // MINUTE_MS * MINUTE_MS, r["event_name"])] += 1
    return {key: (float(n),) for key, n in counts.items()}


def view_records(rs: Iterable[Record]) -> list[Record]:
    return [r for r in rs if r["metric_type"] == "VIEW"]


def _views_by_outcome(rs: list[Record]) -> Truth:
    counts: dict[tuple[Any, ...], int] = defaultdict(int)
    for r in view_records(rs):
        counts[(r["event_time"] // MINUTE_MS * MINUTE_MS, r["outcome"])] += 1
    return {key: (float(n),) for key, n in counts.items()}


def _score_by_channel(rs: list[Record]) -> Truth:
    scores: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for r in view_records(rs):
        if r.get("score") is not None:
            key = (r["event_time"] // MINUTE_MS * MINUTE_MS, r["channel_watched"])
            scores[key].append(r["score"])
    return {key: (sum(v) / len(v),) for key, v in scores.items()}


#: Panel id -> its truth over the records of the time range (and of the dashboard's filter).
ORIGINAL_TRUTH: dict[str, Callable[[list[Record]], Truth]] = {
    "qos-concurrent-viewers-by-platform": _viewers_by_platform,
    "qos-viewers-start-stop": _start_stop,
    "qos-watch-time-and-sessions": _watch_time_and_sessions,
    "qos-playing-time-map": _playing_time_map(3),
    "qos-median-buffer-count": _median("buffering_count"),
    "qos-median-buffer-time": _median("buffering_time_ms", 1 / 1000),
    "qos-median-playback-errors": _median("error_count"),
    "qos-views-by-outcome": _views_by_outcome,
    "qos-channels-started-stopped": _streams_started_stopped,
    "qos-experience-score-by-channel": _score_by_channel,
}

#: The values a percentile panel ranks (to bound t-digest's estimate by neighbouring ranks).
PERCENTILE_VALUES: dict[str, Callable[[list[Record]], list[float]]] = {
    "startup_time": lambda rs: [r["startup_latency_ms"] for r in rs if r["metric_type"] == "PLAY"],
    "live_latency": lambda rs: [
        r["live_latency_ms"]
        for r in summaries(rs)
        if r["is_live"] and r.get("live_latency_ms") is not None
    ],
    "qos-median-buffer-count": lambda rs: [r["buffering_count"] for r in summaries(rs)],
    "qos-median-buffer-time": lambda rs: [r["buffering_time_ms"] for r in summaries(rs)],
    "qos-median-playback-errors": lambda rs: [r["error_count"] for r in summaries(rs)],
}


def rank_bounds(values: list[float], q: float) -> tuple[float, float]:
    """The values one rank either side of the two closest ranks that linear interpolation uses:
    where OpenSearch's t-digest estimate of the q-quantile must fall (see the README)."""
    ordered = sorted(values)
    h = (len(ordered) - 1) * q
    lo, hi = max(math.floor(h) - 1, 0), min(math.ceil(h) + 1, len(ordered) - 1)
    return ordered[lo], ordered[hi]
