"""Who may set the viewer headers: the edge (CloudFront, proven by the origin secret header, or a
configured local proxy), and nobody else.

CloudFront adds `CloudFront-Viewer-*` headers from the viewer's address; any client can send the
same names. On AWS the distribution adds `x-qos-origin-verify` with a secret value (rotated
through Secrets Manager), and a request without one of its accepted values (current, previous,
pending) is refused whole. Locally there is no CloudFront: the viewer headers are believed only
from the addresses of configured proxies, and ignored otherwise (the event is still stored,
without geography).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from threading import Lock

ORIGIN_HEADER = "x-qos-origin-verify"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Verdict(Enum):
    TRUSTED = "trusted"  # viewer headers are the edge's
    UNTRUSTED = "untrusted"  # stored, but viewer headers and fields ignored
    FORBIDDEN = "forbidden"  # not from the edge while the edge is required: refused whole


class OriginUnverifiable(RuntimeError):
    """The origin secret could not be read, so no request can be judged (fail closed)."""


class OriginSecret:
    """The origin secret's accepted values (current and previous version), read through `fetch`
    and kept `ttl_s`; a value that matches none makes it read again, at most every
    `min_refresh_s`, so that a rotation is seen at once and forged headers cannot drive reads."""

    def __init__(
        self,
        fetch: Callable[[], Sequence[bytes]],
        *,
        clock: Callable[[], float],
        ttl_s: float = 300.0,
        min_refresh_s: float = 10.0,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._ttl_s = ttl_s
        self._min_refresh_s = min_refresh_s
        self._values: tuple[bytes, ...] = ()
        self._fetched_at: float | None = None
        self._lock = Lock()

    def matches(self, presented: str | None) -> bool:
        """Whether the header's value is an accepted one; OriginUnverifiable when the secret was
        never read and cannot be."""
        now = self._clock()
        if self._fetched_at is None or now - self._fetched_at >= self._ttl_s:
            self._refresh(now)
        if presented is None:
            return False
        value = presented.encode()
        if _any_equal(value, self._values):
            return True
        assert self._fetched_at is not None
        if now - self._fetched_at >= self._min_refresh_s:
            self._refresh(now)
            return _any_equal(value, self._values)
        return False

    def _refresh(self, now: float) -> None:
        with self._lock:
            try:
                values = tuple(v for v in self._fetch() if v)
            except Exception as exc:
                if not self._values:
                    raise OriginUnverifiable(f"the origin secret cannot be read: {exc}") from exc
                values = self._values  # keep the values read last; try again after the TTL
            if not values and not self._values:
                raise OriginUnverifiable("the origin secret has no value")
            self._values = values or self._values
            self._fetched_at = now


def _any_equal(value: bytes, accepted: Iterable[bytes]) -> bool:
    # Every candidate compared in constant time, none skipped: timing tells nothing.
    matched = False
    for candidate in accepted:
        matched |= hmac.compare_digest(value, candidate)
    return matched


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR blocks (`127.0.0.1, 10.0.0.0/8`); ValueError if one is
    neither."""
    return tuple(ipaddress.ip_network(part.strip()) for part in text.split(",") if part.strip())


class EdgePolicy:
    """The verdict on one request: with an origin secret, its header decides (trusted or
    forbidden); without, a request from a trusted proxy is trusted and any other untrusted."""

    def __init__(
        self, origin: OriginSecret | None = None, trusted_proxies: Sequence[Network] = ()
    ) -> None:
        self.origin = origin
        self.trusted_proxies = tuple(trusted_proxies)

    def judge(self, headers: Mapping[str, str], source_ip: str | None) -> Verdict:
        if self.origin is not None:
            return (
                Verdict.TRUSTED
                if self.origin.matches(headers.get(ORIGIN_HEADER))
                else (Verdict.FORBIDDEN)
            )
        if source_ip and self.trusted_proxies and self._from_proxy(source_ip):
            return Verdict.TRUSTED
        return Verdict.UNTRUSTED

    def _from_proxy(self, source_ip: str) -> bool:
        try:
            address = ipaddress.ip_address(source_ip)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted_proxies)
