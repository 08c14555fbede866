"""Bounded replies and the Host allowlist of the dashboard's API.

The data: one session of 50,000 events (most in the lake, the newest in the event log's tail)
and 1,200 channels with long names, written by the real lake writer and realtime consumer.
Expected pages and rankings are computed here from the records, not from the code.
"""

from __future__ import annotations

import http.client
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import pytest

from qos_infra.dashboard import params as p
from qos_infra.dashboard.sample import generate, seed
from qos_infra.dashboard.server import DashboardHTTPServer, HostAllowlist, host_name, serving
from qos_shared.testing.oracle import ORACLE, Record

LONG_SESSION_EVENTS = 50_000
CHANNELS = 1_200


def _long_data(now_ms: int) -> tuple[str, list[Record]]:
    template = next(
        r
        for r in generate(now_ms, sessions=3, span_s=120)
        if r["metric_type"] == "PLAYBACK_SUMMARY"
    )
    session_id = "long-session-0001"
    start = now_ms - 3_600_000
    records: list[Record] = []
    for i in range(LONG_SESSION_EVENTS):
        # Event times repeat (every 7th shares one) so that the order's tie-break shows.
        t = start + (i - i % 7) * 50
        records.append(
            {
                **template,
                "session_id": session_id,
                "event_id": f"long-{i:06d}",
                "event_time": t,
                "received_at": t + 500,
                "playing_time_ms": 1_000,
            }
        )
    for c in range(CHANNELS):
        t = start + c * 1_000
        records.append(
            {
                **template,
                "session_id": f"channel-session-{c:05d}",
                "event_id": f"channel-{c:05d}",
                "channel_watched": f"a-rather-long-channel-name-for-the-chart-number-{c:05d}",
                "event_time": t,
                "received_at": t + 500,
                "playing_time_ms": 1_000 + 37 * ((c * 7919) % CHANNELS),
            }
        )
    records.sort(key=lambda r: r["event_time"])
    return session_id, records


@pytest.fixture(scope="module")
def long_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[Record]]:
    data_dir = tmp_path_factory.mktemp("dashboard-long")
    session_id, records = _long_data(int(time.time() * 1000))
    seed(data_dir, records, window_s=60, allowed_lateness_s=5.0, lake_share=0.9)
    return data_dir, session_id, records


@pytest.fixture(scope="module")
def server(long_data: tuple[Path, str, list[Record]]) -> Iterator[DashboardHTTPServer]:
    with serving(long_data[0], allowed_hosts=["dash.example.org"]) as running:
        yield running


def request(
    server: DashboardHTTPServer,
    path: str,
    params: dict[str, Any] | None = None,
    host: str | None = "default",
) -> tuple[int, Any, int]:
    """(status, JSON body, body bytes); `host` the Host header (None: none at all)."""
    address, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(address), int(port), timeout=60)
    try:
        conn.putrequest("GET", path + (f"?{urlencode(params)}" if params else ""), skip_host=True)
        if host is not None:
            conn.putheader("Host", f"127.0.0.1:{port}" if host == "default" else host)
        conn.endheaders()
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    return response.status, orjson.loads(raw), len(raw)


def expected_timeline(records: list[Record], session_id: str) -> list[str]:
    mine = [r for r in records if r["session_id"] == session_id]
    return [r["event_id"] for r in sorted(mine, key=lambda r: (r["event_time"], r["event_id"]))]


# -- paged timelines ---------------------------------------------------------------------------


def test_a_50000_event_session_is_a_bounded_page(
    server: DashboardHTTPServer, long_data: tuple[Path, str, list[Record]]
) -> None:
    _, session_id, records = long_data
    want = expected_timeline(records, session_id)
    assert len(want) == LONG_SESSION_EVENTS
    status, body, size = request(server, f"/api/sessions/{quote(session_id)}")
    assert status == 200, body
    assert body["count"] == len(body["events"]) == p.DEFAULT_LIMIT
    assert body["total"] == LONG_SESSION_EVENTS and body["truncated"] is True
    assert body["offset"] == 0 and body["next_offset"] == p.DEFAULT_LIMIT
    assert [e["event_id"] for e in body["events"]] == want[: p.DEFAULT_LIMIT]
    assert size < 100_000, size
    status, body, size = request(server, f"/api/sessions/{quote(session_id)}", {"limit": 1000})
    assert status == 200 and len(body["events"]) == p.MAX_LIMIT
    assert size < 2_000_000, size  # the whole session was about 34 MB in one reply


def test_walking_the_pages_gives_every_event_once_in_order(
    server: DashboardHTTPServer, long_data: tuple[Path, str, list[Record]]
) -> None:
    _, session_id, records = long_data
    want = expected_timeline(records, session_id)
    got: list[str] = []
    sources: set[str] = set()
    at: int | None = 0
    pages = 0
    while at is not None:
        status, body, _ = request(
            server, f"/api/sessions/{quote(session_id)}", {"limit": 1000, "offset": at}
        )
        assert status == 200, body
        assert body["offset"] == at and body["total"] == len(want)
        got += [e["event_id"] for e in body["events"]]
        sources |= {e["source"] for e in body["events"]}
        at = body["next_offset"]
        pages += 1
    assert got == want
    assert pages == -(-len(want) // 1000)
    assert sources == {"lake", "log"}
    # A page past the end: no event, the total, and no next page.
    status, body, _ = request(
        server, f"/api/sessions/{quote(session_id)}", {"offset": len(want) + 10}
    )
    assert status == 200 and body["events"] == [] and body["total"] == len(want)
    assert body["next_offset"] is None and body["truncated"] is False


# -- top-N lake rows ---------------------------------------------------------------------------


def channel_ranking(records: list[Record]) -> list[str]:
    """The lake's records' channels, most viewer minutes first (the oracle's watch time)."""
    in_lake = records[: int(len(records) * 0.9)]
    by_channel: dict[str, list[Record]] = defaultdict(list)
    for r in in_lake:
        by_channel[r["channel_watched"]].append(r)
    totals = {c: ORACLE["watch_time"](rs) or 0.0 for c, rs in by_channel.items()}
    sessions = {c: ORACLE["concurrency"](rs) or 0 for c, rs in by_channel.items()}
    return sorted(totals, key=lambda c: (-totals[c], -sessions[c], c))


def test_lake_top_n_is_bounded(
    server: DashboardHTTPServer, long_data: tuple[Path, str, list[Record]]
) -> None:
    records = long_data[2]
    ranking = channel_ranking(records)
    assert len(ranking) > p.MAX_LIMIT
    status, body, _ = request(server, "/api/lake/popular-channels")
    assert status == 200, body
    assert len(body["rows"]) == p.DEFAULT_LIMIT and body["limit"] == p.DEFAULT_LIMIT
    assert body["total"] == len(ranking) and body["truncated"] is True
    assert [r["channel_watched"] for r in body["rows"]] == ranking[: p.DEFAULT_LIMIT]
    status, body, _ = request(server, "/api/lake/popular-channels", {"limit": p.MAX_LIMIT})
    assert status == 200 and len(body["rows"]) == p.MAX_LIMIT
    assert body["next_offset"] == p.MAX_LIMIT
    status, body, _ = request(
        server, "/api/lake/popular-channels", {"limit": 500, "offset": p.MAX_LIMIT}
    )
    assert [r["channel_watched"] for r in body["rows"]] == ranking[p.MAX_LIMIT :]
    assert body["next_offset"] is None and body["truncated"] is False


@pytest.mark.parametrize(
    "path",
    [
        "/api/lake/popular-channels",
        "/api/sessions",
        "/api/views",
        "/api/sessions/long-session-0001",
    ],
)
@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("0", "limit=0 is out of range: from 1 to 1000"),
        ("1001", "limit=1001 is out of range: from 1 to 1000"),
        ("many", "limit='many' is not a whole number from 1 to 1000"),
        ("2.5", "is not a whole number"),
    ],
)
def test_every_listing_route_refuses_a_bad_limit(
    server: DashboardHTTPServer, path: str, limit: str, message: str
) -> None:
    status, body, _ = request(server, path, {"limit": limit})
    assert status == 400, body
    assert message in body["error"], body


@pytest.mark.parametrize("path", ["/api/lake/kpis", "/api/sessions/long-session-0001"])
def test_a_bad_offset_is_a_400(server: DashboardHTTPServer, path: str) -> None:
    for value in ("-1", "x", "1000000000"):
        status, body, _ = request(server, path, {"offset": value})
        assert status == 400 and "offset=" in body["error"], body


# -- the Host allowlist (DNS rebinding) --------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST:8800", "127.0.0.1", "[::1]:8800", "10.1.2.3", "dash.example.org"],
)
def test_loopback_names_ip_addresses_and_added_names_are_served(
    server: DashboardHTTPServer, host: str
) -> None:
    status, body, _ = request(server, "/api/metrics", host=host)
    assert status == 200, body


@pytest.mark.parametrize(
    "host", ["evil.example.com", "evil.example.com:8800", "localhost.evil.com", "a b", None]
)
@pytest.mark.parametrize("path", ["/api/sessions/long-session-0001", "/", "/api/health"])
def test_other_hosts_are_refused_with_a_reason(
    server: DashboardHTTPServer, host: str | None, path: str
) -> None:
    status, body, _ = request(server, path, host=host)
    assert status == 403
    assert "is not one this dashboard answers to" in body["error"]
    assert "--allow-host" in body["error"] and "events" not in body


def test_host_names_parse() -> None:
    assert host_name("Example.ORG:80") == "example.org"
    assert host_name("[::1]:8800") == "::1"
    assert host_name("localhost.") == "localhost"
    assert host_name("[::1") is None and host_name("a:b") is None and host_name("") is None
    allow = HostAllowlist("0.0.0.0", ["lan-box"])
    assert allow.allows("lan-box:8800") and allow.allows("192.168.1.20:8800")
    assert not allow.allows("0.0.0.0.evil.com") and not allow.allows(None)
    bound = HostAllowlist("my-laptop.local")
    assert bound.allows("my-laptop.local:8800") and not bound.allows("other.local")
