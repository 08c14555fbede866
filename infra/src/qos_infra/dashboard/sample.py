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
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from qos_lake.api import WriterConfig, write_log
from qos_realtime.api import ConsumerTiming, MetricStore, RealtimeConsumer, WindowConfig
from qos_shared.eventlog import EventLog, LogRecord

Record = dict[str, Any]

# (value, weight): some platforms and channels far more popular than others, as in real traffic.
PLATFORMS: tuple[tuple[str, float], ...] = (
    ("web", 0.40),
    ("android", 0.25),
    ("ios", 0.20),
    ("smart_tv", 0.15),
)
CHANNELS: tuple[tuple[str, float], ...] = (
    ("sports", 0.32),
    ("news", 0.26),
    ("movies", 0.18),
    ("kids", 0.14),
    ("music", 0.10),
)
COUNTRIES = ("FR", "DE", "GB", "US", "ES")
RENDITIONS = (("1080p", 6_000_000), ("720p", 3_000_000), ("480p", 1_200_000))
# Startup is slower on TVs and phones than on the web, so the platform split shows something.
_STARTUP_MS = {
    "web": (350, 2500),
    "android": (500, 3500),
    "ios": (450, 3000),
    "smart_tv": (900, 6000),
}


def _pick(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def generate(
    now_ms: int,
    *,
    seed: int = 11,
    sessions: int = 160,
    span_s: int = 1200,
    summary_every_s: int = 30,
) -> list[Record]:
    """Stored records of `sessions` sessions over the `span_s` seconds before `now_ms`, in
    event-time order; every event_time is before `now_ms`."""
    rng = random.Random(seed)  # noqa: S311 - reproducible sample data, not a secret
    start_ms = now_ms - span_s * 1000
    records: list[Record] = []
    for n in range(sessions):
        platform = _pick(rng, PLATFORMS)
        base: Record = {
            "session_id": f"sess-{seed:02d}-{n:04d}-{rng.getrandbits(24):06x}",
            "user_id": f"user-{rng.randrange(sessions // 2 + 1):04d}",
            "client_platform": platform,
            "channel_watched": _pick(rng, CHANNELS),
            "is_live": rng.random() < 0.75,
            "source_format": "v1",
            "schema_version": "1",
            "viewer_country": rng.choice(COUNTRIES),
        }
        # Sessions start all through the span, a few shortly before its end (open windows).
        t = start_ms + rng.randrange(max(1, span_s * 1000 - 5_000))

        def emit(metric_type: str, at: int, base: Record = base, **fields: Any) -> bool:
            if at >= now_ms:
                return False
            records.append(
                {
                    **base,
                    "metric_type": metric_type,
                    "event_time": at,
                    "event_id": f"{base['session_id']}-{len(records):06d}",
                    "received_at": at + rng.randrange(40, 400),
                    **fields,
                }
            )
            return True

        emit("ATTEMPT", t)
        outcome = rng.random()
        if outcome < 0.05:
            emit("ERROR", t + 1_200, error_code="MANIFEST_404", fatal=True, phase="startup")
            emit("STOP", t + 1_300, exit_before_start=False)
            continue
        if outcome < 0.09:
            emit("STOP", t + rng.randrange(800, 4_000), exit_before_start=True)
            continue
        low, high = _STARTUP_MS[platform]
        startup = rng.randrange(low, high)
        t += startup
        if not emit("PLAY", t, startup_latency_ms=startup, start_playback_position_sec=0.0):
            continue
        rendition, bitrate = rng.choice(RENDITIONS)
        length_ms = rng.randrange(span_s * 200, span_s * 1000 + 1)
        end = t + length_ms
        every = summary_every_s * 1000
        ended = True
        while t < end:
            step = min(every, end - t)
            t += step
            buffering = rng.choice([0, 0, 0, 0, rng.randrange(200, max(201, step // 8))])
            summary: Record = {
                "playing_time_ms": step - buffering,
                "buffering_time_ms": buffering,
                "buffering_count": 0 if buffering == 0 else rng.randrange(1, 3),
                "error_count": 1 if rng.random() < 0.04 else 0,
                "rendition_name": rendition,
                "rendition_height": int(rendition[:-1]),
                "bitrate_bps": bitrate,
            }
            if base["is_live"]:
                summary["live_latency_ms"] = rng.randrange(
                    2_000, 9_000 if platform != "web" else 6_000
                )
            if not emit("PLAYBACK_SUMMARY", t, **summary):
                ended = False
                break
            if rng.random() < 0.15:
                new_rendition, new_bitrate = rng.choice(RENDITIONS)
                if new_rendition != rendition:
                    emit(
                        "QUALITY_CHANGED",
                        t + 5,
                        from_rendition_name=rendition,
                        to_rendition_name=new_rendition,
                        from_bitrate=bitrate,
                        to_bitrate=new_bitrate,
                        step_direction="UP" if new_bitrate > bitrate else "DOWN",
                    )
                    rendition, bitrate = new_rendition, new_bitrate
        if ended and rng.random() < 0.05:
            emit("ERROR", t + 10, error_code="DECODE", fatal=True, phase="playback")
        if ended:
            emit("STOP", t + 20, exit_before_start=False)
    records.sort(key=lambda r: (r["event_time"], r["event_id"]))
    return records


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
