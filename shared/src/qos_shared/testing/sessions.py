"""Seeded viewing sessions as stored records: the one generator of the tests, the sample and the
benchmarks.

A `SessionSpec` says what the traffic looks like (how many sessions, when they arrive, the mix of
platforms, channels and countries, the share of sessions that fail to start, exit before start or
fail in playback, buffering, errors, rendition switches, arrival disorder); `Sessions` makes it,
deterministic for a seed. Each session is ATTEMPT (none from legacy players, whose PLAY is the
attempt), then either a fatal startup ERROR, an exit before start, or a PLAY, a PLAYBACK_SUMMARY
every `summary_every_ms` and a final one, QUALITY_CHANGED and recoverable ERRORs at random,
perhaps a fatal playback ERROR; and a STOP. Records are flat: the client event and ingest's
enrichment fields, as the event log stores them.

Two outputs of the same records: `records()`, dicts (for tests), and `chunks()`, the records' JSON
bytes in consecutive time-ordered slices, for benchmarks at volume (10 M records): the sessions
are drawn as columns, every record is first an int in a time-sorted index, and each session's
common fields are serialised once, so only a chunk of records exists at a time.

The generator only makes data: what a test expects is computed from the records it returns (the
oracle in `qos_shared.testing.oracle`), never from these parameters.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from qos_shared.eventtime import DAY_MS, HOUR_MS, day_start_ms

__all__ = [
    "CHANNELS",
    "COUNTRIES",
    "DEVICES",
    "LADDER",
    "LADDER_WEIGHTS",
    "PLACES",
    "PLATFORMS",
    "LogNormal",
    "Outcomes",
    "Playback",
    "Record",
    "SessionSpec",
    "Sessions",
    "Weighted",
    "every_outcome",
    "generate",
    "playback_summary",
    "traffic_day",
    "weighted",
]

Record = dict[str, Any]
Weighted = tuple[tuple[str, float], ...]

# Event kinds, in the order a session's records take on equal times (the index sorts on it).
ATTEMPT, PLAY, QUALITY, SUMMARY, ERROR, STOP = range(6)

PLATFORMS: Weighted = (("web", 0.45), ("ios", 0.25), ("android", 0.25), ("other", 0.05))
CHANNELS: Weighted = (
    ("ch-news", 0.25), ("ch-sport", 0.22), ("ch-movies", 0.15), ("ch-kids", 0.1),
    ("ch-music", 0.08), ("ch-docs", 0.08), ("ch-series", 0.07), ("ch-local", 0.05),
)  # fmt: skip
# code -> (country name, region, city, latitude, longitude), as ingest's geolocation fills them.
PLACES: dict[str, tuple[str, str, str, float, float]] = {
    "FR": ("France", "Ile-de-France", "Paris", 48.86, 2.35),
    "DE": ("Germany", "Berlin", "Berlin", 52.52, 13.40),
    "GB": ("United Kingdom", "England", "London", 51.51, -0.13),
    "ES": ("Spain", "Madrid", "Madrid", 40.42, -3.70),
    "IT": ("Italy", "Lazio", "Rome", 41.90, 12.50),
    "US": ("United States", "New York", "New York", 40.71, -74.01),
    "BE": ("Belgium", "Brussels", "Brussels", 50.85, 4.35),
    "CH": ("Switzerland", "Zurich", "Zurich", 47.37, 8.54),
    "NL": ("Netherlands", "North Holland", "Amsterdam", 52.37, 4.90),
    "CA": ("Canada", "Quebec", "Montreal", 45.50, -73.57),
    "PT": ("Portugal", "Lisbon", "Lisbon", 38.72, -9.14),
    "MA": ("Morocco", "Casablanca-Settat", "Casablanca", 33.57, -7.59),
}
COUNTRIES: tuple[tuple[str | None, float], ...] = (
    ("FR", 0.35), ("DE", 0.12), ("GB", 0.1), ("ES", 0.08), ("IT", 0.07), ("US", 0.06),
    ("BE", 0.06), ("CH", 0.04), ("NL", 0.04), ("CA", 0.03), ("PT", 0.03), ("MA", 0.02),
)  # fmt: skip
# platform -> (device_class, browser_family, browser_version, os_family, os_version, device_family)
# A platform not named here gets the `other` devices.
DEVICES: dict[str, tuple[tuple[str, str, str, str, str, str], ...]] = {
    "web": (
        ("desktop", "Chrome", "131.0", "Windows", "10", "Other"),
        ("desktop", "Firefox", "133.0", "Windows", "10", "Other"),
        ("desktop", "Safari", "18.1", "Mac OS X", "10.15", "Mac"),
        ("desktop", "Edge", "131.0", "Windows", "10", "Other"),
    ),
    "ios": (
        ("mobile", "Mobile Safari", "18.1", "iOS", "18.1", "iPhone"),
        ("tablet", "Mobile Safari", "17.6", "iOS", "17.6", "iPad"),
    ),
    "android": (
        ("mobile", "Chrome Mobile", "131.0", "Android", "14", "Samsung SM-S918B"),
        ("mobile", "Chrome Mobile", "130.0", "Android", "13", "Pixel 7"),
        ("tablet", "Chrome Mobile", "131.0", "Android", "14", "Samsung SM-X710"),
    ),
    "other": (("smarttv", "Other", "", "Tizen", "7.0", "Samsung SmartTV"),),
}
# (rendition name, height, bitrate), lowest first: a switch moves one rung.
LADDER: tuple[tuple[str, int, int], ...] = (
    ("240p", 240, 400_000), ("480p", 480, 1_200_000), ("720p", 720, 3_000_000),
    ("1080p", 1080, 6_000_000),
)  # fmt: skip
LADDER_WEIGHTS = (0.05, 0.2, 0.4, 0.35)


@dataclass(frozen=True, slots=True)
class LogNormal:
    """A log-normal draw of milliseconds, clipped to [low_ms, high_ms]."""

    median_ms: float
    sigma: float
    low_ms: int
    high_ms: int


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Shares of sessions."""

    legacy: float = 0.1  # old players: no ATTEMPT (their PLAY is the attempt), no sdk_version
    exit_before_start: float = 0.04
    start_failure: float = 0.015  # of the sessions that do not exit before start
    playback_failure: float = 0.01


@dataclass(frozen=True, slots=True)
class Playback:
    """What happens between the first frame and the STOP; shares are of summaries."""

    summary_every_ms: int = 60_000
    buffering_share: float = 0.08
    buffering_ms: tuple[int, int] = (100, 8_000)  # below summary_every_ms
    paused_share: float = 0.0  # of non-final summaries: no playing time
    summary_error_share: float = 0.0  # error_count 1
    bitrate_share: float = 1.0  # the summaries that report a bitrate
    switches_per_hour: float = 6.0  # QUALITY_CHANGED, one rung up or down
    recoverable_errors_per_hour: float = 1.0


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """What the traffic looks like. The defaults are a day of a large channel set (the lake
    benchmark's); tests narrow them (`every_outcome`, then `dataclasses.replace`)."""

    start_ms: int  # sessions arrive from here ...
    span_ms: int = DAY_MS  # ... for this long
    sessions: int = 100  # ignored when `Sessions` is asked for a number of records
    # No record at or after this instant (sessions still playing then are cut short, no STOP).
    cut_ms: int | None = None
    # Arrivals: uniform over the span, or the daily curve (quiet at 04:00 UTC, peak at 20:00).
    diurnal: bool = False
    id_prefix: str = ""  # tells apart the ids of several generated sets that end up together
    viewers: int = 250_000  # distinct user ids
    platforms: Weighted = PLATFORMS
    channels: Weighted = CHANNELS
    countries: tuple[tuple[str | None, float], ...] = COUNTRIES  # None: no location known
    ladder: tuple[tuple[str, int, int], ...] = LADDER
    ladder_weights: tuple[float, ...] = LADDER_WEIGHTS
    live_share: float = 0.85
    outcomes: Outcomes = Outcomes()
    # Play intent to first frame; multiplied per platform; whole seconds on some platforms.
    startup: LogNormal = LogNormal(1_200, 0.6, 80, 60_000)
    startup_factor: tuple[tuple[str, float], ...] = ()
    whole_second_platforms: tuple[str, ...] = ()
    duration: LogNormal = LogNormal(20 * 60_000, 1.0, 5_000, 6 * HOUR_MS)  # after the first frame
    playback: Playback = Playback()
    # Arrival order (`records()` only): each record is delayed by less than this after its
    # event time, so the order departs from event time by less than it.
    disorder_ms: int = 0

    def __post_init__(self) -> None:
        low, high = self.playback.buffering_ms
        if not 0 < low < high <= self.playback.summary_every_ms:
            raise ValueError("buffering_ms must be a positive range within summary_every_ms")
        if self.duration.high_ms // self.playback.summary_every_ms >= 1 << 16:
            raise ValueError("more summaries in a session than its index entry counts (65,535)")
        if self.span_ms <= 0 or self.sessions < 0 or self.disorder_ms < 0:
            raise ValueError("span_ms must be positive, sessions and disorder_ms not negative")


def _draw(rng: random.Random, law: LogNormal) -> float:
    return min(law.high_ms, max(law.low_ms, rng.lognormvariate(math.log(law.median_ms), law.sigma)))


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    limit = math.exp(-mean)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Sessions:
    """The sessions of a spec for a seed, and the time-sorted index of their records.

    With `events`, sessions are added until there are at least that many records, then random
    non-final summaries are dropped to leave exactly `events` (the spec's `sessions` is ignored).
    The records' own draws (buffering, latencies, switch directions) happen as they are built:
    take them once, by `records()` or by one pass of `chunks()`.
    """

    def __init__(self, spec: SessionSpec, seed: int, *, events: int | None = None) -> None:
        self.spec = spec
        self.rng = random.Random(seed)  # noqa: S311 - reproducible data, not a secret
        self.start_ms = spec.start_ms
        self._cut = None if spec.cut_ms is None else spec.cut_ms - spec.start_ms
        if events is None:
            self._sessions(spec.sessions)
            keys, _ = self._events()
        else:
            sessions = max(50, int(events / 27.0))  # a first guess: ~27 records a session
            while True:
                self._sessions(sessions)
                keys, droppable = self._events()
                if len(keys) >= events:
                    break
                sessions = int(sessions * events / len(keys) * 1.03) + 10
            excess = len(keys) - events
            if excess:
                drop = set(self.rng.sample(droppable, excess))
                keys = [k for i, k in enumerate(keys) if i not in drop]
        keys.sort()
        self.keys = keys
        self.n = len(keys)

    @property
    def session_count(self) -> int:
        return self.s

    # A record's index entry: (((time << 3 | kind) << sbits | session) << 16 | seq) << 1 | final,
    # time relative to start_ms, so sorting the ints sorts by time, then kind.
    def _key(self, t: int, kind: int, sess: int, seq: int = 0, final: int = 0) -> int:
        return ((((t << 3 | kind) << self.sbits | sess) << 16 | seq) << 1) | final

    def _sessions(self, s: int) -> None:
        """Draw every session's attributes, one column each."""
        rng, spec = self.rng, self.spec
        self.s = s
        self.sbits = s.bit_length()
        if spec.diurnal:
            hours = range(-(-spec.span_ms // HOUR_MS))
            first = spec.start_ms // HOUR_MS

            def weight(h: int) -> float:
                return 0.35 + 0.65 * (1 + math.cos(((first + h) % 24 - 20) / 24 * 2 * math.pi)) / 2

            picked = rng.choices(hours, weights=[weight(h) for h in hours], k=s)
            self.start = [
                min(spec.span_ms - 1, h * HOUR_MS + rng.randrange(HOUR_MS)) for h in picked
            ]
        else:
            self.start = [rng.randrange(spec.span_ms) for _ in range(s)]
        self.duration = [int(_draw(rng, spec.duration)) for _ in range(s)]
        outcomes = spec.outcomes
        self.legacy = [rng.random() < outcomes.legacy for _ in range(s)]
        self.ebvs = [rng.random() < outcomes.exit_before_start for _ in range(s)]
        self.start_fail = [not e and rng.random() < outcomes.start_failure for e in self.ebvs]
        self.playback_fail = [rng.random() < outcomes.playback_failure for _ in range(s)]
        startup = [_draw(rng, spec.startup) for _ in range(s)]
        self.platform = rng.choices(
            range(len(spec.platforms)), weights=[w for _, w in spec.platforms], k=s
        )
        self.channel = rng.choices(
            range(len(spec.channels)), weights=[w for _, w in spec.channels], k=s
        )
        self.country = rng.choices(
            range(len(spec.countries)), weights=[w for _, w in spec.countries], k=s
        )
        self.device = [rng.randrange(1_000) for _ in range(s)]
        self.live = [rng.random() < spec.live_share for _ in range(s)]
        self.rendition = rng.choices(range(len(spec.ladder)), weights=spec.ladder_weights, k=s)
        self.latency_base = [rng.randrange(3_000, 12_000) for _ in range(s)]
        self.startup = self._shape_startups(startup)
        self._base: list[bytes | None] = [None] * s
        self._common: list[Record | None] = [None] * s

    def _shape_startups(self, drawn: list[float]) -> list[int]:
        """Startup times as whole milliseconds, per platform (no draw: the same sessions)."""
        spec = self.spec
        factor = dict(spec.startup_factor)
        whole = set(spec.whole_second_platforms)
        names = [name for name, _ in spec.platforms]
        startup: list[int] = []
        for i, value in enumerate(drawn):
            name = names[self.platform[i]]
            ms = int(min(spec.startup.high_ms, value * factor[name]) if name in factor else value)
            if name in whole:  # these players report whole seconds: values repeat
                ms = max(1_000, ms - ms % 1_000)
            startup.append(ms)
        return startup

    def _events(self) -> tuple[list[int], list[int]]:
        """Every record's key before the cut, and the positions of the non-final summaries."""
        rng, spec = self.rng, self.spec
        key = self._key
        every = spec.playback.summary_every_ms
        cut = self._cut
        before = cut if cut is not None else 1 << 62
        # Rates per hour, applied as duration * rate / HOUR_MS (not duration * (rate / HOUR_MS),
        # which rounds differently): a seed keeps making the same records.
        switches, errors = (
            spec.playback.switches_per_hour,
            spec.playback.recoverable_errors_per_hour,
        )
        keys: list[int] = []
        droppable: list[int] = []
        for i in range(self.s):
            start, duration = self.start[i], self.duration[i]
            played = not (self.ebvs[i] or self.start_fail[i])
            play_at = start + self.startup[i]
            end = play_at + duration if played else start + self.startup[i] // 2
            if not self.legacy[i]:
                keys.append(key(start, ATTEMPT, i))
            if played:
                keys.append(key(play_at, PLAY, i))
                count = duration // every
                for k in range(count):
                    t = play_at + (k + 1) * every
                    if t < before:
                        droppable.append(len(keys))
                        keys.append(key(t, SUMMARY, i, k))
                keys.append(key(end, SUMMARY, i, count, 1))
                for q in range(_poisson(rng, duration * switches / HOUR_MS)):
                    keys.append(key(play_at + int(rng.random() * duration), QUALITY, i, q))
                for _ in range(_poisson(rng, duration * errors / HOUR_MS)):
                    keys.append(key(play_at + int(rng.random() * duration), ERROR, i, 0))
                if self.playback_fail[i]:
                    keys.append(key(end - 1, ERROR, i, 2))
            elif self.start_fail[i]:
                keys.append(key(end, ERROR, i, 1))
            keys.append(key(end + 1, STOP, i))
        if cut is not None:
            limit = cut << (3 + self.sbits + 17)
            if any(k >= limit for k in keys):
                kept = [k < limit for k in keys]
                renumber = list(itertools.accumulate(kept))  # new index + 1 of each kept key
                droppable = [renumber[d] - 1 for d in droppable if kept[d]]
                keys = [k for k in keys if k < limit]
        return keys, droppable

    def session_fields(self, i: int) -> Record:
        """The fields every record of session i shares (no None values: absent fields)."""
        common = self._common[i]
        if common is not None:
            return common
        spec = self.spec
        platform_name = spec.platforms[self.platform[i]][0]
        devices = DEVICES.get(platform_name, DEVICES["other"])
        device = devices[self.device[i] % len(devices)]
        code = spec.countries[self.country[i]][0]
        cname, region, city, lat, lon = PLACES.get(code or "", (None, None, None, None, None))
        legacy = self.legacy[i]
        fields: dict[str, Any] = {
            "session_id": f"{spec.id_prefix}s-{i:08d}-{self.device[i]:03d}",
            "user_id": f"u-{(i * 7919) % spec.viewers:06d}",
            "client_platform": platform_name,
            "is_live": self.live[i],
            "channel_watched": spec.channels[self.channel[i]][0],
            "schema_version": "1",
            "sdk_version": None if legacy else "2.3.1",
            "player_version": "hls.js-1.5.17" if platform_name == "web" else "native-4.2",
            "event_time_source": "client",
            "source_format": "legacy" if legacy else "v1",
            "user_id_pseudonymised": True,
            "viewer_country": code,
            "viewer_country_name": cname,
            "viewer_region": region,
            "viewer_city": city,
            "viewer_latitude": lat,
            "viewer_longitude": lon,
            "device_class": device[0],
            "browser_family": device[1],
            "browser_version": device[2],
            "os_family": device[3],
            "os_version": device[4],
            "device_family": device[5],
        }
        common = self._common[i] = {k: v for k, v in fields.items() if v is not None}
        return common

    def _fragment(self, i: int) -> bytes:
        """Session i's common fields serialised once (no braces)."""
        fragment = self._base[i]
        if fragment is None:
            fragment = self._base[i] = orjson.dumps(self.session_fields(i))[1:-1]
            self._common[i] = None  # the bytes are all the fast path needs again
        return fragment

    def _build(self, lo: int, hi: int, as_json: bool) -> tuple[list[Any], list[int]]:
        """Records lo..hi of the index: JSON bytes or dicts, and their event times."""
        rng, spec = self.rng, self.spec
        sbits = self.sbits
        smask = (1 << sbits) - 1
        start_ms = self.start_ms
        ladder, prefix = spec.ladder, spec.id_prefix
        top = len(ladder) - 1
        play = spec.playback
        every = play.summary_every_ms
        buffer_share, (buffer_lo, buffer_hi) = play.buffering_share, play.buffering_ms
        paused_share, error_share = play.paused_share, play.summary_error_share
        bitrate_share = play.bitrate_share
        partial_bitrate = bitrate_share < 1.0
        base = self._base
        # Locals, not attributes, in the loop: this is the benchmarks' generation time.
        rendition, live, latency = self.rendition, self.live, self.latency_base
        startup, duration, ebvs = self.startup, self.duration, self.ebvs
        dumps, randrange, random_ = orjson.dumps, rng.randrange, rng.random
        out: list[Any] = []
        times: list[int] = []
        keep, keep_time = out.append, times.append
        for j, packed in enumerate(self.keys[lo:hi]):
            final = packed & 1
            seq = (packed >> 1) & 0xFFFF
            rest = packed >> 17
            i = rest & smask
            rest >>= sbits
            k = rest & 7
            et = (rest >> 3) + start_ms
            rec: dict[str, Any] = {
                "event_time": et,
                "received_at": et + randrange(40, 2500),
            }
            if k == SUMMARY:
                b = randrange(buffer_lo, buffer_hi) if random_() < buffer_share else 0
                name, height, bitrate = ladder[rendition[i]]
                rec["metric_type"] = "PLAYBACK_SUMMARY"
                rec["event_id"] = f"{prefix}{i:08d}-s{seq}"
                if final:
                    rec["playing_time_ms"] = randrange(0, every - b)
                elif paused_share and random_() < paused_share:
                    rec["playing_time_ms"] = 0  # paused: the session lives, nothing plays
                else:
                    rec["playing_time_ms"] = every - b
                rec["buffering_time_ms"] = b
                rec["buffering_count"] = 1 + b // 3_000 if b else 0
                rec["error_count"] = 1 if error_share and random_() < error_share else 0
                rec["rendition_name"] = name
                rec["rendition_height"] = height
                if not partial_bitrate or random_() < bitrate_share:
                    rec["bitrate_bps"] = bitrate
                rec["dropped_frames"] = randrange(30)
                if live[i]:
                    rec["live_latency_ms"] = latency[i] + randrange(-1500, 1500)
                if final:
                    rec["is_final"] = True
            elif k == ATTEMPT:
                rec["metric_type"] = "ATTEMPT"
                rec["event_id"] = f"{prefix}{i:08d}-a"
                rec["visibility_state"] = "visible"
                rec["autoplay"] = bool(i & 1)
            elif k == PLAY:
                rec["metric_type"] = "PLAY"
                rec["event_id"] = f"{prefix}{i:08d}-p"
                rec["startup_latency_ms"] = startup[i]
                rec["start_playback_position_sec"] = 0.0
                rec["visibility_state"] = "visible"
            elif k == QUALITY:
                old = rendition[i]
                up = random_() < 0.5
                new = min(top, old + 1) if up else max(0, old - 1)
                rec["metric_type"] = "QUALITY_CHANGED"
                rec["event_id"] = f"{prefix}{i:08d}-q{seq}"
                rec["from_rendition_name"] = ladder[old][0]
                rec["to_rendition_name"] = ladder[new][0]
                rec["from_bitrate"] = ladder[old][2]
                rec["to_bitrate"] = ladder[new][2]
                if new != old:
                    rec["step_direction"] = "UP" if new > old else "DOWN"
            elif k == ERROR:
                which = seq  # 0 recoverable, 1 fatal at startup, 2 fatal in playback
                rec["metric_type"] = "ERROR"
                rec["event_id"] = f"{prefix}{i:08d}-e{lo + j}"
                rec["error_code"] = ("3", "4", "2")[which]
                rec["error_type"] = ("networkError", "mediaError", "networkError")[which]
                rec["fatal"] = which != 0
                rec["phase"] = "startup" if which == 1 else "playback"
                rec["error_message"] = "manifestLoadError" if which == 1 else "fragLoadError"
            else:
                rec["metric_type"] = "STOP"
                rec["event_id"] = f"{prefix}{i:08d}-x"
                rec["end_playback_position_sec"] = round(duration[i] / 1000, 3)
                if ebvs[i]:
                    rec["exit_before_start"] = True
            if as_json:
                fragment = base[i]
                if fragment is None:
                    fragment = self._fragment(i)
                keep(b"{" + dumps(rec)[1:-1] + b"," + fragment + b"}")
            else:
                keep(rec | self.session_fields(i))
            keep_time(et)
        return out, times

    def chunks(self, size: int) -> Iterator[tuple[list[bytes], list[int]]]:
        """(record JSON bytes, event_time ms) for consecutive slices, in event-time order.
        Draws from the generator's random state: iterate once per `Sessions`."""
        for lo in range(0, self.n, size):
            yield self._build(lo, lo + size, as_json=True)

    def records(self) -> list[Record]:
        """Every record as a dict, in arrival order (event-time order unless `disorder_ms`).
        Draws from the generator's random state: call once per `Sessions`."""
        records, times = self._build(0, self.n, as_json=False)
        disorder = self.spec.disorder_ms
        if not disorder:
            return records
        rng = self.rng
        arrival = [t + rng.randrange(disorder) for t in times]
        order = sorted(range(len(records)), key=arrival.__getitem__)
        return [records[i] for i in order]


def every_outcome(start_ms: int, span_ms: int, sessions: int) -> SessionSpec:
    """A small mix where every outcome is frequent, so that a few hundred sessions give every
    metric a value: four platforms alike, three renditions, countries with an unknown one, old
    players, start failures, exits before start, playback failures, buffering, pauses, errors,
    bitrates not always reported, switches both ways, startups from whole seconds (`other`
    players) to beyond 20 s; sessions of one to four minutes."""
    playback = Playback(
        buffering_share=0.25,
        buffering_ms=(100, 4_000),
        paused_share=0.1,
        summary_error_share=0.25,
        bitrate_share=0.85,
        switches_per_hour=18.0,
        recoverable_errors_per_hour=3.0,
    )
    return SessionSpec(
        start_ms,
        span_ms,
        sessions,
        platforms=tuple((name, 1.0) for name, _ in PLATFORMS),
        countries=(("FR", 1.0), ("US", 1.0), ("DE", 1.0), (None, 1.0)),
        ladder=LADDER[1:],
        ladder_weights=(1.0, 1.0, 1.0),
        live_share=0.8,
        outcomes=Outcomes(0.2, exit_before_start=0.06, start_failure=0.085, playback_failure=0.1),
        startup=LogNormal(3_000, 1.1, 80, 60_000),
        whole_second_platforms=("other",),
        duration=LogNormal(150_000, 0.5, 60_000, 240_000),
        playback=playback,
    )


def generate(spec: SessionSpec, seed: int) -> list[Record]:
    """The records of `spec`'s sessions for `seed`, in arrival order."""
    return Sessions(spec, seed).records()


def weighted(*values: str, weights: Mapping[str, float] | None = None) -> Weighted:
    """Values with their weights (equal unless given): a spec's platform or channel mix."""
    return tuple((v, 1.0 if weights is None else weights[v]) for v in values)


def traffic_day(day: date, events: int, seed: int) -> Sessions:
    """Exactly `events` records of one UTC day of the default mix, arriving on the daily curve:
    the benchmarks' data (summaries dominate, one per viewer-minute)."""
    start = day_start_ms(day)
    spec = SessionSpec(start_ms=start, cut_ms=start + DAY_MS, diurnal=True)
    return Sessions(spec, seed, events=events)


def playback_summary(n: int, **fields: Any) -> Record:
    """One valid PLAYBACK_SUMMARY of session n % 7 (viewer n % 5) on one web channel, the record
    single-event tests start from; `fields` add to it or replace its values (an event_id and an
    event_time, at least, for a stored record)."""
    return {
        "metric_type": "PLAYBACK_SUMMARY",
        "session_id": f"session-{n % 7}",
        "user_id": f"user-{n % 5}",
        "client_platform": "web",
        "is_live": True,
        "channel_watched": "channel-a",
        "playing_time_ms": 58_000,
        "buffering_time_ms": 2_000,
        "buffering_count": 1,
        "error_count": 0,
        "rendition_name": "720p",
        "rendition_height": 720,
        "live_latency_ms": 3_100,
    } | fields


#: The pause `as_clients_lose_them` puts in a tenth of the sessions: longer than a view's
#: inactivity timeout (180 s), so the session's records make two views.
PAUSE_MS = 5 * 60_000


def as_clients_lose_them(
    records: list[Record], rng: random.Random, *, pause_ms: int = PAUSE_MS
) -> list[Record]:
    """The records as clients lose them, in event time: a third of the sessions lose their last
    record (the STOP, or the exit beacon: an exit before start is then an ATTEMPT alone), half
    the fatal errors lose their `phase`, and a tenth of the sessions pause `pause_ms` halfway
    (two views, the second with no attempt; `received_at` moves with `event_time`)."""
    by_session: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_session[r["session_id"]].append(r)
    out: list[Record] = []
    for rs in by_session.values():
        rs = sorted(rs, key=lambda r: r["event_time"])
        if rng.random() < 1 / 3 and len(rs) > 1:
            rs = rs[:-1]
        if rng.random() < 0.1 and len(rs) > 2:
            half = len(rs) // 2
            rs = rs[:half] + [_later(r, pause_ms) for r in rs[half:]]
        for r in rs:
            if r["metric_type"] == "ERROR" and r.get("fatal") and rng.random() < 0.5:
                r = {k: v for k, v in r.items() if k != "phase"}
            out.append(r)
    return sorted(out, key=lambda r: r["event_time"])


def _later(record: Record, ms: int) -> Record:
    moved = {**record, "event_time": record["event_time"] + ms}
    if record.get("received_at") is not None:
        moved["received_at"] = record["received_at"] + ms
    return moved
