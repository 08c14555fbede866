"""The realtime service's public interface: the only module other packages (infra/, bench/) import.

- Write side, local: `RealtimeConsumer` runs the window engine (`WindowEngine`, configured by
  `WindowConfig`) over the event log into the metric store (`MetricStore`), paced by
  `ConsumerTiming`; `spill_dir_default()` is where the engine writes batches without a memfd;
  `CONSUMER` names the consumer's checkpoint in the event log; `SEALED_UNTIL` the key of its
  state (`MetricReader.state`) below which windows are sealed (no more revisions; their views
  are in the views log).
- Read side: `MetricReader` answers the store's queries (series, windows, the newest and the tile
  window, the groups of a dimension) as `MetricRow`s; `UnknownMetric` is what it raises for a
  metric the catalogue lacks.
- The Flink application zip (build tooling, no CDK): `write_flink_zip`, `FLINK_JAR_NAME`,
  `build_flink_jar` (the shaded connector jar, cached), `flink_property_groups` (the
  application's runtime properties), `check_flink_connector` (the version of the connector a jar
  holds, if it fits an MSF runtime such as `flink_runtime()`, the pom's).
- The CloudWatch bill's driver: `cloudwatch_series_count` (metrics the publisher creates for
  so many platforms, allowed channels and renditions), for the cost model.
- The publisher Lambda's handler, for a harness that invokes it as Lambda would:
  `publisher_lambda_handler()` (imported on call: it needs Powertools, not DuckDB).

The local engine as a process is a command, not an import: `qos-realtime` (or `python -m
qos_realtime.entrypoints.local_engine`), as `qos up` runs it. Importing this module needs the
`local` extra (DuckDB).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qos_realtime.adapters.metric_store import MetricReader, MetricStore, UnknownMetric
from qos_realtime.adapters.window_engine import WindowEngine, spill_dir_default
from qos_realtime.domain.naming import series_count as cloudwatch_series_count
from qos_realtime.domain.rows import MetricRow
from qos_realtime.domain.windows import WindowConfig
from qos_realtime.flink_connector import check_connector_jar as check_flink_connector
from qos_realtime.flink_connector import runtime_of_pom
from qos_realtime.flink_package import JAR_NAME as FLINK_JAR_NAME
from qos_realtime.flink_package import POM as _FLINK_POM
from qos_realtime.flink_package import build_jar as build_flink_jar
from qos_realtime.flink_package import property_groups as flink_property_groups
from qos_realtime.flink_package import write_zip as write_flink_zip
from qos_realtime.service.consumer import CONSUMER, SEALED_UNTIL, ConsumerTiming, RealtimeConsumer

__all__ = [
    "CONSUMER",
    "FLINK_JAR_NAME",
    "SEALED_UNTIL",
    "ConsumerTiming",
    "MetricReader",
    "MetricRow",
    "MetricStore",
    "RealtimeConsumer",
    "UnknownMetric",
    "WindowConfig",
    "WindowEngine",
    "build_flink_jar",
    "check_flink_connector",
    "cloudwatch_series_count",
    "flink_property_groups",
    "flink_runtime",
    "publisher_lambda_handler",
    "spill_dir_default",
    "write_flink_zip",
]


def publisher_lambda_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The CloudWatch publisher's Lambda handler (built from `QOS_REALTIME_PUBLISHER_*` on its
    first invocation)."""
    from qos_realtime.entrypoints.publisher_lambda import handler

    return handler


def flink_runtime() -> str:
    """The MSF runtime (`FLINK-2_2`) of the Flink version the connector jar's pom builds for."""
    return runtime_of_pom(_FLINK_POM)
