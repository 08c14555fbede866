"""Incidents: a slice of the audience (country, platform, channel) degraded for a while.

Spec syntax (the `--incident` option, repeatable), comma-separated `key=value` pairs:

    country=BR,start=3m,duration=2m,rebuffer=+8%
    platform=android,channel=sports-1,start=90s,startup=x2,vsf=+5%

Filters (all given ones must match; none means everyone): `country` (ISO code), `platform`
(web, ios, android, other), `channel`. Time, relative to the run's start: `start` (default 0) and
`duration` (default: to the end of the run), each a number with a unit (ms, s, m, h; `1m30s`).
Effects (at least one):
- `rebuffer=+8%`: the rebuffering ratio of the affected sessions' watch time during the incident
  rises by 8 percentage points (extra stalls are inserted, see `audience.py`);
- `startup=+800ms` / `startup=+2s` adds to, `startup=x2` multiplies, the startup time of attempts
  made during the incident (longer startups also raise exits before start: viewers lose patience);
- `errors=+5%`: each affected session playing during the incident fails with a fatal playback
  error at a random moment of it with this probability (playback failure %);
- `vsf=+5%`: attempts made during the incident fail to start with this extra probability
  (video start failure %).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qos_infra.simulator.model import DEFAULT_MODEL, Model

KEYS = (
    "country",
    "platform",
    "channel",
    "start",
    "duration",
    "rebuffer",
    "startup",
    "errors",
    "vsf",
)
EFFECTS = ("rebuffer", "startup", "errors", "vsf")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
_PERCENT = re.compile(r"\+?(\d+(?:\.\d+)?)\s*%?")
_ADD = re.compile(r"\+(\d+(?:\.\d+)?)(ms|s)")
_FACTOR = re.compile(r"[x\u00d7*](\d+(?:\.\d+)?)")  # x2, \u00d72 or *2


class IncidentError(ValueError):
    """An incident spec that cannot be read; the message says what to write instead."""


@dataclass(frozen=True, slots=True)
class Incident:
    """A degradation of one slice of viewers during [start_ms, start_ms + duration_ms) of the run
    (simulated milliseconds since its start)."""

    start_ms: int = 0
    duration_ms: int | None = None  # None: until the run ends
    country: str | None = None
    platform: str | None = None
    channel: str | None = None
    rebuffer_pp: float = 0.0  # + percentage points of rebuffering ratio
    startup_add_ms: int = 0
    startup_factor: float = 1.0
    errors_pct: float = 0.0  # probability (%) that an affected playing session fails
    vsf_pp: float = 0.0  # + percentage points of video start failure
    spec: str = field(default="", compare=False)

    def end_ms(self, run_ms: int) -> int:
        return run_ms if self.duration_ms is None else min(run_ms, self.start_ms + self.duration_ms)

    def matches(self, country: str, platform: str, channel: str) -> bool:
        return (
            (self.country is None or self.country == country)
            and (self.platform is None or self.platform == platform)
            and (self.channel is None or self.channel == channel)
        )

    def as_dict(self, run_ms: int) -> dict[str, object]:
        return {
            "spec": self.spec,
            "country": self.country,
            "platform": self.platform,
            "channel": self.channel,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms(run_ms),
            "rebuffer_pp": self.rebuffer_pp,
            "startup_add_ms": self.startup_add_ms,
            "startup_factor": self.startup_factor,
            "errors_pct": self.errors_pct,
            "vsf_pp": self.vsf_pp,
        }


def parse_duration(text: str, *, what: str = "duration") -> int:
    """`3m`, `90s`, `1m30s`, `500ms`, `1.5h` or `0` → milliseconds."""
    value = text.strip().lower()
    if value == "0":
        return 0
    if not value or _DURATION_PART.sub("", value):
        if re.fullmatch(r"\d+(\.\d+)?", value):
            raise IncidentError(f'{what} "{text}" needs a unit: ms, s, m or h (e.g. {value}m)')
        raise IncidentError(f'{what} "{text}" is not a duration like 3m, 90s, 1m30s or 500ms')
    return round(sum(float(n) * _UNIT_MS[u] for n, u in _DURATION_PART.findall(value)))


def parse_incident(spec: str, model: Model = DEFAULT_MODEL) -> Incident:
    """Read one `--incident` spec; raise IncidentError with a one-line reason."""
    if not spec.strip():
        raise IncidentError(
            "empty incident spec; e.g. country=BR,start=3m,duration=2m,rebuffer=+8%"
        )
    values: dict[str, str] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or not value.strip():
            raise IncidentError(f'"{part.strip()}" is not key=value (keys: {", ".join(KEYS)})')
        if key not in KEYS:
            raise IncidentError(f'unknown key "{key}" (keys: {", ".join(KEYS)})')
        if key in values:
            raise IncidentError(f'"{key}" is given twice')
        values[key] = value.strip()
    if not any(k in values for k in EFFECTS):
        raise IncidentError(
            "no effect given: add rebuffer=+N%, startup=+Nms or startup=xN, errors=+N% or vsf=+N%"
        )

    fields: dict[str, object] = {"spec": spec.strip()}
    if "country" in values:
        code = values["country"].upper()
        known = [c.code for c in model.countries]
        if code not in known:
            raise IncidentError(
                f'country "{values["country"]}" is not simulated ({", ".join(known)})'
            )
        fields["country"] = code
    if "platform" in values:
        name = values["platform"].lower()
        known = [p.name for p in model.platforms]
        if name not in known:
            raise IncidentError(f'platform "{values["platform"]}" is not one of {", ".join(known)}')
        fields["platform"] = name
    if "channel" in values:
        known = [c.name for c in model.channels]
        if values["channel"] not in known:
            raise IncidentError(
                f'channel "{values["channel"]}" is not simulated ({", ".join(known)})'
            )
        fields["channel"] = values["channel"]
    if "start" in values:
        fields["start_ms"] = parse_duration(values["start"], what="start")
    if "duration" in values:
        duration = parse_duration(values["duration"], what="duration")
        if duration <= 0:
            raise IncidentError("duration must be more than 0")
        fields["duration_ms"] = duration
    if "rebuffer" in values:
        fields["rebuffer_pp"] = _percent("rebuffer", values["rebuffer"], high=90)
    if "errors" in values:
        fields["errors_pct"] = _percent("errors", values["errors"], high=100)
    if "vsf" in values:
        fields["vsf_pp"] = _percent("vsf", values["vsf"], high=100)
    if "startup" in values:
        fields.update(_startup(values["startup"]))
    return Incident(**fields)  # type: ignore[arg-type]


def _percent(key: str, text: str, *, high: float) -> float:
    if text.startswith("-"):
        raise IncidentError(f'{key} "{text}": only increases are simulated, e.g. {key}=+5%')
    match = _PERCENT.fullmatch(text)
    if not match:
        raise IncidentError(f'{key} "{text}" is not a percentage like +5%')
    value = float(match.group(1))
    if not 0 < value <= high:
        raise IncidentError(f'{key} "{text}" must be more than 0% and at most {high:g}%')
    return value


def _startup(text: str) -> dict[str, object]:
    value = text.strip().lower()
    if value.startswith("-"):
        raise IncidentError(f'startup "{text}": only increases are simulated, e.g. startup=+800ms')
    if match := _ADD.fullmatch(value):
        added = float(match.group(1)) * _UNIT_MS[match.group(2)]
        if not 0 < added <= 600_000:
            raise IncidentError(f'startup "{text}" must add more than 0 and at most 10 minutes')
        return {"startup_add_ms": round(added)}
    if match := _FACTOR.fullmatch(value):
        factor = float(match.group(1))
        if not 1 < factor <= 100:
            raise IncidentError(f'startup "{text}": the factor must be more than 1 and at most 100')
        return {"startup_factor": factor}
    raise IncidentError(f'startup "{text}" is not +Nms, +Ns or xN (e.g. +800ms, x2)')
