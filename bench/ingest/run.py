"""Ingest throughput: the domain function in-process, and the local HTTP server end to end.

    nox -s bench -- [--seconds 5] [--clients 2] [--batch 100]

In-process: `ingest()` on a 100-event batch, repeated on one core. Two payload kinds: SDK events
(client event_id and event_time) and old-player events (no id or time: the server derives both).
HTTP: the real local server in its own process with the durable SQLite log (synchronous=FULL),
loaded by client processes over keep-alive connections; only 2xx-acknowledged events count.
On a 2-core machine the clients compete with the server for the same cores.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from qos_ingest.api import IngestConfig, IngestRequest, ingest, start_local_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: bench.common
from bench.common import machine, print_rate, rates, write_results

RESULTS = Path(__file__).parent / "results"
USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def make_events(n: int, *, legacy: bool) -> list[dict[str, Any]]:
    now = time.time_ns() // 1_000_000
    events = []
    for i in range(n):
        event: dict[str, Any] = {
            "metric_type": "PLAYBACK_SUMMARY",
            "session_id": uuid.uuid4().hex,
            "user_id": uuid.uuid4().hex,
            "client_platform": "web",
            "is_live": True,
            "channel_watched": f"channel-{i % 10}",
            "playing_time_ms": 59_000 + i,
            "buffering_time_ms": 1_000,
            "buffering_count": 1,
            "error_count": 0,
            "rendition_name": "720p",
            "rendition_height": 720,
            "live_latency_ms": 3_000,
        }
        if not legacy:
            event |= {"event_id": str(uuid.uuid4()), "event_time": now - 1_000}
        events.append(event)
    return events


def bench_domain(seconds: float, batch: int, *, legacy: bool) -> dict[str, float]:
    events = make_events(batch, legacy=legacy)
    body = orjson.dumps(
        {"Records": [{"Data": e} for e in events]} if legacy else {"events": events}
    )
    config = IngestConfig()
    headers = {"user-agent": USER_AGENT}
    ingest(IngestRequest(body, headers, time.time_ns() // 1_000_000), config)  # warm caches
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        result = ingest(IngestRequest(body, headers, time.time_ns() // 1_000_000), config)
        assert len(result.accepted) == batch
        done += batch
    elapsed = time.perf_counter() - start
    return rates(done, elapsed)


def _client(port: int, seconds: float, batch: int, queue: Any) -> None:
    """One player fleet on one keep-alive connection. Kept cheap (ids from a counter, the body
    rendered once per request by orjson) so that on 2 cores the server gets most of the CPU."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    events = make_events(batch, legacy=False)
    prefix = uuid.uuid4().hex[:12]
    acknowledged = requests = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for i, event in enumerate(events):  # fresh ids, or the log would only count duplicates
            event["event_id"] = f"{prefix}-{requests}-{i}"
        body = orjson.dumps({"events": events})
        conn.request("POST", "/v1/events", body=body, headers={"User-Agent": USER_AGENT})
        response = conn.getresponse()
        reply = orjson.loads(response.read())
        if response.status in (200, 207):
            acknowledged += reply["accepted"]
        requests += 1
    queue.put((acknowledged, requests))


def bench_http(seconds: float, batch: int, clients: int, synchronous: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        server, url = start_local_server(
            Path(tmp) / "events.sqlite", env={"QOS_INGEST_LOG_SYNCHRONOUS": synchronous}
        )
        try:
            port = int(url.rsplit(":", 1)[1])
            queue: Any = multiprocessing.Queue()
            workers = [
                multiprocessing.Process(target=_client, args=(port, seconds, batch, queue))
                for _ in range(clients)
            ]
            start = time.perf_counter()
            for worker in workers:
                worker.start()
            results = [queue.get(timeout=seconds + 60) for _ in workers]
            for worker in workers:
                worker.join()
            elapsed = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait(timeout=30)
    requests = sum(r[1] for r in results)
    figures = rates(sum(r[0] for r in results), elapsed)
    return {**figures, "requests": requests, "requests_per_s": requests / elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()

    figures: dict[str, Any] = {"machine": machine(), "batch": args.batch}
    print(f"ingest benchmark: batches of {args.batch}, {args.seconds:g} s per figure", flush=True)
    for label, legacy in (("domain_sdk_events", False), ("domain_old_player_events", True)):
        figures[label] = bench_domain(args.seconds, args.batch, legacy=legacy)
        print_rate(label, figures[label]["events_per_s"], "one core", width=28)
    for synchronous in ("FULL", "NORMAL"):
        label = f"http_{synchronous.lower()}"
        figures[label] = http = bench_http(args.seconds, args.batch, args.clients, synchronous)
        detail = f"{http['requests_per_s']:,.0f} requests/s, {args.clients} clients, "
        print_rate(label, http["events_per_s"], f"{detail}log synchronous={synchronous}", width=28)
    write_results(RESULTS, "ingest", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
