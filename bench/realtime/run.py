"""Realtime throughput and latency: the local window engine, the consumer, ingest -> metric store.

    nox -s bench -- [--seconds 10]   (all three)
    python bench/realtime/run.py --events 1000000 --latency-samples 20 [--only engine]

Records: stored-record JSON as the event log holds it, ~2,000 events/s of event time over 20,000
sessions and 40 channels, in batches of 50,000; 60 s windows, every catalogue metric. One core:
DuckDB runs with one thread (the engine sets `threads = 1`).
Engine: each batch handed over as the consumer does (one newline-joined text, as
`EventLog.read_joined` returns it): JSON load, window assignment, late checks, and every metric
computed when windows close.
Consumer: the same records in a real event log file, read by the consumer into a real metric
store (checkpoints, provisional rows), until every window is final.
Latency: the real ingest server and realtime engine as processes over one data directory; a
summary posted with a fresh channel name, timed until that channel's row is in the store.
Flink (`--only flink`, `nox -s bench_flink`): the same records as newline-delimited JSON through
the Flink job's own command (`qos_realtime.entrypoints.flink_job --events`, the SQL deployed to
MSF, deduplication and late rows included) on PyFlink's mini-cluster with parallelism 1, i.e. one
slot; the job's fixed cost (JVM, planning, a one-record run) is measured apart and subtracted, so
the figure is records per second per slot once running. The engine runs on the same records
beside it.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from qos_ingest.api import start_local_server
from qos_realtime.api import (
    CONSUMER,
    ConsumerTiming,
    MetricReader,
    MetricStore,
    RealtimeConsumer,
    WindowConfig,
    WindowEngine,
    spill_dir_default,
)
from qos_shared.eventlog import EventLog, LogRecord

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: bench.common
from bench.common import Progress, machine, per_cpu_second, print_rate, rates, write_results

RESULTS = Path(__file__).parent / "results"


def records(n: int, *, rate_per_s: int = 2_000, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    start = 1_795_000_020_000
    out = []
    kinds = ["PLAYBACK_SUMMARY"] * 8 + ["PLAY", "ATTEMPT", "QUALITY_CHANGED", "STOP", "ERROR"]
    for i in range(n):
        kind = rng.choice(kinds)
        record: dict[str, Any] = {
            "metric_type": kind,
            "session_id": f"s{rng.randrange(20_000)}",
            "event_id": f"e{i}",
            "user_id": "u",
            "client_platform": rng.choice(["web", "ios", "android"]),
            "channel_watched": f"ch{rng.randrange(40)}",
            "is_live": True,
            "event_time": start + i * 1000 // rate_per_s,
            "schema_version": "1",
            "received_at": start,
            "source_format": "v1",
            "event_time_source": "client",
        }
        if kind == "PLAYBACK_SUMMARY":
            buffering = rng.choice([0, 0, 0, rng.randrange(100, 3000)])
            record |= {
                "playing_time_ms": 60_000 - buffering,
                "buffering_time_ms": buffering,
                "buffering_count": int(buffering > 0),
                "error_count": 0,
                "rendition_name": rng.choice(["1080p", "720p"]),
                "bitrate_bps": 3_000_000,
                "live_latency_ms": rng.randrange(1500, 8000),
            }
        elif kind == "PLAY":
            record["startup_latency_ms"] = rng.randrange(300, 5000)
        elif kind == "QUALITY_CHANGED":
            record |= {"to_rendition_name": "720p", "step_direction": rng.choice(["UP", "DOWN"])}
        elif kind == "STOP":
            record["exit_before_start"] = rng.random() < 0.05
        elif kind == "ERROR":
            record |= {
                "error_code": "E",
                "fatal": rng.random() < 0.5,
                "phase": rng.choice(["startup", "playback"]),
            }
        # A copy: orjson's own buffer keeps a few KB each, gigabytes for a million records.
        out.append(bytes(memoryview(orjson.dumps(record))))
    return out


def bench_engine(n: int, batch: int) -> dict[str, float]:
    """The engine alone: each batch as the consumer hands it over (the batch's stored records as
    one newline-joined text, as `EventLog.read_joined` returns it), through load, window
    assignment, late checks, the views (each batch merged into the open views, the closed ones
    into their windows) and the SQL of every window as it closes."""
    data = records(n)
    batches = [b"\n".join(data[offset : offset + batch]) for offset in range(0, n, batch)]
    del data
    engine = WindowEngine(
        WindowConfig(window_s=60, allowed_lateness_s=5), spill_dir=spill_dir_default()
    )
    closed = rows = 0
    start = time.perf_counter()
    cpu = time.process_time()
    views = 0
    progress = Progress("the engine", n)
    for i, text in enumerate(batches):
        progress(i * batch)
        engine.add_joined(text, i * batch + 1)
        watermark = engine.watermark()
        views += engine.close_views(watermark)  # views first, as the consumer does
        due = engine.due_windows(watermark)
        if due:
            rows += len(engine.rows(due, final=True))
            engine.close(due)
            closed += len(due)
        engine.seal(watermark)  # as the consumer does: closed windows' records kept for revisions
    views += engine.close_views(None, end_of_input=True)
    rest = engine.open_windows()
    rows += len(engine.rows(rest, final=True))
    engine.close(rest)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    progress.done(n)
    return {**rates(n, elapsed, cpu), "windows": closed + len(rest), "rows": rows, "views": views}


def bench_consumer(n: int, batch: int) -> dict[str, float]:
    """The consumer as the local engine process runs it: the records in a real event log file,
    read in batches, through the engine, final and provisional rows into a real metric store,
    checkpoints committed; timed from the first poll until every window is in the store."""
    data = records(n)
    with tempfile.TemporaryDirectory() as tmp:
        log = EventLog(Path(tmp) / "events.sqlite", synchronous="NORMAL")
        for offset in range(0, n, 10_000):
            log.append(
                [LogRecord(f"e{i}", "pk", data[i]) for i in range(offset, min(n, offset + 10_000))]
            )
        del data
        store = MetricStore(Path(tmp) / "metrics.sqlite")
        now = [time.time()]
        consumer = RealtimeConsumer(
            log,
            store,
            WindowConfig(window_s=60, allowed_lateness_s=5),
            ConsumerTiming(batch_size=batch),
            clock=lambda: now[0],
            spill_dir=spill_dir_default(),
        )
        progress = Progress("the consumer", n)
        start = time.perf_counter()
        cpu = time.process_time()
        while consumer.poll() == batch:
            now[0] = time.time()
            progress(consumer.position)
        now[0] += 3600  # idle: the wall clock closes the last windows
        consumer.poll()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        progress.done(consumer.position)
        assert not consumer.engine.open_windows() and log.checkpoint(CONSUMER) == n
        windows = len(store.windows(final_only=True))
        store.close()
        log.close()
    return {**rates(n, elapsed, cpu), "windows": windows}


def _start(argv: list[str], marker: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **env}
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if marker not in line:
        process.kill()
        raise RuntimeError(f"{argv[2]} did not start: {line}")
    return process, line


def bench_latency(samples: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        ingest, url = start_local_server(data / "events.sqlite", stderr=subprocess.STDOUT)
        port = int(url.rsplit(":", 1)[1])
        realtime, _ = _start(
            [
                sys.executable,
                "-m",
                "qos_realtime.entrypoints.local_engine",
                "--log-path",
                str(data / "events.sqlite"),
                "--store-path",
                str(data / "metrics.sqlite"),
            ],
            "qos-realtime consuming",
            # every sample is a new channel: keep them all by name, none folded into "other"
            {"QOS_REALTIME_TOP_N_CHANNELS": "1000"},
        )
        latencies = []
        try:
            store = MetricReader(data / "metrics.sqlite")
            for _ in range(samples):
                channel = uuid.uuid4().hex[:12]
                event = {
                    "metric_type": "PLAYBACK_SUMMARY",
                    "session_id": uuid.uuid4().hex,
                    "client_platform": "web",
                    "is_live": True,
                    "channel_watched": channel,
                    "playing_time_ms": 60_000,
                    "buffering_time_ms": 0,
                    "buffering_count": 0,
                    "event_id": str(uuid.uuid4()),
                }
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                sent = time.perf_counter()
                conn.request("POST", "/v1/events", body=orjson.dumps({"events": [event]}))
                assert conn.getresponse().status == 200
                conn.close()
                while not store.series(
                    "watch_time", dimension="channel_watched", dimension_value=channel
                ):
                    if time.perf_counter() - sent > 30:
                        raise RuntimeError("no row after 30 s")
                    time.sleep(0.01)
                latencies.append(time.perf_counter() - sent)
                time.sleep(0.3)
            store.close()
        finally:
            for process in (realtime, ingest):
                process.terminate()
                process.wait(timeout=30)
    latencies.sort()
    return {
        "samples": samples,
        "p50_s": statistics.median(latencies),
        "p95_s": latencies[max(0, round(0.95 * len(latencies)) - 1)],
        "max_s": latencies[-1],
    }


def _flink_run(events: Path, out: Path) -> float:
    """Seconds of one run of the Flink job's command over a file of records (parallelism 1)."""
    argv = [sys.executable, "-m", "qos_realtime.entrypoints.flink_job", "--events", str(events)]
    argv += ["--out", str(out), "--parallelism", "1"]
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def bench_flink(n: int) -> dict[str, float]:
    """Records per second per slot of the Flink job on the mini-cluster, the fixed cost of a run
    (a one-record run, the best of two) subtracted."""
    data = records(n)
    with tempfile.TemporaryDirectory(prefix="qos-bench-flink-") as tmp:
        folder = Path(tmp)
        (folder / "one.jsonl").write_bytes(data[0] + b"\n")
        (folder / "all.jsonl").write_bytes(b"\n".join(data) + b"\n")
        fixed = min(_flink_run(folder / "one.jsonl", folder / f"out-one-{i}") for i in range(2))
        total = _flink_run(folder / "all.jsonl", folder / "out-all")
        rows = sum(
            part.read_bytes().count(b"\n")
            for part in (folder / "out-all").rglob("*")
            if part.is_file()
        )
    running = max(total - fixed, 1e-9)
    return {
        "events": n,
        "total_s": total,
        "fixed_s": fixed,
        "events_per_s_per_slot": n / running,
        "rows": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--latency-samples", type=int, default=20)
    parser.add_argument(
        "--only",
        choices=["engine", "consumer", "latency", "flink"],
        help="run just this benchmark (flink: only with --only, needs apache-flink and Java 17)",
    )
    parser.add_argument("--seconds", type=float, help="ignored (shared with the ingest bench)")
    args = parser.parse_args()
    figures: dict[str, Any] = {"machine": machine()}
    print(
        f"realtime benchmark: {args.events:,} events through the engine, batches of {args.batch:,}",
        flush=True,
    )
    if args.only in (None, "engine"):
        figures["engine"] = e = bench_engine(args.events, args.batch)
        detail = f"DuckDB threads=1; {e['windows']} windows, {e['rows']:,} rows"
        print_rate("engine", e["events_per_s"], f"{per_cpu_second(e)}; {detail}", width=9)
    if args.only in (None, "consumer"):
        figures["consumer"] = c = bench_consumer(args.events, args.batch)
        detail = f"event log -> engine -> metric store, {c['windows']} windows"
        print_rate("consumer", c["events_per_s"], f"{per_cpu_second(c)}; {detail}", width=9)
    if args.only == "flink":
        figures["engine"] = e = bench_engine(args.events, args.batch)
        print_rate("engine", e["events_per_s"], f"{per_cpu_second(e)}; the same records", width=9)
        figures["flink"] = f = bench_flink(args.events)
        print_rate(
            "flink",
            f["events_per_s_per_slot"],
            f"per slot (parallelism 1); run {f['total_s']:.1f} s less {f['fixed_s']:.1f} s fixed"
            f" cost; {f['rows']:,} rows",
            width=9,
        )
    if args.only in (None, "latency"):
        figures["latency"] = lat = bench_latency(args.latency_samples)
        print(
            f"  ingest -> metric store  p50 {lat['p50_s']:.2f} s, p95 {lat['p95_s']:.2f} s, "
            f"max {lat['max_s']:.2f} s ({lat['samples']} samples)",
            flush=True,
        )
    write_results(RESULTS, "realtime", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
