"""Golden data for the realtime tests: generated sessions, and an oracle written by hand.

The generator makes stored records the way ingest would (flat event + enrichment fields) for
viewers across platforms and channels, with every event type. The expected rows come from the
hand-written oracle in `qos_shared.testing.oracle` (written from METRICS.md, not from the
catalogue's definitions): the independent computation the engines are checked against.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from qos_shared.testing.oracle import ORACLE, Record, rendition_shares

__all__ = ["BASE_MS", "ORACLE", "expected_rows", "generate"]

BASE_MS = 1_795_000_020_000  # a window boundary for 5, 10, 30 and 60 s windows


def generate(
    seed: int = 7,
    *,
    sessions: int = 120,
    span_s: int = 300,
    channels: int = 4,
    legacy_share: float = 0.2,
) -> list[Record]:
    """Stored records of `sessions` viewing sessions over `span_s` seconds, in event-time order."""
    rng = random.Random(seed)
    platforms = ["web", "ios", "android", "other"]
    renditions = [("1080p", 6_000_000), ("720p", 3_000_000), ("480p", 1_200_000)]
    records: list[Record] = []
    for n in range(sessions):
        legacy = rng.random() < legacy_share
        base = {
            "session_id": f"s{n:04d}",
            "user_id": f"u{n % 37}",
            "client_platform": rng.choice(platforms),
            "channel_watched": f"ch{rng.randrange(channels)}",
            "is_live": rng.random() < 0.8,
            "source_format": "legacy" if legacy else "v1",
            "schema_version": "1",
        }
        t = BASE_MS + rng.randrange(span_s * 1000)

        def emit(metric_type: str, at: int, base: Record = base, **fields: Any) -> None:
            records.append(
                {
                    **base,
                    "metric_type": metric_type,
                    "event_time": at,
                    "event_id": f"{base['session_id']}-{len(records)}",
                    **fields,
                }
            )

        if not legacy:
            emit("ATTEMPT", t)
        outcome = rng.random()
        if not legacy and outcome < 0.08:
            emit("ERROR", t + 900, error_code="NETWORK", fatal=True, phase="startup")
            emit("STOP", t + 950, exit_before_start=False)
            continue
        if not legacy and outcome < 0.14:
            emit("STOP", t + 700, exit_before_start=True)
            continue
        startup = rng.randrange(300, 6000)
        t += startup
        emit("PLAY", t, startup_latency_ms=startup, start_playback_position_sec=0.0)
        rendition, bitrate = rng.choice(renditions)
        for _ in range(rng.randrange(1, 5)):
            buffering = rng.choice([0, 0, 0, rng.randrange(100, 4000)])
            playing = (
                rng.choice([0, rng.randrange(20_000, 60_000)])
                if rng.random() < 0.1
                else 60_000 - buffering
            )
            t += 60_000
            summary: dict[str, Any] = {
                "playing_time_ms": playing,
                "buffering_time_ms": buffering,
                "buffering_count": 0 if buffering == 0 else rng.randrange(1, 4),
                "error_count": rng.choice([0, 0, 0, 1]),
                "rendition_name": rendition,
                "rendition_height": int(rendition[:-1]),
            }
            if base["is_live"]:
                summary["live_latency_ms"] = rng.randrange(1500, 9000)
            if not legacy:
                summary["bitrate_bps"] = bitrate
            emit("PLAYBACK_SUMMARY", t, **summary)
            if not legacy and rng.random() < 0.3:
                new_rendition, new_bitrate = rng.choice(renditions)
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
        if not legacy and rng.random() < 0.1:
            emit("ERROR", t + 10, error_code="DECODE", fatal=True, phase="playback")
        if not legacy:
            emit("STOP", t + 20, exit_before_start=False)
    records.sort(key=lambda r: r["event_time"])
    return records


Key = tuple[int, str, str, str, str]  # window_start, metric, dimension, dimension_value, split


def expected_rows(records: list[Record], *, window_s: int, top_n: int) -> dict[Key, float | None]:
    """What every engine must produce for these records, keyed like MetricRow.key()."""
    window_ms = window_s * 1000
    windows: dict[int, list[Record]] = defaultdict(list)
    for r in records:
        windows[r["event_time"] // window_ms * window_ms].append(r)
    out: dict[Key, float | None] = {}
    for start, rs in windows.items():
        sessions: dict[str, set[str]] = defaultdict(set)
        for r in rs:
            sessions[r["channel_watched"]].add(r["session_id"])
        ranked = sorted(sessions, key=lambda c: (-len(sessions[c]), c))
        keep = set(ranked[:top_n])
        groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
        for r in rs:
            groups[("all", "")].append(r)
            groups[("client_platform", r["client_platform"])].append(r)
            channel = r["channel_watched"] if r["channel_watched"] in keep else "other"
            groups[("channel_watched", channel)].append(r)
        for (dimension, value), group in groups.items():
            for name, compute in ORACLE.items():
                out[(start, name, dimension, value, "")] = compute(group)
            for rendition, share in rendition_shares(group).items():
                out[(start, "rendition_share", dimension, value, rendition)] = share
    return out
