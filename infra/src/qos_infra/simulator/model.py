"""The viewer model: every mix, distribution and parameter the simulator draws from.

Nothing here draws a number; `audience.py` does, reading these values; docs/simulator.md has
them as tables. The figures are meant to be plausible for a mid-size live service, not
measurements of one.

Notation: `LogNormal(median, sigma)` is exp(N(ln median, sigma^2)) (mean = median*exp(sigma^2/2));
`Exp(mean)` an exponential gap; rates are per minute of *playing* time unless said otherwise.

Population
- `viewers` seats; each seat is taken by one viewer after another. The first viewer of a seat
  arrives uniformly within `ramp_s` of the start; when a viewer leaves, the next one arrives after
  Exp(`seat_gap_s`). So about `viewers` viewers are present at any time after the ramp.
- A viewer has a platform (`PLATFORMS` mix), a device and User-Agent for that platform
  (its `devices` mix), a country (`COUNTRIES` mix) and a city in it, and a network: bandwidth
  LogNormal(country median x device factor, `bandwidth_sigma`) Mbps, fixed for the visit.
- A visit is one or more sessions. After a session the viewer zaps to another channel with
  probability `zap_p` (after Exp(`zap_gap_s`)), retries the same channel after a fatal error with
  probability `retry_after_failure_p`, otherwise leaves. Channels follow the `CHANNELS` mix.

One session (ATTEMPT at play intent)
- The page is hidden at intent with probability `hidden_p` (startup x `hidden_startup_factor`);
  `autoplay_p` of attempts are autoplay.
- Startup S = LogNormal(platform median x country factor, platform sigma), clamped to
  [`startup_min_ms`, `startup_max_ms`].
- Start failure (VSF) with probability `start_failure_p`: a fatal ERROR (phase startup) after
  LogNormal(`start_failure_after_ms`) then STOP.
- Exit before start (EBVS): with probability `quick_exit_p` the viewer leaves at U(0.2 s, S);
  otherwise they leave when S exceeds their patience P = LogNormal(`patience_ms`). STOP carries
  exit_before_start. Expected EBVS share ~ (1 - vsf) * (q + (1 - q) * P(S > P)), where
  P(S > P) = Phi((ln mS - ln mP) / sqrt(sS^2 + sP^2)) for medians m and sigmas s.
- A recoverable startup error happens with probability `startup_error_p` (counted in the first
  summary's error_count, as the SDK does).
- Otherwise PLAY at intent + S. The viewer means to watch LogNormal(`watch_ms`) of wall time,
  clamped to [`watch_min_ms`, `watch_max_ms`]; on-demand content also ends at its length.

Playback (the SDK's phases: playing, stalled, seeking, paused)
- Stalls: Poisson, `stall_rate_per_min[platform]` x country stall factor; duration
  LogNormal(`stall_ms`). After a stall the player steps down one rendition with probability
  `down_after_stall_p`.
- Seeks: `seek_rate_per_min` (live/vod), seeking LogNormal(`seek_ms`): neither watch nor stall.
- Pauses: `pause_rate_per_min` (live/vod), LogNormal(`pause_ms`): not watch time.
- Recoverable errors: `recoverable_error_rate_per_min`. Fatal playback errors: hazard
  `fatal_error_rate_per_min`; the session ends (ERROR fatal, final summary, STOP).
- Renditions (`LADDER`): the sustainable rung is the highest whose bitrate ≤ `abr_headroom` x
  bandwidth (capped by the device). Playback starts at min(sustainable, `start_rung`) and steps up
  one rung every U(`abr_up_step_s`) s of playing. Bandwidth dips (`dip_rate_per_min`, lasting
  LogNormal(`dip_ms`)) drop 1 or 2 rungs, then the player climbs back.
- Live latency (live channels): per session LogNormal(`live_latency_ms`), per summary plus
  |N(0, `live_latency_jitter_ms`)| and half the interval's stall time.
- PLAYBACK_SUMMARY every 60 s after PLAY when the session is playing or stalled or the interval
  counted anything (an interval spent paused sends none), and a final one (is_final) at the end.
- When the run ends every viewer leaves (final summary and STOP; a session still starting is an
  exit before start).

Incidents (`incidents.py`) shift a slice during a period: `rebuffer` adds stalls of
LogNormal(`incident_stall_ms`) so the slice's rebuffering ratio rises by the given points;
`startup` adds to or multiplies startup times; `vsf` adds to `start_failure_p`; `errors` makes
playing sessions fail with the given probability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LogNormal:
    """exp(N(ln median, sigma^2)); `mean` is median*exp(sigma^2/2)."""

    median: float
    sigma: float

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)


@dataclass(frozen=True, slots=True)
class City:
    name: str
    region: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Country:
    code: str  # ISO 3166-1 alpha-2, as CloudFront-Viewer-Country
    name: str
    weight: float
    cities: tuple[City, ...]
    bandwidth_mbps: float  # median downlink
    startup_factor: float  # multiplies the platform's median startup time
    stall_factor: float  # multiplies the platform's stall rate


@dataclass(frozen=True, slots=True)
class Device:
    """One User-Agent of a platform and the device class CloudFront would report for it."""

    user_agent: str
    device_class: str  # desktop, mobile, tablet, smarttv
    weight: float
    player_version: str


@dataclass(frozen=True, slots=True)
class Platform:
    name: str  # client_platform
    weight: float
    startup: LogNormal  # ms
    stall_rate_per_min: float
    devices: tuple[Device, ...]


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    weight: float
    is_live: bool
    content_ms: LogNormal | None = None  # on-demand content length


@dataclass(frozen=True, slots=True)
class Rendition:
    name: str
    height: int
    bitrate_bps: int


def _web(ua: str, weight: float) -> Device:
    return Device(ua, "desktop", weight, "1.34.0")


PLATFORMS: tuple[Platform, ...] = (
    Platform(
        "web",
        0.45,
        LogNormal(1100, 0.45),
        0.25,
        (
            _web(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
                " Chrome/131.0.0.0 Safari/537.36",
                0.40,
            ),
            _web(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like"
                " Gecko) Chrome/131.0.0.0 Safari/537.36",
                0.15,
            ),
            _web(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like"
                " Gecko) Version/18.1 Safari/605.1.15",
                0.15,
            ),
            _web(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
                0.12,
            ),
            _web(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
                " Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                0.18,
            ),
        ),
    ),
    Platform(
        "android",
        0.25,
        LogNormal(1400, 0.50),
        0.35,
        (
            Device(
                "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko)"
                " Chrome/131.0.6778.104 Mobile Safari/537.36",
                "mobile",
                0.5,
                "1.34.0",
            ),
            Device(
                "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko)"
                " Chrome/130.0.6723.107 Mobile Safari/537.36",
                "mobile",
                0.35,
                "1.33.0",
            ),
            Device(
                "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko)"
                " Chrome/131.0.6778.104 Safari/537.36",
                "tablet",
                0.15,
                "1.34.0",
            ),
        ),
    ),
    Platform(
        "ios",
        0.22,
        LogNormal(900, 0.40),
        0.20,
        (
            Device(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15"
                " (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "mobile",
                0.8,
                "1.34.0",
            ),
            Device(
                "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
                " Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
                "tablet",
                0.2,
                "1.33.0",
            ),
        ),
    ),
    Platform(
        "other",
        0.08,
        LogNormal(2000, 0.45),
        0.30,
        (
            Device(
                "Mozilla/5.0 (SMART-TV; LINUX; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko)"
                " 94.0.4606.31/7.0 TV Safari/537.36",
                "smarttv",
                0.6,
                "1.32.0",
            ),
            Device(
                "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko)"
                " Chrome/87.0.4280.88 Safari/537.36 WebAppManager",
                "smarttv",
                0.4,
                "1.32.0",
            ),
        ),
    ),
)


def _c(name: str, region: str, lat: float, lon: float) -> City:
    return City(name, region, lat, lon)


COUNTRIES: tuple[Country, ...] = (
    Country(
        "US",
        "United States",
        0.20,
        (
            _c("New York", "New York", 40.71, -74.01),
            _c("Los Angeles", "California", 34.05, -118.24),
            _c("Chicago", "Illinois", 41.88, -87.63),
        ),
        25.0,
        1.0,
        1.0,
    ),
    Country(
        "BR",
        "Brazil",
        0.12,
        (
            _c("Sao Paulo", "Sao Paulo", -23.55, -46.63),
            _c("Rio de Janeiro", "Rio de Janeiro", -22.91, -43.17),
        ),
        12.0,
        1.25,
        1.6,
    ),
    Country(
        "IN",
        "India",
        0.10,
        (_c("Mumbai", "Maharashtra", 19.08, 72.88), _c("Delhi", "Delhi", 28.70, 77.10)),
        8.0,
        1.45,
        2.0,
    ),
    Country(
        "GB",
        "United Kingdom",
        0.09,
        (_c("London", "England", 51.51, -0.13), _c("Manchester", "England", 53.48, -2.24)),
        22.0,
        1.0,
        0.9,
    ),
    Country(
        "DE",
        "Germany",
        0.08,
        (_c("Berlin", "Berlin", 52.52, 13.40), _c("Munich", "Bavaria", 48.14, 11.58)),
        20.0,
        1.0,
        0.9,
    ),
    Country(
        "FR",
        "France",
        0.08,
        (
            _c("Paris", "Ile-de-France", 48.86, 2.35),
            _c("Lyon", "Auvergne-Rhone-Alpes", 45.76, 4.84),
        ),
        22.0,
        1.0,
        0.9,
    ),
    Country(
        "MX", "Mexico", 0.06, (_c("Mexico City", "Mexico City", 19.43, -99.13),), 10.0, 1.3, 1.6
    ),
    Country("JP", "Japan", 0.06, (_c("Tokyo", "Tokyo", 35.68, 139.69),), 30.0, 0.9, 0.7),
    Country("ES", "Spain", 0.05, (_c("Madrid", "Madrid", 40.42, -3.70),), 20.0, 1.0, 1.0),
    Country("CA", "Canada", 0.05, (_c("Toronto", "Ontario", 43.65, -79.38),), 22.0, 1.0, 0.9),
    Country("KR", "South Korea", 0.04, (_c("Seoul", "Seoul", 37.57, 126.98),), 35.0, 0.85, 0.6),
    Country(
        "AU", "Australia", 0.04, (_c("Sydney", "New South Wales", -33.87, 151.21),), 18.0, 1.1, 1.0
    ),
    Country("NG", "Nigeria", 0.03, (_c("Lagos", "Lagos", 6.52, 3.38),), 4.0, 1.8, 2.8),
)

CHANNELS: tuple[Channel, ...] = (
    Channel("news-24", 0.22, True),
    Channel("sports-1", 0.20, True),
    Channel("sports-2", 0.12, True),
    Channel("gaming", 0.10, True),
    Channel("music-live", 0.08, True),
    Channel("kids", 0.08, True),
    Channel("movies", 0.12, False, LogNormal(100 * 60_000, 0.25)),
    Channel("series", 0.08, False, LogNormal(40 * 60_000, 0.20)),
)

# Amazon IVS's usual transcoding ladder.
LADDER: tuple[Rendition, ...] = (
    Rendition("160p", 160, 230_000),
    Rendition("360p", 360, 630_000),
    Rendition("480p", 480, 1_200_000),
    Rendition("720p", 720, 2_500_000),
    Rendition("720p60", 720, 3_500_000),
    Rendition("1080p", 1080, 6_000_000),
)
# The highest rung a device class plays (phones do not fetch 1080p for a small screen).
MAX_RUNG: dict[str, int] = {"desktop": 5, "smarttv": 5, "tablet": 5, "mobile": 4}

# (error_code, error_type, error_message) as the IVS player reports them.
START_FAILURES: tuple[tuple[str, str, str], ...] = (
    ("404", "ErrorNotAvailable", "Failed to load playlist"),
    ("403", "ErrorAuthorization", "Playback authorization failed"),
    ("-1", "ErrorNetwork", "Network error while loading the stream"),
)
PLAYBACK_FAILURES: tuple[tuple[str, str, str], ...] = (
    ("-2", "ErrorNetworkIO", "Segment download failed after retries"),
    ("3", "ErrorInvalidData", "Media decode error"),
)
RECOVERABLE_ERRORS: tuple[tuple[str, str, str], ...] = (
    ("-2", "ErrorNetworkIO", "Segment download failed, retrying"),
    ("408", "ErrorTimeout", "Segment request timed out, retrying"),
)


@dataclass(frozen=True, slots=True)
class Model:
    """Every parameter of the simulation (defaults: the documented model)."""

    platforms: tuple[Platform, ...] = PLATFORMS
    countries: tuple[Country, ...] = COUNTRIES
    channels: tuple[Channel, ...] = CHANNELS
    ladder: tuple[Rendition, ...] = LADDER
    max_rung: dict[str, int] = field(default_factory=lambda: dict(MAX_RUNG))
    # population
    ramp_s: float = 30.0
    seat_gap_s: float = 10.0
    zap_p: float = 0.30
    zap_gap_s: float = 3.0
    retry_after_failure_p: float = 0.5
    retry_gap_s: float = 5.0
    bandwidth_sigma: float = 0.7
    mobile_bandwidth_factor: float = 0.7
    # startup
    hidden_p: float = 0.03
    hidden_startup_factor: float = 2.5
    autoplay_p: float = 0.35
    startup_min_ms: int = 150
    startup_max_ms: int = 120_000
    start_failure_p: float = 0.012
    start_failure_after_ms: LogNormal = LogNormal(2500, 0.6)
    quick_exit_p: float = 0.02
    patience_ms: LogNormal = LogNormal(10_000, 0.9)
    startup_error_p: float = 0.02
    # playback
    watch_ms: LogNormal = LogNormal(5 * 60_000, 1.0)
    watch_min_ms: int = 5_000
    watch_max_ms: int = 3 * 3_600_000
    stall_ms: LogNormal = LogNormal(1500, 0.8)
    stall_max_ms: int = 60_000
    down_after_stall_p: float = 0.3
    seek_rate_per_min: tuple[float, float] = (0.05, 0.4)  # (live, on-demand)
    seek_ms: LogNormal = LogNormal(700, 0.5)
    pause_rate_per_min: tuple[float, float] = (0.03, 0.15)
    pause_ms: LogNormal = LogNormal(15_000, 1.0)
    recoverable_error_rate_per_min: float = 0.03
    fatal_error_rate_per_min: float = 0.0015
    resume_p: float = 0.3  # on-demand sessions resuming mid-content
    # renditions
    abr_headroom: float = 0.75
    start_rung: int = 3
    abr_up_step_s: tuple[float, float] = (4.0, 10.0)
    dip_rate_per_min: float = 0.08
    dip_ms: LogNormal = LogNormal(20_000, 0.6)
    # live latency
    live_latency_ms: LogNormal = LogNormal(3500, 0.3)
    live_latency_jitter_ms: float = 250.0
    # incidents: extra stalls inserted to raise the rebuffering ratio
    incident_stall_ms: LogNormal = LogNormal(3000, 0.6)
    # the SDK's summary period
    summary_interval_ms: int = 60_000

    def platform(self, name: str) -> Platform:
        return next(p for p in self.platforms if p.name == name)

    def country(self, code: str) -> Country:
        return next(c for c in self.countries if c.code == code)

    def channel(self, name: str) -> Channel:
        return next(c for c in self.channels if c.name == name)


DEFAULT_MODEL = Model()
