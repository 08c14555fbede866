"""Growth curves: time and peak memory of the window engine, the lake and the search indexer's
document build as sessions per window, channels and days grow.

    nox -s bench_growth                      (every axis, the default steps; about 10 minutes)
    python bench/growth/run.py --axis sessions --max-sessions 300000
    python bench/growth/run.py --plot-only bench/growth/results/growth-<time>.json

Each step runs in a process of its own, so its peak resident memory (`ru_maxrss`) is the step's
alone; the time is the component's wall time, with its CPU time beside it (the machine is
shared: a wall time well above the CPU time means another job took the core). The plot shows
CPU time and peak memory.

Records: stored records as the event log holds them (the realtime benchmark's shape): each
session sends one PLAYBACK_SUMMARY a window and, one time in five, one more event (PLAY,
ATTEMPT, QUALITY_CHANGED, STOP or ERROR), over 4 platforms and the step's channels.

- sessions (10k -> 1M per 60 s window, 40 channels, two windows): the window engine (every
  catalogue metric, views, one core), the lake writer (`write_log`) and every named query over
  events on the day, and the indexer's document build (`StreamIndexer.index` in batches of
  1,000, the Lambda's, into a cluster stand-in that serialises the `_bulk` body as the real
  adapter does and answers "indexed": the node's own work is not in it).
- channels (10 -> 10,000, 100k sessions per window): the engine and the lake's queries.
- days (1 -> 30, 100k events a day): the lake writer and the queries over the whole range.

Steps are kept to what a 2-core machine shared with other jobs runs in minutes: the days axis
holds 100k events a day (a 70-viewer audience, not a big event's), so its curve is the shape of
growth with days, not a day's absolute cost.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: bench.common
from bench.common import machine, write_results

RESULTS = Path(__file__).parent / "results"
PLOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "growth.png"
DAY = date(2026, 11, 2)
WINDOW_MS = 60_000
BATCH = 50_000
SESSION_STEPS = (10_000, 30_000, 100_000, 300_000, 1_000_000)
CHANNEL_STEPS = (10, 100, 1_000, 10_000)
DAY_STEPS = (1, 3, 10, 30)
EVENTS_PER_DAY = 100_000
KINDS = ("PLAY", "ATTEMPT", "QUALITY_CHANGED", "STOP", "ERROR")
PLATFORMS = ("web", "ios", "android", "roku")


def _day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _record(rng: random.Random, i: int, session: int, channel: int, t: int, kind: str) -> bytes:
    record: dict[str, Any] = {
        "metric_type": kind,
        "session_id": f"s{session}",
        "event_id": f"e{i}",
        "user_id": f"u{session}",
        "client_platform": PLATFORMS[session % len(PLATFORMS)],
        "channel_watched": f"ch{channel}",
        "is_live": True,
        "event_time": t,
        "schema_version": "1",
        "received_at": t,
        "source_format": "v1",
        "event_time_source": "client",
    }
    if kind == "PLAYBACK_SUMMARY":
        buffering = rng.choice((0, 0, 0, rng.randrange(100, 3000)))
        record |= {
            "playing_time_ms": 60_000 - buffering,
            "buffering_time_ms": buffering,
            "buffering_count": int(buffering > 0),
            "error_count": 0,
            "rendition_name": rng.choice(("1080p", "720p", "480p")),
            "bitrate_bps": 3_000_000,
            "live_latency_ms": rng.randrange(1500, 8000),
        }
    elif kind == "PLAY":
        record["startup_latency_ms"] = rng.randrange(300, 5000)
    elif kind == "QUALITY_CHANGED":
        record |= {"to_rendition_name": "720p", "step_direction": rng.choice(("UP", "DOWN"))}
    elif kind == "STOP":
        record["exit_before_start"] = rng.random() < 0.05
    elif kind == "ERROR":
        record |= {"error_code": "E", "fatal": False, "phase": "playback"}
    return bytes(memoryview(orjson.dumps(record)))


def window_records(sessions: int, channels: int, windows: int, seed: int) -> Iterator[list[bytes]]:
    """Batches of records, in event-time order: every session once a window, plus extras."""
    rng = random.Random(seed)
    start = _day_ms(DAY) + 12 * 3_600_000
    i = 0
    batch: list[bytes] = []
    for w in range(windows):
        base = start + w * WINDOW_MS
        for s in range(sessions):
            t = base + s * WINDOW_MS // sessions
            batch.append(_record(rng, i, s, s % channels, t, "PLAYBACK_SUMMARY"))
            i += 1
            if rng.random() < 0.2:
                batch.append(_record(rng, i, s, s % channels, t, rng.choice(KINDS)))
                i += 1
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def day_records(days: int, seed: int) -> Iterator[list[bytes]]:
    """EVENTS_PER_DAY records a day over `days` days, 40 channels, 2,000 sessions a day."""
    rng = random.Random(seed)
    i = 0
    batch: list[bytes] = []
    for d in range(days):
        start = _day_ms(DAY + timedelta(days=d))
        for k in range(EVENTS_PER_DAY):
            session = d * 2_000 + k % 2_000
            kind = "PLAYBACK_SUMMARY" if rng.random() < 0.8 else rng.choice(KINDS)
            t = start + k * 86_400_000 // EVENTS_PER_DAY
            batch.append(_record(rng, i, session, session % 40, t, kind))
            i += 1
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


# -- the components, each in the child process ---------------------------------------------------


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def run_engine(batches: Iterator[list[bytes]]) -> dict[str, Any]:
    from qos_realtime.api import WindowConfig, WindowEngine, spill_dir_default

    joined = [b"\n".join(b) for b in batches]
    events = sum(text.count(b"\n") + 1 for text in joined)
    engine = WindowEngine(
        WindowConfig(window_s=60, allowed_lateness_s=5), spill_dir=spill_dir_default()
    )
    rows = 0
    t0, c0 = _clock()
    position = 1
    for text in joined:
        engine.add_joined(text, position)
        position += text.count(b"\n") + 1
        watermark = engine.watermark()
        engine.close_views(watermark)
        due = engine.due_windows(watermark)
        if due:
            rows += len(engine.rows(due, final=True))
            engine.close(due)
        engine.seal(watermark)
    engine.close_views(None, end_of_input=True)
    rest = engine.open_windows()
    rows += len(engine.rows(rest, final=True))
    engine.close(rest)
    t1, c1 = _clock()
    return {"events": events, "seconds": t1 - t0, "cpu_seconds": c1 - c0, "rows": rows}


def run_lake(batches: Iterator[list[bytes]], days: int, work: Path) -> dict[str, Any]:
    from qos_lake.api import QUERIES, QueryParams, run_query, write_log
    from qos_shared.eventlog import EventLog, LogRecord

    events = 0
    with EventLog(work / "events.sqlite", synchronous="NORMAL") as log:
        for batch in batches:
            log.append([LogRecord(f"e{events + k}", "p", data) for k, data in enumerate(batch)])
            events += len(batch)
        t0, c0 = _clock()
        write_log(log, work / "lake")
        t1, c1 = _clock()
    params = QueryParams(DAY, DAY + timedelta(days=days - 1))
    times: dict[str, float] = {}
    q0, qc0 = _clock()
    for name, query in sorted(QUERIES.items()):
        if "events" not in query.tables:
            continue
        s0 = time.perf_counter()
        run_query(work / "lake", query, params)
        times[name] = time.perf_counter() - s0
    q1, qc1 = _clock()
    parquet = sum(p.stat().st_size for p in (work / "lake").rglob("*.parquet"))
    return {
        "events": events,
        "write_seconds": t1 - t0,
        "write_cpu_seconds": c1 - c0,
        "queries_seconds": q1 - q0,
        "queries_cpu_seconds": qc1 - qc0,
        "slowest_query": max(times, key=lambda n: times[n]),
        "slowest_query_seconds": max(times.values()),
        "parquet_bytes": parquet,
    }


class _BulkBodies:
    """A cluster stand-in: serialises each `_bulk` body as the real adapter does, answers
    "indexed" for every document."""

    def __init__(self) -> None:
        self.bytes = 0

    def send_bulk(self, docs: list[Any], *, refresh: bool) -> Any:
        from types import SimpleNamespace

        from qos_search_indexer.api import bulk_body

        self.bytes += len(bulk_body(docs))
        return SimpleNamespace(retry=[], parked=[], indexed=len(docs))


class _NoDeadLetters:
    def park(self, letters: Any) -> int:
        raise AssertionError("no record of the benchmark is a dead letter")


def run_search(batches: Iterator[list[bytes]]) -> dict[str, Any]:
    from qos_search_indexer.api import StreamIndexer
    from qos_shared.eventlog import LogEntry

    records = [data for batch in batches for data in batch]
    entries = [LogEntry(i + 1, f"e{i}", "p", data, 0) for i, data in enumerate(records)]
    del records
    cluster = _BulkBodies()
    indexer = StreamIndexer(cast(Any, cluster), cast(Any, _NoDeadLetters()))
    t0, c0 = _clock()
    indexed = 0
    for lo in range(0, len(entries), 1000):
        result = indexer.index(entries[lo : lo + 1000])
        indexed += result.indexed
    t1, c1 = _clock()
    return {
        "events": len(entries),
        "indexed": indexed,
        "seconds": t1 - t0,
        "cpu_seconds": c1 - c0,
        "bulk_bytes": cluster.bytes,
    }


def step(kind: str, sessions: int, channels: int, days: int, seed: int) -> dict[str, Any]:
    """One step, in this process: the figures and the process's peak resident memory."""
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory(prefix="qos-growth-") as work:
        if kind == "engine":
            figures = run_engine(window_records(sessions, channels, 2, seed))
        elif kind == "lake":
            figures = run_lake(window_records(sessions, channels, 2, seed), 1, Path(work))
        elif kind == "lake-days":
            figures = run_lake(day_records(days, seed), days, Path(work))
        elif kind == "search":
            figures = run_search(window_records(sessions, channels, 1, seed))
        else:
            raise ValueError(f"unknown step {kind!r}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {**figures, "baseline_rss_mib": baseline, "peak_rss_mib": peak}


# -- the parent: steps, progress, results, plot --------------------------------------------------


def _child(kind: str, sessions: int, channels: int, days: int, seed: int) -> dict[str, Any]:
    argv = [
        sys.executable,
        __file__,
        "--step",
        kind,
        "--sessions",
        str(sessions),
        "--channels",
        str(channels),
        "--days",
        str(days),
        "--seed",
        str(seed),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"step {kind} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _plan(args: argparse.Namespace) -> list[tuple[str, str, int, int, int]]:
    """(axis, component, sessions, channels, days) for every step asked for."""
    plan: list[tuple[str, str, int, int, int]] = []
    axes = ("sessions", "channels", "days") if args.axis == "all" else (args.axis,)
    if "sessions" in axes:
        for n in (s for s in SESSION_STEPS if s <= args.max_sessions):
            for component in ("engine", "lake", "search"):
                plan.append(("sessions", component, n, 40, 1))
    if "channels" in axes:
        for c in CHANNEL_STEPS:
            for component in ("engine", "lake"):
                plan.append(("channels", component, 100_000, c, 1))
    if "days" in axes:
        for d in (x for x in DAY_STEPS if x <= args.max_days):
            plan.append(("days", "lake-days", 0, 40, d))
    return plan


def _line(axis: str, component: str, n: int, c: int, d: int, r: dict[str, Any]) -> str:
    size = {
        "sessions": f"{n:>9,} sessions",
        "channels": f"{c:>6,} channels",
        "days": f"{d:>3} days",
    }
    if component in ("lake", "lake-days"):
        timing = (
            f"write {r['write_seconds']:6.2f} s, queries {r['queries_seconds']:6.2f} s"
            f" (slowest {r['slowest_query']} {r['slowest_query_seconds']:.2f} s)"
        )
    else:
        timing = f"{r['seconds']:6.2f} s ({r['events'] / r['seconds']:,.0f} events/s)"
    return (
        f"  {axis:<8} {size[axis]:<18} {component:<9} {r['events']:>10,} events  {timing}"
        f"  peak {r['peak_rss_mib']:,.0f} MiB"
    )


def plot(figures: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = figures["steps"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8), constrained_layout=True)
    layout = (
        ("sessions", "sessions per 60 s window", "sessions"),
        ("channels", "channels (100k sessions per window)", "channels"),
        ("days", "days of lake (100k events a day)", "days"),
    )
    for col, (axis, label, key) in enumerate(layout):
        mine = [s for s in steps if s["axis"] == axis]
        for component in sorted({s["component"] for s in mine}):
            pts = [s for s in mine if s["component"] == component]
            xs = [s[key] for s in pts]
            series: tuple[tuple[str, str], ...]
            if component.startswith("lake"):
                series = (("write", "write_cpu_seconds"), ("queries", "queries_cpu_seconds"))
            else:
                series = ((component, "cpu_seconds"),)
            for name, field in series:
                name = name if not component.startswith("lake") else f"lake {name}"
                axes[0][col].plot(xs, [s["result"][field] for s in pts], marker="o", label=name)
            axes[1][col].plot(
                xs, [s["result"]["peak_rss_mib"] for s in pts], marker="o", label=component
            )
        # CPU seconds: on a shared machine the wall time also measures the other jobs.
        for row, ylabel in ((0, "CPU seconds"), (1, "peak resident memory, MiB")):
            ax = axes[row][col]
            ax.set_xscale("log")
            ax.set_yscale("log" if row == 0 else "linear")
            ax.set_xlabel(label)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle(f"Growth on one machine ({figures['machine']['cpus']} CPUs), {figures['date']}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--axis", choices=("all", "sessions", "channels", "days"), default="all")
    parser.add_argument("--max-sessions", type=int, default=SESSION_STEPS[-1])
    parser.add_argument("--max-days", type=int, default=DAY_STEPS[-1])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plot", type=Path, default=PLOT, help="the PNG (default docs/images)")
    parser.add_argument("--plot-only", type=Path, help="plot a results JSON, run nothing")
    # One step in this process (the parent starts these).
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--sessions", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--channels", type=int, default=40, help=argparse.SUPPRESS)
    parser.add_argument("--days", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.sessions, args.channels, args.days, args.seed)))
        return 0
    if args.plot_only:
        plot(json.loads(args.plot_only.read_text()), args.plot)
        print(f"plot: {args.plot}")
        return 0
    plan = _plan(args)
    figures: dict[str, Any] = {
        "machine": machine(),
        "date": datetime.now(UTC).date().isoformat(),
        "load_before": os.getloadavg(),
        "steps": [],
    }
    print(f"growth: {len(plan)} steps, one process each", flush=True)
    for k, (axis, component, n, c, d) in enumerate(plan, 1):
        print(f"  [{k}/{len(plan)}] {axis} {component} ...", end="\r", flush=True)
        result = _child(component, n, c, d, args.seed)
        figures["steps"].append(
            {
                "axis": axis,
                "component": component,
                "sessions": n,
                "channels": c,
                "days": d,
                "result": result,
            }
        )
        print(_line(axis, component, n, c, d, result), flush=True)
    figures["load_after"] = os.getloadavg()
    path = write_results(RESULTS, "growth", figures)
    print(f"results: {path}")
    plot(figures, args.plot)
    print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
