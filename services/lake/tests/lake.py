"""Event builders and an independent read-back of a lake (DuckDB over the live files)."""

from __future__ import annotations

import itertools
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson

from qos_lake.adapters.files import live_dataset_files
from qos_shared.eventlog import EventLog, LogRecord
from qos_shared.testing.sessions import playback_summary

# 2026-11-01T22:00:00Z: two hours before midnight, so a few hours of events cross a dt= boundary.
BASE_MS = int(datetime(2026, 11, 1, 22, tzinfo=UTC).timestamp() * 1000)
HOUR_MS = 3_600_000
_counter = itertools.count()


def summary(at_ms: int = BASE_MS, **overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    event = playback_summary(
        n,
        event_id=f"ev-{n:08d}",
        is_live=n % 2 == 0,
        event_time=at_ms,
        playing_time_ms=58_000 + n,
        received_at=at_ms + 150,
        viewer_country="FR",
        viewer_latitude=48.85 + n / 1000,
    )
    return event | overrides


def append(log: EventLog, events: list[dict[str, Any]]) -> None:
    log.append([LogRecord(e["event_id"], e["session_id"], orjson.dumps(e)) for e in events])


def read_lake(root: Path) -> list[dict[str, Any]]:
    """Every row readers count, with `dt` and `hour` from the Hive path, ordered by event_id."""
    files = [str(p) for p in live_dataset_files(root)]
    if not files:
        return []
    relation = duckdb.execute(
        "SELECT * FROM read_parquet($files, hive_partitioning = true,"
        " hive_types = {'dt': VARCHAR, 'hour': VARCHAR}) ORDER BY event_id",
        {"files": files},
    )
    names = [d[0] for d in relation.description]
    return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def event_ids(root: Path) -> list[str]:
    return [str(row["event_id"]) for row in read_lake(root)]


def writer_argv(log_path: Path, root: Path, *options: str) -> list[str]:
    """The command line of a lake writer process over `log_path` into `root`."""
    return [
        sys.executable,
        "-m",
        "qos_lake.entrypoints.local_writer",
        "--log-path",
        str(log_path),
        "--lake-root",
        str(root),
        *options,
    ]
