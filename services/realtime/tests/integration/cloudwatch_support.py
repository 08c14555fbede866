"""Reading back what the publisher put into (moto's) CloudWatch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def datapoint(
    client: Any,
    *,
    namespace: str,
    name: str,
    dimensions: dict[str, str],
    window_start_ms: int,
    statistics: list[str],
) -> dict[str, Any]:
    """The one datapoint of a metric around a window, checked to carry the window's start."""
    start = datetime.fromtimestamp(window_start_ms / 1000, tz=UTC)
    (point,) = client.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=start - timedelta(minutes=1),
        EndTime=start + timedelta(minutes=2),
        Period=60,
        Statistics=statistics,
    )["Datapoints"]
    assert point["Timestamp"] == start, "timestamped with the window start"
    return dict(point)
