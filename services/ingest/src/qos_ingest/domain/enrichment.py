"""Server-side enrichment: viewer geography and device class, User-Agent, user_id pseudonymisation.

Geography and device class come from CloudFront's viewer headers on AWS; the original sample's
payloads may carry the same names flattened into the record, which are used when no header is set.
The client IP address is never looked at here, so it cannot end up in a record.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ua_parser import parse as parse_user_agent

_GEO_HEADERS: dict[str, str] = {
    "cloudfront-viewer-country": "viewer_country",
    "cloudfront-viewer-country-name": "viewer_country_name",
    "cloudfront-viewer-country-region-name": "viewer_region",
    "cloudfront-viewer-city": "viewer_city",
    "cloudfront-viewer-latitude": "viewer_latitude",
    "cloudfront-viewer-longitude": "viewer_longitude",
}
_DEVICE_HEADERS: dict[str, str] = {
    "cloudfront-is-smarttv-viewer": "smarttv",
    "cloudfront-is-tablet-viewer": "tablet",
    "cloudfront-is-mobile-viewer": "mobile",
    "cloudfront-is-desktop-viewer": "desktop",
}
VIEWER_HEADER_NAMES: frozenset[str] = frozenset(_GEO_HEADERS) | frozenset(_DEVICE_HEADERS)
_MAX_TEXT = 256


def viewer_fields(headers: Mapping[str, str]) -> dict[str, Any]:
    """Enrichment fields from CloudFront viewer headers (keys must be lower-case)."""
    fields: dict[str, Any] = {}
    for header, field in _GEO_HEADERS.items():
        value = headers.get(header)
        if value is None or not value.strip():
            continue
        if field in ("viewer_latitude", "viewer_longitude"):
            number = _coordinate(value, 90.0 if field == "viewer_latitude" else 180.0)
            if number is not None:
                fields[field] = number
        else:
            fields[field] = value.strip()[:_MAX_TEXT]
    for header, device_class in _DEVICE_HEADERS.items():
        if str(headers.get(header, "")).strip().lower() == "true":
            fields["device_class"] = device_class
            break
    return fields


def _coordinate(value: str, bound: float) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if -bound <= number <= bound else None


@lru_cache(maxsize=4096)
def user_agent_fields(user_agent: str) -> dict[str, str]:
    """Browser, OS and device from a User-Agent string (ua-parser's maintained regexes)."""
    if not user_agent:
        return {}
    result = parse_user_agent(user_agent[:1024])
    fields: dict[str, str] = {}
    if result.user_agent is not None:
        fields["browser_family"] = result.user_agent.family[:_MAX_TEXT]
        version = ".".join(p for p in (result.user_agent.major, result.user_agent.minor) if p)
        if version:
            fields["browser_version"] = version[:_MAX_TEXT]
    if result.os is not None:
        fields["os_family"] = result.os.family[:_MAX_TEXT]
        version = ".".join(p for p in (result.os.major, result.os.minor) if p)
        if version:
            fields["os_version"] = version[:_MAX_TEXT]
    if result.device is not None and result.device.family != "Other":
        fields["device_family"] = result.device.family[:_MAX_TEXT]
    return fields


class Pseudonymiser:
    """Keyed hash of user ids: stable per key, not reversible without it (HMAC-SHA256)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes")
        self._key = key
        self._cached = lru_cache(maxsize=65536)(self._digest)

    def _digest(self, user_id: str) -> str:
        return hmac.new(self._key, user_id.encode(), hashlib.sha256).hexdigest()[:32]

    def __call__(self, user_id: str) -> str:
        return self._cached(user_id)
