"""Sample data for the dashboard's tests and screenshots: a data directory filled by the real code.

`generate` makes stored records (flat event + enrichment fields, as ingest stores them) of viewing
sessions across platforms and channels, ending at a given instant. `seed` writes them the way the
stack would: appended to the event log, most of them flushed into the lake by the real lake writer
(the newest stay in the log's tail, not yet flushed), and all of them run through the real
realtime consumer into the metric store (the newest window left open, provisional).

Not a load generator (that is the viewer simulator's job): a fixed, reproducible picture.
`python -m qos_infra.dashboard.sample --data-dir D` seeds a directory to look at.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from pathlib import Path

import orjson

from qos_lake.api import WriterConfig, write_log
from qos_realtime.api import ConsumerTiming, MetricStore, RealtimeConsumer, WindowConfig
from qos_shared.eventlog import EventLog, LogRecord
from qos_shared.testing.oracle import Record
from qos_shared.testing.sessions import (
    LogNormal,
    Sessions,
    Weighted,
    every_outcome,
)

# (value, weight): some platforms and channels far more popular than others, as in real traffic.
PLATFORMS: Weighted = (("web", 0.40), ("android", 0.25), ("ios", 0.20), ("smart_tv", 0.15))
CHANNELS: Weighted = (
    ("sports", 0.32),
    ("news", 0.26),
    ("movies", 0.18),
    ("kids", 0.14),
    ("music", 0.10),
)
COUNTRIES = ("FR", "DE", "GB", "US", "ES")
# Startup is slower on TVs and phones than on the web, so the platform split shows something.
STARTUP_FACTOR = (("android", 1.4), ("ios", 1.2), ("smart_tv", 2.5))


def generate(
    now_ms: int,
    *,
    seed: int = 11,
    sessions: int = 160,
    span_s: int = 1200,
    summary_every_s: int = 30,
) -> list[Record]:
    """Stored records of `sessions` sessions over the `span_s` seconds before `now_ms`, in
    event-time order; every event_time is before `now_ms` (sessions still playing have no STOP)."""
    every = summary_every_s * 1000
    # Sessions start all through the span, a few shortly before its end (open windows).
    spec = every_outcome(now_ms - span_s * 1000, max(1, span_s * 1000 - 5_000), sessions)
    # Several days of samples go into one data directory: the ids tell them apart.
    spec = replace(spec, cut_ms=now_ms, id_prefix=f"sample-{seed:02d}-")
    spec = replace(spec, platforms=PLATFORMS, channels=CHANNELS, startup_factor=STARTUP_FACTOR)
    spec = replace(spec, countries=tuple((country, 1.0) for country in COUNTRIES))
    # Sessions last from a fifth of the span to all of it; every player is a current one.
    length = LogNormal(span_s * 500, 0.5, span_s * 200, span_s * 1000)
    buffering = (200, max(201, every // 8))
    playback = replace(spec.playback, summary_every_ms=every, buffering_ms=buffering)
    outcomes = replace(spec.outcomes, legacy=0.0)
    spec = replace(spec, duration=length, playback=playback, outcomes=outcomes)
    return Sessions(spec, seed).records()


@dataclass(frozen=True, slots=True)
class Seeded:
    records: list[Record]  # every record, in log order
    in_lake: int  # the first `in_lake` records are in the lake; the rest only in the log's tail
    window_s: int
    allowed_lateness_s: float

    @property
    def lake_records(self) -> list[Record]:
        return self.records[: self.in_lake]

    @property
    def tail_records(self) -> list[Record]:
        return self.records[self.in_lake :]


def seed(
    data_dir: Path,
    records: list[Record],
    *,
    window_s: int = 60,
    allowed_lateness_s: float = 5.0,
    lake_share: float = 0.9,
) -> Seeded:
    """Fill `data_dir` as `qos up` lays it out: events.sqlite, lake/, metrics.sqlite."""
    data_dir.mkdir(parents=True, exist_ok=True)
    in_lake = int(len(records) * lake_share)
    log = EventLog(data_dir / "events.sqlite", synchronous="NORMAL")
    try:

        def append(part: list[Record]) -> None:
            for i in range(0, len(part), 5_000):
                log.append(
                    [
                        LogRecord(r["event_id"], r["session_id"], orjson.dumps(r))
                        for r in part[i : i + 5_000]
                    ]
                )

        append(records[:in_lake])
        write_log(
            log, data_dir / "lake", WriterConfig(flush_records=10_000_000, flush_seconds=3600)
        )
        append(records[in_lake:])
        store = MetricStore(data_dir / "metrics.sqlite")
        try:
            consumer = RealtimeConsumer(
                log,
                store,
                WindowConfig(window_s=window_s, allowed_lateness_s=allowed_lateness_s),
                ConsumerTiming(flush_interval_s=0.0, idle_after_s=3600.0),
            )
            while consumer.poll():
                pass
        finally:
            store.close()
    finally:
        log.close()
    return Seeded(records, in_lake, window_s, allowed_lateness_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="qos-dashboard-sample", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="a new or empty directory")
    parser.add_argument("--window-s", type=int, default=60, help="realtime window length")
    parser.add_argument("--sessions", type=int, default=160)
    parser.add_argument("--minutes", type=int, default=20, help="how far back the data goes")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--history-days", type=int, default=0, help="also this many earlier days (lake trends)"
    )
    args = parser.parse_args(argv)
    if (args.data_dir / "events.sqlite").exists():
        print(f"{args.data_dir} already holds an event log; give a new directory")
        return 2
    now_ms = int(time.time() * 1000)
    recent = generate(now_ms, seed=args.seed, sessions=args.sessions, span_s=args.minutes * 60)
    history: list[Record] = []
    for day in range(args.history_days, 0, -1):
        # Earlier days: the same hour of the day, a varying audience.
        sessions = max(10, int(args.sessions * (0.6 + 0.1 * (day % 5))))
        history += generate(
            now_ms - day * 86_400_000,
            seed=args.seed + day,
            sessions=sessions,
            span_s=args.minutes * 60,
        )
    records = history + recent
    # The newest 10 % of today's records stay in the log's tail.
    share = 1 - 0.1 * len(recent) / len(records) if records else 1.0
    seeded = seed(args.data_dir, records, window_s=args.window_s, lake_share=share)
    print(
        f"seeded {args.data_dir}: {len(records)} records, {seeded.in_lake} in the lake, "
        f"{len(records) - seeded.in_lake} in the log's tail"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
