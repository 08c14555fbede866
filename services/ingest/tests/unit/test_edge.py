"""The edge rules: the origin secret's cache and rotation, and the trusted proxy addresses."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from qos_ingest.domain.edge import (
    ORIGIN_HEADER,
    EdgePolicy,
    OriginSecret,
    OriginUnverifiable,
    Verdict,
    parse_networks,
)


class FakeSecret:
    """Secrets Manager's accepted values, counting reads; `broken` makes a read fail."""

    def __init__(self, *values: bytes) -> None:
        self.values: list[bytes] = list(values)
        self.reads = 0
        self.broken = False

    def __call__(self) -> Sequence[bytes]:
        self.reads += 1
        if self.broken:
            raise ConnectionError("secrets manager unreachable")
        return list(self.values)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def origin(secret: FakeSecret, clock: Clock) -> OriginSecret:
    return OriginSecret(secret, clock=clock, ttl_s=300, min_refresh_s=10)


def test_values_are_read_once_and_kept_for_the_ttl() -> None:
    secret, clock = FakeSecret(b"current"), Clock()
    check = origin(secret, clock)
    assert [check.matches("current") for _ in range(5)] == [True] * 5
    assert secret.reads == 1
    clock.now += 301
    assert check.matches("current") and secret.reads == 2


def test_forged_values_cause_at_most_one_read_per_interval() -> None:
    secret, clock = FakeSecret(b"current"), Clock()
    check = origin(secret, clock)
    assert not any(check.matches(f"guess-{i}") for i in range(50))
    assert secret.reads == 1  # the first read; forged values within 10 s read nothing more
    clock.now += 10
    assert not check.matches("guess") and secret.reads == 2
    assert not check.matches(None) and not check.matches("")


def test_a_rotation_is_seen_on_the_first_unknown_value_after_the_interval() -> None:
    secret, clock = FakeSecret(b"old"), Clock()
    check = origin(secret, clock)
    assert check.matches("old")
    secret.values = [b"new", b"old"]  # AWSCURRENT and AWSPREVIOUS
    clock.now += 11
    assert check.matches("new") and check.matches("old")
    secret.values = [b"new"]
    clock.now += 301
    assert check.matches("new") and not check.matches("old")


def test_an_unreadable_secret_fails_closed_then_keeps_the_last_values() -> None:
    secret, clock = FakeSecret(b"current"), Clock()
    secret.broken = True
    check = origin(secret, clock)
    with pytest.raises(OriginUnverifiable, match="unreachable"):
        check.matches("current")
    secret.broken = False
    assert check.matches("current")
    secret.broken = True
    clock.now += 301
    assert check.matches("current")  # an outage does not turn the edge away
    with pytest.raises(OriginUnverifiable, match="no value"):
        OriginSecret(FakeSecret(), clock=clock).matches("x")


def test_policy_with_an_origin_secret_trusts_the_header_only() -> None:
    policy = EdgePolicy(origin(FakeSecret(b"s3cret"), Clock()), parse_networks("127.0.0.1"))
    assert policy.judge({ORIGIN_HEADER: "s3cret"}, "203.0.113.9") is Verdict.TRUSTED
    # A trusted proxy does not stand in for the secret once one is configured.
    assert policy.judge({}, "127.0.0.1") is Verdict.FORBIDDEN
    assert policy.judge({ORIGIN_HEADER: "s3cret "}, None) is Verdict.FORBIDDEN


@pytest.mark.parametrize(
    ("source_ip", "verdict"),
    [
        ("127.0.0.1", Verdict.TRUSTED),
        ("::ffff:127.0.0.1", Verdict.TRUSTED),
        ("10.20.30.40", Verdict.TRUSTED),
        ("10.21.0.1", Verdict.UNTRUSTED),
        ("fd00::1", Verdict.TRUSTED),
        ("203.0.113.9", Verdict.UNTRUSTED),
        ("not an ip", Verdict.UNTRUSTED),
        (None, Verdict.UNTRUSTED),
    ],
)
def test_policy_without_a_secret_trusts_configured_proxies(
    source_ip: str | None, verdict: Verdict
) -> None:
    policy = EdgePolicy(None, parse_networks(" 127.0.0.1, 10.20.0.0/16,fd00::/8 ,"))
    assert policy.judge({}, source_ip) is verdict


def test_default_policy_trusts_nobody() -> None:
    assert EdgePolicy().judge({}, "127.0.0.1") is Verdict.UNTRUSTED
    with pytest.raises(ValueError, match=r"300\.1\.1\.1"):
        parse_networks("127.0.0.1, 300.1.1.1")
