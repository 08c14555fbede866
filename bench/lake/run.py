"""Lake write rate, named-query times and bytes read, over one day of a ~7,000-viewer channel set.

    python bench/lake/run.py                       (10,000,000 events: the acceptance run)
    python bench/lake/run.py --events 1000000      (a quick run)

Data: N stored records (event fields and ingest's enrichment, as the event log holds them) for one
UTC day, generated (pure Python, seeded) from simulated sessions by the project's one session
generator (`qos_shared.testing.sessions.traffic_day`): a diurnal arrival curve,
log-normal session lengths (median ~20 min), ATTEMPT (none from legacy players), PLAY, a
PLAYBACK_SUMMARY every 60 s and a final one, QUALITY_CHANGED, recoverable and fatal ERRORs, exits
before start, STOP; 4 platforms, 8 channels, 12 countries, browsers/OS/devices. The day is first
indexed as one sorted int per record (time, kind, session, sequence), then built in chunks: each
session's common fields are serialised once, each record's JSON is that fragment plus its own
fields, so no more than a chunk of records exists at a time. Summaries dominate (one per
viewer-minute), so N records are about N / 1,440 viewers on average: ~7,000 for 10 M. Sessions are
added until the day holds N records; the excess is trimmed to exactly N by dropping random
non-final summaries. Generation is timed apart and is not in any figure.

The machine is shared: each figure comes with the process CPU time it took (all threads), and the
load average is recorded before and after, so a figure slowed by another job shows as wall time
well above CPU time (or a high load).

Write, two figures (neither includes generation):
- core: the real `LakeWriter` (default `WriterConfig`: flush every 200,000 records, zstd, fsync,
  commit markers) fed batches of `read_batch` records as `EventLog.read_joined` returns them
  (its `add`, then `flush` when due, exactly as `poll` does), i.e. JSON parsing, Arrow
  conversion, hour partitioning, the Parquet files and the commit protocol, without the SQLite
  log read. The clock runs from each `add` to its return (and through each flush): the writer
  leaves no work running in its threads when it returns, so none of it escapes into the untimed
  generation between;
- end to end: the first `--log-events` records appended to a real `EventLog` (not timed, in the
  same pass as the JSON lines), then a fresh `LakeWriter` on its own lake root polling that log
  until it has committed all of them (log reads, conversion, files, markers, log checkpoints).

JSON lines: the same record bytes, newline-delimited, one file per UTC hour of event_time (the
original's Firehose layout, which Athena scans whole), to measure its total bytes. They are written
after the core write, from the regenerated day (the pass that fills the event log), and fsynced
before anything is timed again: written alongside the core write, their 8.5 GB of writeback ran
on the second core (and behind the writer's fsyncs) during its timed calls, which cost the 10 M
core figure about a third.

Queries: every named query of events (`qos_lake.api.QUERIES`; those of the views table alone are
left out: the generated day has no views log, and the KPI queries read an empty views table)
through `qos_lake.api.run_query` over the day (from = to = the day, no filter), `--repeats` times
each (best and median wall time; each run opens DuckDB, lists the live files and reads them, as the
CLI does). Bytes read per query are computed from the Parquet metadata, not measured: the columns
the query's (DuckDB-dialect) text names, intersected with the lake schema, and for each the sum of
its column chunks' compressed sizes in the day's live files (what projection pushdown reads;
footers and row-group statistics pruning are ignored, so this is an upper bound for the data
pages). The ratio is that over the day's JSON-lines bytes.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from qos_lake.api import (
    QUERIES,
    LakeWriter,
    QueryParams,
    WriterConfig,
    column_bytes,
    duckdb_sql,
    lake_schema,
    live_dataset_files,
    query_columns,
    run_query,
)
from qos_shared.eventlog import EventLog, JoinedRecords, LogRecord
from qos_shared.testing.sessions import Sessions, traffic_day

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: bench.common
from bench.common import Progress, machine, write_results

RESULTS = Path(__file__).parent / "results"
DAY = date(2026, 11, 1)
TARGET_WRITE_EPS = 200_000
TARGET_QUERY_S = 1.0
TARGET_BYTES_RATIO = 0.1

# -- writing ----------------------------------------------------------------------------------


def cpu_seconds() -> float:
    """CPU time of this process so far, every thread's, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class JsonLines:
    """The original layout: newline-delimited JSON, one file per UTC hour of event_time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[int, Any] = {}
        self.seconds = 0.0

    def write(self, data: list[bytes], times: list[int]) -> None:
        started = time.perf_counter()
        lo = 0
        for hour, group in itertools.groupby(times, key=lambda t: t // 3_600_000):
            hi = lo + sum(1 for _ in group)
            f = self.files.get(hour)
            if f is None:
                at = datetime.fromtimestamp(hour * 3600, UTC)
                path = self.root / f"{at:%Y/%m/%d/%H}" / f"events-{at:%Y-%m-%d-%H}.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
                f = self.files[hour] = path.open("wb")
            f.write(b"\n".join(data[lo:hi]) + b"\n")
            lo = hi
        self.seconds += time.perf_counter() - started

    def close(self) -> int:
        """Close the files, on disk (fsynced): their writeback must not run into a timed phase."""
        started = time.perf_counter()
        for f in self.files.values():
            f.flush()
            os.fsync(f.fileno())
            f.close()
        self.seconds += time.perf_counter() - started
        return sum(p.stat().st_size for p in self.root.rglob("*.jsonl"))


def write_core(day: Sessions, work: Path, config: WriterConfig, chunk: int) -> dict[str, Any]:
    """The writer's conversion and commit protocol fed directly (nothing else written meanwhile:
    the JSON lines come later, in `prepare_log`, so their writeback cannot slow this phase)."""
    root = work / "lake"
    gen_seconds = 0.0
    write_seconds = 0.0
    write_cpu = 0.0
    files = 0
    flushes = 0
    with EventLog(work / "core-log.sqlite", synchronous="NORMAL") as event_log:
        writer = LakeWriter(event_log, root, config)
        position = 0
        progress = Progress("writing the lake", day.n)
        started = time.perf_counter()
        for data, _times in day.chunks(chunk):
            progress(position)
            gen_seconds += time.perf_counter() - started
            # What `EventLog.read_joined` would return (built outside the timed region).
            base = position
            position += len(data)
            lo = 0
            while lo < len(data):
                room = config.flush_records - writer.buffered
                part = data[lo : lo + min(config.read_batch, room)]
                batch = JoinedRecords(
                    base + lo + 1, base + lo + len(part), len(part), b"\n".join(part)
                )
                lo += len(part)
                t0, c0 = time.perf_counter(), cpu_seconds()
                writer.add(batch)  # the body of `poll` after its log read
                result = writer.flush() if writer.buffered >= config.flush_records else None
                write_seconds += time.perf_counter() - t0
                write_cpu += cpu_seconds() - c0
                if result is not None:
                    files += len(result.files)
                    flushes += 1
            started = time.perf_counter()
        t0, c0 = time.perf_counter(), cpu_seconds()
        result = writer.flush()
        write_seconds += time.perf_counter() - t0
        write_cpu += cpu_seconds() - c0
        if result is not None:
            files += len(result.files)
            flushes += 1
        writer.close()
        progress.done(position)
    parquet_bytes = sum(p.stat().st_size for p in (root / "events").rglob("*.parquet"))
    return {
        "events": day.n,
        "generation_s": gen_seconds,
        "write_s": write_seconds,
        "write_cpu_s": write_cpu,
        "events_per_s": day.n / write_seconds,
        "flushes": flushes,
        "files": files,
        "parquet_bytes": parquet_bytes,
        "lake_root": root,
    }


def prepare_log(day: Sessions, work: Path, limit: int, chunk: int) -> dict[str, Any]:
    """Untimed: the day as JSON lines (all of it, made durable) and its first `limit` records
    appended to a real event log (for `write_from_log`)."""
    json_lines = JsonLines(work / "json")
    appended = 0
    append_seconds = 0.0
    progress = Progress("JSON lines and the event log", day.n)
    written = 0
    with EventLog(work / "events.sqlite", synchronous="NORMAL") as event_log:
        for data, times in day.chunks(chunk):
            progress(written)
            written += len(data)
            json_lines.write(data, times)
            take = data[: limit - appended]
            t0 = time.perf_counter()
            for lo in range(0, len(take), 10_000):
                event_log.append(
                    [LogRecord(f"e{appended + lo + j}", "p", d)
                     for j, d in enumerate(take[lo : lo + 10_000])]
                )  # fmt: skip
            append_seconds += time.perf_counter() - t0
            appended += len(take)
    json_bytes = json_lines.close()
    progress.done(written)
    return {
        "log_events": appended,
        "log_append_s": append_seconds,
        "json_lines_bytes": json_bytes,
        "json_lines_write_s": json_lines.seconds,
    }


def write_from_log(work: Path, config: WriterConfig, log: dict[str, Any]) -> dict[str, Any]:
    """The records `prepare_log` appended, through a polling LakeWriter."""
    log_path = work / "events.sqlite"
    root = work / "lake-from-log"
    appended = log["log_events"]
    with EventLog(log_path) as event_log:
        last = event_log.last_position()
        t0, c0 = time.perf_counter(), cpu_seconds()
        writer = LakeWriter(event_log, root, config)
        progress = Progress("the writer polling the log", last)
        while writer.position < last:
            writer.poll()
            progress(writer.position)
        writer.flush()
        progress.done(writer.position)
        seconds = time.perf_counter() - t0
        cpu = cpu_seconds() - c0
        committed = event_log.checkpoint("lake")
        writer.close()
    assert committed == last, (committed, last)
    return {
        "events": appended,
        "log_append_s": log["log_append_s"],
        "write_s": seconds,
        "write_cpu_s": cpu,
        "events_per_s": appended / seconds,
    }


# -- queries ----------------------------------------------------------------------------------


def bench_queries(root: Path, json_bytes: int, repeats: int) -> dict[str, Any]:
    params = QueryParams(DAY, DAY)
    files = [f for f in live_dataset_files(root) if f.parent.parent.name == f"dt={DAY}"]
    sizes = column_bytes(files)
    names = set(lake_schema().names)
    out: dict[str, Any] = {}
    for name, query in QUERIES.items():
        if "events" not in query.tables:
            continue  # the day has no views
        times = []
        cpus = []
        rows = 0
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), cpu_seconds()
            result = run_query(root, query, params)
            times.append(time.perf_counter() - t0)
            cpus.append(cpu_seconds() - c0)
            rows = len(result.rows)
        columns = sorted(query_columns(duckdb_sql(query.sql), names))
        read = sum(sizes.get(c, 0) for c in columns)
        out[name] = {
            "best_s": min(times),
            "median_s": statistics.median(times),
            "cpu_best_s": min(cpus),
            "rows": rows,
            "columns": columns,
            "parquet_bytes_read": read,
            "bytes_ratio": read / json_bytes,
        }
        q = out[name]
        print(
            f"  {name:<34} best {q['best_s']:6.3f} s  median {q['median_s']:6.3f} s  "
            f"cpu {q['cpu_best_s']:6.3f} s  "
            f"{len(columns):>2} cols {read / 1e6:9.1f} MB  ratio 1/{1 / q['bytes_ratio']:.0f}"
            f"  ({rows} rows)",
            flush=True,
        )
    return out


# -- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument(
        "--log-events",
        type=int,
        default=2_000_000,
        help="records for the end-to-end write from an event log (0: all; default 2,000,000)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=200_000, help="records generated at a time")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, help="where the lake and JSON go (default: /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    config = WriterConfig()
    figures: dict[str, Any] = {
        "machine": machine(),
        "events": args.events,
        "day": DAY.isoformat(),
        "writer_config": {"flush_records": config.flush_records, "read_batch": config.read_batch},
        "targets": {
            "write_events_per_s": TARGET_WRITE_EPS,
            "query_s": TARGET_QUERY_S,
            "bytes_ratio": TARGET_BYTES_RATIO,
        },
    }
    work = Path(tempfile.mkdtemp(prefix="bench-lake-", dir=args.work_dir))
    figures["machine"]["loadavg_start"] = os.getloadavg()
    print(
        f"lake benchmark: {args.events:,} events of {DAY} in {work} (load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})",
        flush=True,
    )
    try:
        t0 = time.perf_counter()
        day = traffic_day(DAY, args.events, args.seed)
        index_s = time.perf_counter() - t0
        print(f"  sessions  {day.session_count:,} simulated, {args.events:,} records indexed in "
              f"{index_s:.1f} s", flush=True)  # fmt: skip

        core = write_core(day, work, config, args.chunk)
        core["generation_s"] += index_s
        root = core.pop("lake_root")
        print(
            f"  write (core)  {core['events_per_s']:>10,.0f} events/s  ({core['write_s']:.1f} s, "
            f"cpu {core['write_cpu_s']:.1f} s; "
            f"{core['flushes']} flushes, {core['files']} files; generation "
            f"{core['generation_s']:.1f} s, not counted)",
            flush=True,
        )
        figures["write_core"] = core

        limit = args.events if args.log_events <= 0 else min(args.log_events, args.events)
        del day
        day = traffic_day(DAY, args.events, args.seed)  # the same records, regenerated
        prepared = prepare_log(day, work, limit, args.chunk)
        del day
        json_bytes = prepared["json_lines_bytes"]
        core["json_lines_bytes"] = json_bytes
        core["json_lines_write_s"] = prepared["json_lines_write_s"]
        print(
            f"  sizes   Parquet {core['parquet_bytes'] / 1e6:,.1f} MB, JSON lines "
            f"{json_bytes / 1e6:,.1f} MB (1/{json_bytes / core['parquet_bytes']:.1f})",
            flush=True,
        )
        from_log = write_from_log(work, config, prepared)
        print(
            f"  write (from event log)  {from_log['events_per_s']:>10,.0f} events/s  "
            f"({from_log['events']:,} events in {from_log['write_s']:.1f} s, cpu "
            f"{from_log['write_cpu_s']:.1f} s; log append "
            f"{from_log['log_append_s']:.1f} s, not counted)",
            flush=True,
        )
        figures["write_from_log"] = from_log
        shutil.rmtree(work / "lake-from-log", ignore_errors=True)
        (work / "events.sqlite").unlink(missing_ok=True)

        print(f"  queries over {DAY} ({args.repeats} runs each):", flush=True)
        queries = bench_queries(root, json_bytes, args.repeats)
        figures["queries"] = queries
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    figures["machine"]["loadavg_end"] = os.getloadavg()
    worst_q = max(q["best_s"] for q in queries.values())
    worst_med = max(q["median_s"] for q in queries.values())
    worst_ratio = max(q["bytes_ratio"] for q in queries.values())
    met = {
        "write_core": core["events_per_s"] >= TARGET_WRITE_EPS,
        "write_from_log": from_log["events_per_s"] >= TARGET_WRITE_EPS,
        "query_time_best": worst_q <= TARGET_QUERY_S,
        "query_time_median": worst_med <= TARGET_QUERY_S,
        "bytes_ratio": worst_ratio <= TARGET_BYTES_RATIO,
    }
    figures["targets_met"] = met
    print("\n  target                                   measured        target   met")
    rows = [
        ("write, core (events/s)", f"{core['events_per_s']:,.0f}", f">= {TARGET_WRITE_EPS:,}",
         met["write_core"]),
        ("write, from event log (events/s)", f"{from_log['events_per_s']:,.0f}",
         f">= {TARGET_WRITE_EPS:,}", met["write_from_log"]),
        ("slowest query, best (s)", f"{worst_q:.3f}", f"<= {TARGET_QUERY_S}",
         met["query_time_best"]),
        ("slowest query, median (s)", f"{worst_med:.3f}", f"<= {TARGET_QUERY_S}",
         met["query_time_median"]),
        ("largest Parquet/JSON bytes ratio", f"1/{1 / worst_ratio:.1f}",
         f"<= 1/{1 / TARGET_BYTES_RATIO:.0f}", met["bytes_ratio"]),
    ]  # fmt: skip
    for label, value, target, ok in rows:
        print(f"  {label:<38} {value:>12}  {target:>12}   {'yes' if ok else 'NO'}")
    write_results(RESULTS, "lake", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
