"""Search: bulk indexing rate into a real local OpenSearch node, and every dashboard panel's
aggregation latency over the indexed day.

    python bench/search/run.py                    (1,000,000 events: the acceptance run)
    python bench/search/run.py --events 100000    (a quick run)

Data: the lake benchmark's generated day (`qos_shared.testing.sessions.traffic_day`: one UTC day
of simulated sessions, the stored records as the event log holds them), appended to a real
`EventLog` first (not timed).

Indexing: a local node (`qos_search_node`, one JVM, `--heap`, on this machine's cores)
with the real index template and pipeline applied; then the real `SearchIndexer` (`_bulk` of
`--batch` records, document id = event_id, daily index by event time, the geo pipeline) polls
the log until its checkpoint reaches the end. The figure is records / wall time, log reads and
checkpoints included. A `_refresh` follows (not timed), then a force-merge to one segment is NOT
done: the panels are timed on the index as the indexer left it.

Panels: every visualization of the dashboards (`all_panels()`), its search body as
Dashboards sends it for the whole day (auto interval: 30 m, as Dashboards picks for 24 h) with
no dashboard filter, run `--repeats` times; best and median of wall time (the client's round
trip) and of OpenSearch's own `took`. The request cache is disabled per request
(`request_cache=false`), so a repeat is really computed again.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import qos_search_node as search_node
from qos_search_indexer.api import (
    CONSUMER,
    INDEX_PATTERN,
    DeadLetterStore,
    IndexerConfig,
    all_panels,
    apply_index_design,
    build_indexer,
    client_for,
    search_body,
)
from qos_shared.eventlog import EventLog, LogRecord
from qos_shared.testing.sessions import traffic_day

RESULTS = Path(__file__).parent / "results"
TARGET_INDEX_EPS = 10_000
DAY_MS = 86_400_000
DAY = date(2026, 11, 1)  # the lake benchmark's day


def fill_log(log: EventLog, n: int, seed: int) -> tuple[int, float]:
    """Append a generated day of n records; returns the day's start (epoch ms) and seconds."""
    started = time.monotonic()
    day = traffic_day(DAY, n, seed)
    written = 0
    for chunk, _times in day.chunks(50_000):
        records = []
        for data in chunk:
            record = json.loads(data)
            records.append(LogRecord(record["event_id"], record["session_id"], data))
        log.append(records)
        written += len(records)
        print(f"  generated {written:,} / {n:,} records", end="\r", flush=True)
    print()
    return day.start_ms, time.monotonic() - started


def index_all(log: EventLog, url: str, work: Path, batch: int) -> dict[str, Any]:
    client = client_for(url, timeout=120)
    apply_index_design(client)
    store = DeadLetterStore(work / "dead.sqlite")
    indexer = build_indexer(log, client, store, IndexerConfig(batch_size=batch))
    total = log.last_position()
    started = time.monotonic()
    done = 0
    while True:
        result = indexer.poll()
        if not result.read:
            break
        done += result.read
        rate = done / (time.monotonic() - started)
        print(f"  indexed {done:,} / {total:,} ({rate:,.0f} events/s)", end="\r", flush=True)
    seconds = time.monotonic() - started
    print()
    indexer.close()
    assert log.checkpoint(CONSUMER) == total
    client.indices.refresh(index=INDEX_PATTERN, request_timeout=300)
    count = client.count(index=INDEX_PATTERN)["count"]
    dead = store.count()
    store.close()
    client.close()
    return {
        "events": total,
        "seconds": round(seconds, 2),
        "events_per_s": round(total / seconds),
        "documents": count,
        "dead_letters": dead,
        "batch": batch,
    }


def time_panels(url: str, day_ms: int, repeats: int) -> list[dict[str, Any]]:
    client = client_for(url, timeout=120)
    rows = []
    for panel in all_panels():
        body = search_body(panel, start_ms=day_ms, end_ms=day_ms + DAY_MS - 1, interval="30m")
        walls, tooks = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            response = client.search(index=INDEX_PATTERN, body=body, request_cache=False)
            walls.append(time.perf_counter() - started)
            tooks.append(response["took"] / 1000)
        rows.append(
            {
                "panel": panel.id,
                "kind": panel.kind,
                "wall_best_s": round(min(walls), 3),
                "wall_median_s": round(statistics.median(walls), 3),
                "took_best_s": round(min(tooks), 3),
                "took_median_s": round(statistics.median(tooks), 3),
            }
        )
        print(
            f"  {panel.id:<40} best {min(walls):6.3f} s  median {statistics.median(walls):6.3f} s"
        )
    client.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5_000, help="records per _bulk request")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--heap", default="1g")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, help="scratch directory (default: a temporary one)")
    args = parser.parse_args()
    reason = search_node.available()
    if reason is not None:
        print(f"bench/search: cannot run OpenSearch: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="qos-bench-search-", dir=args.work) as tmp:
        work = Path(tmp)
        print(f"generating {args.events:,} records into an event log")
        log = EventLog(work / "events.sqlite", synchronous="NORMAL")
        day_ms, gen_s = fill_log(log, args.events, args.seed)
        print(f"  ({gen_s:.0f} s, not in any figure)")
        print("starting a local OpenSearch node")
        with search_node.start(work / "node", heap=args.heap) as node:
            print(f"indexing into {node.url}")
            indexing = index_all(log, node.url, work, args.batch)
            print(f"timing {args.repeats} runs of every panel over the day")
            panel_rows = time_panels(node.url, day_ms, args.repeats)
        log.close()
    slowest = max(panel_rows, key=lambda r: r["wall_median_s"])
    result = {
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "heap": args.heap,
        "indexing": indexing,
        "indexing_target_met": indexing["events_per_s"] >= TARGET_INDEX_EPS,
        "panels": panel_rows,
        "slowest_panel": slowest,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"search-{args.events}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"indexing: {indexing['events_per_s']:,} events/s (target >= {TARGET_INDEX_EPS:,});"
        f" {indexing['documents']:,} documents, {indexing['dead_letters']} dead letters"
    )
    print(f"slowest panel: {slowest['panel']} median {slowest['wall_median_s']} s; see {out}")
    return 0


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    raise SystemExit(main())
