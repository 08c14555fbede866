"""Ground truth: the stored records a run should produce, and their KPIs computed by the oracle.

A stored record is the event as sent plus what ingest adds that a KPI or a slice can read: the
viewer's geography and device class from the CloudFront headers, `source_format` "v1" and
`event_time_source` "client" (the User-Agent fields and `received_at` are left out: no KPI reads
them). The live channels' IVS stream events (`streams`) are stored as the contract says
(`qos_shared.testing.ivs.stored_record`): `STREAM_STATE` and `STREAM_HEALTH` records. A viewer whose
clock is off sends event times `clock_skew_ms` off, with `sent_at` from the same clock; ingest
shifts them by received_at - sent_at. The truth is what it stores when it receives a request at the
moment it is sent: the true event_time, `event_time_source` "corrected" and `clock_offset_ms` =
-clock_skew_ms. Over a network the receive time is later by the request's latency, which the stored
event_time and clock_offset_ms then include: a comparison with a live run allows that much (and a
record may fall in the next window when it is that close to the boundary).

KPIs come from `qos_shared.testing.oracle` (the hand-written, engine-independent computation
every engine's tests trust), for the whole run and per realtime window, by dimension: `all`
(value ""), `client_platform`, `channel_watched` and `viewer_country`. Per window, channels
beyond the top N of the window (by distinct sessions, then name) are grouped as "other", as the
realtime engine does; over the whole run every channel is its own group.

`compute_truth` takes any stored records, so a test can compute the same document from the event
log's records and compare it with the truth file.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from qos_infra.simulator.audience import Event, Simulation, Viewer
from qos_shared.testing import ivs
from qos_shared.testing.oracle import ORACLE, rendition_shares
from qos_shared.testing.views_oracle import views

FORMAT = "qos-simulator-truth/1"
DIMENSIONS: tuple[str, ...] = ("all", "client_platform", "channel_watched", "viewer_country")
OTHER = "other"  # the realtime engine's group of channels beyond the top N

Record = dict[str, Any]
KpiValues = dict[str, Any]  # metric -> value (None: no data); "rendition_share" -> {name: %}
Groups = dict[str, dict[str, KpiValues]]  # dimension -> value -> KPIs


def stored_record(viewer: Viewer, event: Event) -> Record:
    """The record ingest should store for this event sent with this viewer's headers and clock,
    received the moment it was sent."""
    record = {**event, **viewer.enrichment(), "source_format": "v1", "event_time_source": "client"}
    if viewer.clock_skew_ms:
        # Sent as event_time + skew with sent_at = now + skew, received at now: shifted back by
        # now - (now + skew). Skews are always ones ingest corrects (SimulationConfig.validate).
        record["event_time_source"] = "corrected"
        record["clock_offset_ms"] = -viewer.clock_skew_ms
    return record


def stored_stream_record(event: Event) -> Record:
    """The record ingest should store for an IVS stream event (EventBridge) received in time
    (`received_at` left out, as for the viewers' records)."""
    record = ivs.stored_record(event, received_at_ms=0)
    del record["received_at"]
    return record


def stored_records(simulation: Simulation) -> list[Record]:
    records = [stored_record(v, e) for v, e in simulation.event_pairs()]
    records += [stored_stream_record(c.event) for c in simulation.channel_events]
    records.sort(key=lambda r: r["event_time"])
    return records


def kpis(records: list[Record]) -> KpiValues:
    """Every catalogue KPI of these records, as the oracle computes it."""
    values: KpiValues = {name: compute(records) for name, compute in ORACLE.items()}
    values["rendition_share"] = dict(sorted(rendition_shares(records).items()))
    return values


def channel_groups(records: Iterable[Record], top_n: int) -> dict[str, str]:
    """channel -> its group: itself within the top N by distinct sessions (then name), else
    "other"."""
    sessions: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.get("channel_watched") is not None:
            sessions[r["channel_watched"]].add(r["session_id"])
    ranked = sorted(sessions, key=lambda c: (-len(sessions[c]), c))
    return {c: (c if i < top_n else OTHER) for i, c in enumerate(ranked)}


def grouped(records: list[Record], *, top_n_channels: int | None = None) -> Groups:
    """KPIs by dimension value; `top_n_channels` groups the smaller channels as "other"."""
    groups = channel_groups(records, top_n_channels) if top_n_channels is not None else None
    slices: dict[str, dict[str, list[Record]]] = {d: defaultdict(list) for d in DIMENSIONS}
    for r in records:
        slices["all"][""].append(r)
        slices["client_platform"][r.get("client_platform") or ""].append(r)
        channel = r.get("channel_watched")
        if channel is not None:
            slices["channel_watched"][groups[channel] if groups else channel].append(r)
        slices["viewer_country"][r.get("viewer_country") or ""].append(r)
    return {
        dimension: {value: kpis(slices[dimension][value]) for value in sorted(slices[dimension])}
        for dimension in DIMENSIONS
    }


def compute_truth(
    records: Sequence[Mapping[str, Any]],
    *,
    window_s: int = 60,
    top_n_channels: int = 10,
    view_timeout_s: int = 180,
) -> dict[str, Any]:
    """Whole-run and per-window KPIs of stored records (event-time tumbling windows of
    `window_s`, as the realtime engine cuts them), with their views' records (views closing
    `view_timeout_s` after their last record) at their close times."""
    window_ms = window_s * 1000
    all_records = [dict(r) for r in records]
    # Each view's record, at its close time, as every engine that builds views adds it.
    all_records += views(all_records, timeout_ms=view_timeout_s * 1000)
    by_window: dict[int, list[Record]] = defaultdict(list)
    for r in all_records:
        by_window[r["event_time"] // window_ms * window_ms].append(r)
    return {
        "run": grouped(all_records),
        "windows": [
            {
                "window_start": start,
                "window_end": start + window_ms,
                "groups": grouped(by_window[start], top_n_channels=top_n_channels),
            }
            for start in sorted(by_window)
        ],
    }


def truth_document(
    simulation: Simulation, *, delivery: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The truth file's content (see docs/simulator.md for its fields)."""
    config = simulation.config
    records = stored_records(simulation)
    computed = compute_truth(
        records,
        window_s=config.window_s,
        top_n_channels=config.top_n_channels,
        view_timeout_s=config.view_timeout_s,
    )
    run_ms = config.duration_ms
    affected: Counter[int] = Counter(i for s in simulation.sessions for i in s.incidents)
    return {
        "format": FORMAT,
        "seed": config.seed,
        "parameters": parameters(simulation),
        "start_ms": config.start_ms,
        "end_ms": config.end_ms,
        "window_s": config.window_s,
        "top_n_channels": config.top_n_channels,
        "incidents": [
            {
                **inc.as_dict(run_ms),
                "start_at": config.event_time(inc.start_ms),
                "end_at": config.event_time(inc.end_ms(run_ms)),
                "sessions_affected": affected[i],
            }
            for i, inc in enumerate(config.incidents)
        ],
        "event_count": len(records),
        "event_counts": dict(sorted(Counter(r["metric_type"] for r in records).items())),
        "session_outcomes": dict(sorted(Counter(s.outcome for s in simulation.sessions).items())),
        "delivery": dict(delivery) if delivery is not None else None,
        "kpis": computed["run"],
        "windows": computed["windows"],
        "viewers": [v.as_dict(config) for v in simulation.viewers],
        # The live channels' IVS stream events, as EventBridge delivers them (not in the events
        # file, which holds what the viewers sent).
        "channel_events": [c.event for c in simulation.channel_events],
        "sessions": [s.as_dict() for s in simulation.sessions],
    }


def parameters(simulation: Simulation) -> dict[str, Any]:
    c = simulation.config
    return {
        "viewers": c.viewers,
        "minutes": c.minutes,
        "seed": c.seed,
        "start_ms": c.start_ms,
        "speed": c.speed,
        "incidents": [i.spec for i in c.incidents],
        "window_s": c.window_s,
        "top_n_channels": c.top_n_channels,
        "view_timeout_s": c.view_timeout_s,
        "batch_size": c.batch_size,
        "batch_interval_ms": c.batch_interval_ms,
        "clock_skew_share": c.clock_skew_share,
        "clock_skews_ms": list(c.clock_skews_ms),
    }


def events_path_for(truth_path: Path) -> Path:
    """The NDJSON of events beside a truth file: `x.truth.json` -> `x.events.ndjson`."""
    name = truth_path.name
    stem = name[: -len(".truth.json")] if name.endswith(".truth.json") else truth_path.stem
    return truth_path.with_name(f"{stem}.events.ndjson")


def write_truth(path: Path, simulation: Simulation, document: Mapping[str, Any]) -> Path:
    """Write the truth JSON and, beside it, every event as sent (NDJSON, by true event_time; a
    skewed clock's events with the times it sent); returns
    the events file's path. Both are replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    events_path = events_path_for(path)
    content = {**document, "events_file": events_path.name}
    _atomic_write(events_path, b"".join(orjson.dumps(e) + b"\n" for e in simulation.sent_events()))
    _atomic_write(path, orjson.dumps(content, option=orjson.OPT_INDENT_2) + b"\n")
    return events_path


def update_delivery(path: Path, delivery: Mapping[str, Any]) -> None:
    """Record the delivery outcome in an existing truth file."""
    document = orjson.loads(path.read_bytes())
    document["delivery"] = dict(delivery)
    _atomic_write(path, orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")


def read_events(path: Path) -> list[Event]:
    """The events of an NDJSON events file."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
