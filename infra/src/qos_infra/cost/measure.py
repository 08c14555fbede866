"""Measure the rates the cost model prices, in process, and write them to `rates.json`.

    python -m qos_infra.cost.measure [--viewers 2000] [--minutes 30] [--seed 1]

What it measures (nothing here is assumed; the assumptions live in `model.py`):

- the SDK's traffic: the simulator's audience (`qos_infra.simulator.generate`) batched exactly as
  the player SDK's transport batches (`plan_batches`: 20 events or 5 s, a flush at exit):
  events, requests and request body bytes per concurrent viewer-minute, and views (sessions)
  per viewer-minute;
- ingest: the real domain function (`qos_ingest.api.ingest`) on those request bodies: CPU ms
  per request, and the stored record's bytes (the Kinesis record: data plus partition key);
- the lake: the stored records written by the real lake writer (`qos_lake.api.write_log`):
  Parquet bytes per event, and for each named query over events the Parquet column bytes its
  text names (what Athena's projection reads) per stored event;
- the search indexer: the real stream indexer (`qos_search_indexer.api.StreamIndexer.index`, the
  indexer Lambda's body) on the accepted records in batches of 1,000 (its batch size), into a
  cluster stand-in that serialises the `_bulk` body as the real adapter does and answers
  "indexed": CPU ms per batch, and `_bulk` bytes per record (the node's round trip is an
  assumption of the model);
- the dimension values the audience spreads over: client platforms, renditions, channels.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from qos_infra.simulator import SimulationConfig, generate, plan_batches
from qos_ingest.api import IngestConfig, IngestRequest, ingest
from qos_lake.api import (
    QUERIES,
    column_bytes,
    duckdb_sql,
    lake_schema,
    live_dataset_files,
    query_columns,
    write_log,
)
from qos_search_indexer.api import StreamIndexer, bulk_body
from qos_shared.eventlog import EventLog, LogEntry, LogRecord

RATES_PATH = Path(__file__).with_name("rates.json")
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def _progress(message: str) -> None:
    print(f"[measure] {message}", file=sys.stderr, flush=True)


def measure(viewers: int, minutes: float, seed: int) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    start_ms = now_ms - int(minutes * 60_000) - 60_000
    config = SimulationConfig(start_ms=start_ms, viewers=viewers, minutes=minutes, seed=seed)
    config.validate(now_ms=now_ms)
    _progress(f"simulating {viewers:,} viewers for {minutes:g} min")
    simulation = generate(config)
    # Every event planned as the SDK sends it in real time (no catch-up slices).
    _, batches = plan_batches(simulation, catch_up_before=start_ms)
    viewer_minutes = viewers * minutes
    bodies = [b.body() for b in batches]
    events = sum(len(b.events) for b in batches)
    traffic = {
        "events_per_viewer_minute": events / viewer_minutes,
        "requests_per_viewer_minute": len(batches) / viewer_minutes,
        "body_bytes_per_request": sum(map(len, bodies)) / len(bodies),
        "views_per_viewer_minute": len(simulation.sessions) / viewer_minutes,
        # What sets the CloudWatch dimensions' cardinality (`qos cost` defaults).
        "client_platforms": len(
            {e["client_platform"] for v in simulation.viewers for e in v.events}
        ),
        "renditions": len(
            {
                e["rendition_name"]
                for v in simulation.viewers
                for e in v.events
                if e.get("rendition_name")
            }
        ),
        "channels": len({e["channel_watched"] for v in simulation.viewers for e in v.events}),
    }
    _progress(f"{events:,} events in {len(batches):,} requests; timing ingest")
    ingest_config = IngestConfig()
    headers = {"user-agent": USER_AGENT}
    records: list[LogRecord] = []
    times: list[float] = []
    for body in bodies:
        t0 = time.perf_counter()
        result = ingest(IngestRequest(body, headers, now_ms), ingest_config)
        times.append(time.perf_counter() - t0)
        records += [LogRecord(a.event_id, a.partition_key, a.data) for a in result.accepted]
    record_bytes = sum(len(r.data) + len(r.partition_key) for r in records) / len(records)
    ingest_figures = {
        "cpu_ms_per_request_median": statistics.median(times) * 1000,
        "cpu_ms_per_request_mean": statistics.fmean(times) * 1000,
        "accepted_share": len(records) / events,
        "kinesis_record_bytes": record_bytes,
    }
    _progress(f"{len(records):,} records accepted; timing the indexer's batches")
    indexer = _indexer_figures(records)
    _progress("writing the lake")
    with tempfile.TemporaryDirectory(prefix="qos-cost-") as work:
        root = Path(work) / "lake"
        with EventLog(Path(work) / "events.sqlite", synchronous="NORMAL") as log:
            log.append(records)
            write_log(log, root)
        files = [f for f in live_dataset_files(root) if "events" in f.parts]
        parquet_bytes = sum(f.stat().st_size for f in files)
        sizes = column_bytes(files)
    names = set(lake_schema().names)
    queries: dict[str, float] = {}
    for name, query in sorted(QUERIES.items()):
        if "events" not in query.tables:
            continue
        columns = query_columns(duckdb_sql(query.sql), names)
        queries[name] = sum(sizes.get(c, 0) for c in columns) / len(records)
    lake = {
        "parquet_bytes_per_event": parquet_bytes / len(records),
        "json_bytes_per_event": sum(len(r.data) for r in records) / len(records),
        "query_bytes_per_event": queries,
    }
    return {
        "measured_on": datetime.now(UTC).date().isoformat(),
        "command": (
            f"python -m qos_infra.cost.measure --viewers {viewers} --minutes {minutes:g}"
            f" --seed {seed}"
        ),
        "sample": {"viewers": viewers, "minutes": minutes, "seed": seed, "events": events},
        "traffic": traffic,
        "ingest": ingest_figures,
        "lake": lake,
        "indexer": indexer,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


class _BulkBodies:
    """A cluster stand-in: each `_bulk` body built as the real adapter builds it; all indexed."""

    def __init__(self) -> None:
        self.bytes = 0

    def send_bulk(self, docs: list[Any], *, refresh: bool) -> Any:
        self.bytes += len(bulk_body(docs))
        return SimpleNamespace(retry=[], parked=[], indexed=len(docs))


class _NoDeadLetters:
    def park(self, letters: Any) -> int:
        raise RuntimeError("a simulated record was refused by the indexer")


def _indexer_figures(records: list[LogRecord], batch: int = 1000) -> dict[str, float]:
    entries = [
        LogEntry(i + 1, r.event_id, r.partition_key, r.data, 0) for i, r in enumerate(records)
    ]
    batch = min(batch, len(entries))  # a short measurement: one batch of what there is
    cluster = _BulkBodies()
    indexer = StreamIndexer(cast(Any, cluster), cast(Any, _NoDeadLetters()))
    times: list[float] = []
    for lo in range(0, len(entries) - batch + 1, batch):
        t0 = time.perf_counter()
        indexer.index(entries[lo : lo + batch])
        times.append(time.perf_counter() - t0)
    done = len(times) * batch
    return {
        "records_per_batch": batch,
        "cpu_ms_per_batch_median": statistics.median(times) * 1000,
        "bulk_bytes_per_record": cluster.bytes / done,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RATES_PATH)
    args = parser.parse_args(argv)
    figures = measure(args.viewers, args.minutes, args.seed)
    args.out.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    _progress(f"written to {args.out}")
    print(json.dumps(figures, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
