"""Search: bulk indexing rate into a real local OpenSearch node, and every dashboard panel's
aggregation latency over the indexed day.

    python bench/search/run.py                    (1,000,000 events: the acceptance run)
    python bench/search/run.py --events 100000    (a quick run)
    python bench/search/run.py --events 100000 --indexer both --repeats 0
                                                  (both indexers' rates, no panel timing)

Data: the lake benchmark's generated day (`qos_shared.testing.sessions.traffic_day`: one UTC day
of simulated sessions, the stored records as the event log holds them), appended to a real
`EventLog` first (not timed).

Indexing: a local node (`qos_search_node`, one JVM, `--heap`, on this machine's cores)
with the real index template and pipeline applied; then the real `SearchIndexer` (`_bulk` of
`--batch` records, document id = event_id, daily index by event time, the geo pipeline) polls
the log until its checkpoint reaches the end. The figure is records / wall time, log reads and
checkpoints included. A `_refresh` follows (not timed), then a force-merge to one segment is NOT
done: the panels are timed on the index as the indexer left it.

The indexer Lambda's code path (`--indexer lambda`, or `both`: the local indexer, then the
Lambda's path on a fresh node of its own, so that neither finds the other's warmed JVM): the
log's records as the Kinesis events an event source mapping hands the function (base64 data,
`--lambda-batch` records each: the stack's default batch size), built beforehand (not timed:
Lambda's work), then the real handler (`handle_kinesis_batch`: Powertools' batch processing,
`StreamIndexer`, one `_bulk` per batch under `event_id`) on each event in turn, as one shard's
invocations follow one another (parallelization factor 1). Requests are not signed (the local
node takes plain HTTP); dead letters are counted in memory. The figure is records / wall time
of the handler calls.

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
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import qos_search_node as search_node
from qos_search_indexer.api import (
    CONSUMER,
    INDEX_PATTERN,
    DeadLetter,
    DeadLetterStore,
    IndexerConfig,
    IndexerLambdaSettings,
    all_panels,
    apply_index_design,
    build_indexer,
    build_stream_indexer,
    client_for,
    handle_kinesis_batch,
    search_body,
)
from qos_shared.eventlog import EventLog, LogRecord
from qos_shared.testing.aws import kinesis_stream_event
from qos_shared.testing.sessions import traffic_day

RESULTS = Path(__file__).parent / "results"
TARGET_INDEX_EPS = 10_000
# The indexer function's batch size as the stack deploys it by default (`IndexerSource`).
DEPLOYED_LAMBDA_BATCH = 1_000
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


class CountedDeadLetters:
    def __init__(self) -> None:
        self.count = 0

    def park(self, letters: Iterable[DeadLetter]) -> int:
        n = len(list(letters))
        self.count += n
        return n


def index_all_through_lambda(log: EventLog, url: str, batch: int) -> dict[str, Any]:
    """Every record of the log through the indexer Lambda's handler, one Kinesis event of
    `batch` records at a time."""
    client = client_for(url, timeout=120)
    client.indices.delete(index=INDEX_PATTERN, ignore_unavailable=True)
    apply_index_design(client)
    total = log.last_position()
    events = []
    after = 0
    while entries := log.read(after=after, limit=batch):
        events.append(kinesis_stream_event([e.data for e in entries], first_sequence=after + 1))
        after = entries[-1].position
    dead = CountedDeadLetters()
    settings = IndexerLambdaSettings(url=url, sigv4=False, dead_letter_bucket="unused")
    indexer = build_stream_indexer(settings, dead_letters=dead)
    failures = 0
    done = 0
    started = time.monotonic()
    for event in events:
        response = handle_kinesis_batch(event, None, indexer)
        failures += len(response["batchItemFailures"])
        done += len(event["Records"])
        rate = done / (time.monotonic() - started)
        print(f"  indexed {done:,} / {total:,} ({rate:,.0f} events/s)", end="\r", flush=True)
    seconds = time.monotonic() - started
    print()
    client.indices.refresh(index=INDEX_PATTERN, request_timeout=300)
    count = client.count(index=INDEX_PATTERN)["count"]
    client.close()
    return {
        "events": total,
        "seconds": round(seconds, 2),
        "events_per_s": round(total / seconds),
        "documents": count,
        "dead_letters": dead.count,
        "batch_item_failures": failures,
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
    parser.add_argument(
        "--indexer",
        choices=("local", "lambda", "both"),
        default="local",
        help="the local indexer, the indexer Lambda's code path, or both in turn",
    )
    parser.add_argument(
        "--lambda-batch",
        type=int,
        default=DEPLOYED_LAMBDA_BATCH,
        help="records per Kinesis event (default: the stack's batch size)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="0: no panel timing")
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
        indexing: dict[str, Any] | None = None
        through_lambda: dict[str, Any] | None = None
        panel_rows: list[dict[str, Any]] = []
        modes = ["local", "lambda"] if args.indexer == "both" else [args.indexer]
        for i, mode in enumerate(modes):
            # A fresh node for each indexer: a node warmed by the first would flatter the second.
            print(f"starting a local OpenSearch node ({mode} indexer)")
            with search_node.start(work / f"node-{mode}", heap=args.heap) as node:
                if mode == "local":
                    print(f"indexing into {node.url} (the local indexer)")
                    indexing = index_all(log, node.url, work, args.batch)
                else:
                    print(f"indexing into {node.url} (the indexer Lambda's code path)")
                    through_lambda = index_all_through_lambda(log, node.url, args.lambda_batch)
                if args.repeats > 0 and i == len(modes) - 1:
                    print(f"timing {args.repeats} runs of every panel over the day")
                    panel_rows = time_panels(node.url, day_ms, args.repeats)
        log.close()
    slowest = max(panel_rows, key=lambda r: r["wall_median_s"]) if panel_rows else None
    result: dict[str, Any] = {
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "heap": args.heap,
    }
    if indexing is not None:
        result["indexing"] = indexing
        result["indexing_target_met"] = indexing["events_per_s"] >= TARGET_INDEX_EPS
    if through_lambda is not None:
        result["lambda_indexing"] = through_lambda
    if panel_rows:
        result["panels"] = panel_rows
        result["slowest_panel"] = slowest
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if args.indexer == "local" else f"-{args.indexer}"
    out = RESULTS / f"search-{args.events}{suffix}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for label, figures in (("local indexer", indexing), ("indexer Lambda", through_lambda)):
        if figures is not None:
            print(
                f"{label}: {figures['events_per_s']:,} events/s (batch {figures['batch']:,});"
                f" {figures['documents']:,} documents, {figures['dead_letters']} dead letters"
            )
    if indexing is not None:
        print(f"local indexer target >= {TARGET_INDEX_EPS:,} events/s")
    if slowest is not None:
        print(f"slowest panel: {slowest['panel']} median {slowest['wall_median_s']} s")
    print(f"see {out}")
    return 0


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    raise SystemExit(main())
