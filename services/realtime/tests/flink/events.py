"""Golden events for the Flink job's tests, and a plain-Python oracle of a few metrics.

`generate` makes stored records as ingest would (flat event + enrichment fields) for viewing
sessions across four platforms and five channels, with every event type: ATTEMPT (or, for old
players, none), PLAY, PLAYBACK_SUMMARY with rendition, bitrate (not always) and live latency (live
sessions only), QUALITY_CHANGED, recoverable and fatal ERRORs in both phases, STOP with and
without exit_before_start. Records come out of event-time order, but never by more than
`max_disorder_ms`, which a test keeps below the allowed lateness so that no record is late.
Startup times repeat (`other` platforms report whole seconds), and a few exceed 20 s (one
distribution row's span of values, so some groups' values take two rows).

The oracle is written from METRICS.md, not from the catalogue, for a handful of metrics and for
the values behind the percentiles (the distribution rows).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Any

from qos_shared.testing.oracle import ORACLE, Record, rendition_shares

__all__ = ["ORACLE", "Record"]
Key = tuple[int, str, str, str, str]  # MetricRow.key(): window, metric, dimension, value, split
# DistributionRow.key(): window, source, dimension, dimension value
DistributionKey = tuple[int, str, str, str]
BASE_MS = 1_796_000_000_000  # a multiple of 60 s: windows start on round epoch seconds
# The job's settings for the golden data: the disorder stays below the lateness.
WINDOW_S = 30
LATENESS_S = 5.0
PLATFORMS = ("web", "ios", "android", "other")
CHANNELS = ("news", "sports", "music", "kids", "movies")
RENDITIONS = (("1080p60", 7_800_000), ("720p", 3_000_000), ("480p", 1_400_000), ("160p", 230_000))


def generate(
    seed: int = 20_240_601,
    *,
    sessions: int = 90,
    span_ms: int = 150_000,
    max_disorder_ms: int = 4_000,
) -> list[Record]:
    """Stored records of `sessions` sessions starting within `span_ms`, slightly out of order."""
    rng = random.Random(seed)
    records: list[Record] = []
    for n in range(sessions):
        legacy = rng.random() < 0.15
        platform = rng.choice(PLATFORMS)
        base: Record = {
            "session_id": f"sess-{n:03d}",
            "user_id": f"viewer-{rng.randrange(40)}",
            "client_platform": platform,
            "channel_watched": rng.choice(CHANNELS),
            "is_live": rng.random() < 0.75,
            "schema_version": "1",
            "player_version": "1.30.0",
            "source_format": "legacy" if legacy else "v1",
            "event_time_source": "client",
            "device_class": "mobile" if platform in ("ios", "android") else "desktop",
            "viewer_country": rng.choice(["US", "DE", "BR", None]),
        }
        clock = BASE_MS + rng.randrange(span_ms)

        def emit(metric_type: str, at: int, base: Record = base, **fields: Any) -> None:
            records.append(
                {
                    **base,
                    "metric_type": metric_type,
                    "event_time": at,
                    "event_id": f"{base['session_id']}-{len(records):05d}",
                    "received_at": at + rng.randrange(20, 400),
                    **fields,
                }
            )

        if not legacy:
            emit("ATTEMPT", clock, visibility_state="visible", autoplay=rng.random() < 0.5)
        outcome = rng.random()
        if not legacy and outcome < 0.09:  # a video start failure
            emit("ERROR", clock + 1_200, error_code="4003", fatal=True, phase="startup")
            emit("STOP", clock + 1_250, exit_before_start=False)
            continue
        if not legacy and outcome < 0.17:  # the viewer gave up waiting
            emit("STOP", clock + rng.randrange(500, 9_000), exit_before_start=True)
            continue
        startup = rng.randrange(250, 9_000)
        if platform == "other":  # these players report whole seconds: values repeat
            startup = max(1_000, startup - startup % 1_000)
        if n % 15 == 7:  # a slow start, past one distribution row's 20 s of values
            startup += 20_000
        clock += startup
        emit("PLAY", clock, startup_latency_ms=startup, start_playback_position_sec=0.0)
        rendition, bitrate = rng.choice(RENDITIONS)
        for _ in range(rng.randrange(1, 7)):
            step = rng.randrange(8_000, 20_000)
            buffering = rng.choice([0, 0, 0, rng.randrange(50, step // 3)])
            playing = 0 if rng.random() < 0.07 else step - buffering  # paused: no playing time
            clock += step
            summary: Record = {
                "playing_time_ms": playing,
                "buffering_time_ms": buffering,
                "buffering_count": 0 if buffering == 0 else rng.randrange(1, 4),
                "error_count": rng.choice([0, 0, 0, 0, 1, 2]),
                "rendition_name": rendition,
                "rendition_height": int(rendition[:3].rstrip("p")),
                "dropped_frames": rng.randrange(0, 30),
            }
            if base["is_live"] and rng.random() < 0.9:
                summary["live_latency_ms"] = rng.randrange(1_800, 12_000)
            if rng.random() < 0.85:
                summary["bitrate_bps"] = bitrate
            emit("PLAYBACK_SUMMARY", clock, **summary)
            if rng.random() < 0.35:
                new_rendition, new_bitrate = rng.choice(RENDITIONS)
                if new_rendition != rendition:
                    emit(
                        "QUALITY_CHANGED",
                        clock + 40,
                        from_rendition_name=rendition,
                        to_rendition_name=new_rendition,
                        from_bitrate=bitrate,
                        to_bitrate=new_bitrate,
                        step_direction="UP" if new_bitrate > bitrate else "DOWN",
                    )
                    rendition, bitrate = new_rendition, new_bitrate
            if rng.random() < 0.1:
                emit("ERROR", clock + 70, error_code="BUFFER_STALL", fatal=False, phase="playback")
        if rng.random() < 0.08:
            emit("ERROR", clock + 90, error_code="3001", fatal=True, phase="playback")
        emit("STOP", clock + 120, exit_before_start=False, end_playback_position_sec=12.5)
    # Arrival order: event time plus a random delay below max_disorder_ms.
    delays = [rng.randrange(max_disorder_ms) for _ in records]
    order = sorted(range(len(records)), key=lambda i: records[i]["event_time"] + delays[i])
    return [records[i] for i in order]


# --- the oracle: every metric, from the hand-written module shared by the engines' tests ------


def oracle_rows(records: list[Record], *, window_s: int) -> dict[Key, float | None]:
    """Every metric of the oracle, and the rendition shares, of every window and group."""
    window_ms = window_s * 1000
    groups: dict[tuple[int, str, str], list[Record]] = defaultdict(list)
    for r in records:
        start = r["event_time"] - r["event_time"] % window_ms
        groups[(start, "all", "")].append(r)
        groups[(start, "client_platform", r["client_platform"])].append(r)
        groups[(start, "channel_watched", r["channel_watched"])].append(r)
    out: dict[Key, float | None] = {}
    for (start, dimension, value), rs in groups.items():
        for name, compute in ORACLE.items():
            out[(start, name, dimension, value, "")] = compute(rs)
        for rendition, share in rendition_shares(rs).items():
            out[(start, "rendition_share", dimension, value, rendition)] = share
    return out


def _groups(record: Record) -> list[tuple[str, str]]:
    return [
        ("all", ""),
        ("client_platform", record["client_platform"]),
        ("channel_watched", record["channel_watched"]),
    ]


def oracle_distributions(
    records: list[Record], *, window_s: int
) -> dict[DistributionKey, Counter[int]]:
    """The values behind the percentiles, per window, group and source field, from METRICS.md:
    the startup time of PLAY events, the live latency of live PLAYBACK_SUMMARY events that
    report one. Only groups with a value have an entry."""
    window_ms = window_s * 1000
    out: dict[DistributionKey, Counter[int]] = defaultdict(Counter)
    for r in records:
        start = r["event_time"] - r["event_time"] % window_ms
        found: list[tuple[str, int]] = []
        if r["metric_type"] == "PLAY" and r.get("startup_latency_ms") is not None:
            found.append(("startup_latency_ms", r["startup_latency_ms"]))
        if (
            r["metric_type"] == "PLAYBACK_SUMMARY"
            and r["is_live"]
            and r.get("live_latency_ms") is not None
        ):
            found.append(("live_latency_ms", r["live_latency_ms"]))
        for source, value in found:
            for dimension, dimension_value in _groups(r):
                out[(start, source, dimension, dimension_value)][value] += 1
    return dict(out)
