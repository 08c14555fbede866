"""The local window engine (DuckDB) and a one-call form of it for bounded inputs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from qos_realtime.domain.rows import MetricRow
from qos_realtime.engine.windows import BatchResult, WindowConfig, WindowEngine

__all__ = ["BatchResult", "WindowConfig", "WindowEngine", "compute_rows"]


def compute_rows(
    records: Iterable[dict[str, Any]], *, window_s: int = 60, top_n: int = 10
) -> list[MetricRow]:
    """Final rows of every window of a bounded set of stored records (one batch, so none is
    late), as a Flink job on a bounded source would emit them."""
    engine = WindowEngine(WindowConfig(window_s=window_s, top_n_channels=top_n))
    engine.add([orjson.dumps(r) for r in records])
    windows = engine.open_windows()
    rows = engine.rows(windows, final=True)
    engine.close(windows)
    return rows
