"""The one place realtime is wired: settings in, a ready consumer (local), publisher (Lambda) or
Flink application lifecycle (the stack's custom resource Lambda) out.

The local engine's adapters are imported when it is built: the publisher Lambda's bundle, which
imports this module, has no DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qos_realtime.adapters.cloudwatch import CloudWatchSink
from qos_realtime.adapters.flink_application import MsfApplication
from qos_realtime.domain.windows import WindowConfig
from qos_realtime.service.lifecycle import ApplicationLifecycle, LifecycleTiming
from qos_realtime.service.publisher import MetricPublisher
from qos_realtime.settings import LifecycleSettings, PublisherSettings, RealtimeSettings
from qos_shared.retry import RetryPolicy
from qos_shared.views import ViewRules

if TYPE_CHECKING:
    from qos_realtime.service.consumer import RealtimeConsumer


# -- the local engine --------------------------------------------------------------------------


def window_config(settings: RealtimeSettings) -> WindowConfig:
    return WindowConfig(
        window_s=settings.window_s,
        allowed_lateness_s=settings.allowed_lateness_s,
        revision_horizon_s=settings.revision_horizon_s,
        top_n_channels=settings.top_n_channels,
        views=ViewRules(
            timeout_ms=settings.view_timeout_s * 1000,
            max_length_ms=settings.view_max_length_s * 1000,
        ),
    )


def build_consumer(settings: RealtimeSettings | None = None) -> RealtimeConsumer:
    """The window engine over the event log into the metric store and the views log; the
    caller closes `consumer.log`, `consumer.store` and `consumer.views_log` when done. Raises
    what opening them raises (`EventLogError`, `OSError`)."""
    from qos_realtime.adapters.metric_store import MetricStore
    from qos_realtime.adapters.window_engine import spill_dir_default
    from qos_realtime.service.consumer import ConsumerTiming, RealtimeConsumer
    from qos_shared.eventlog import EventLog

    settings = settings or RealtimeSettings()
    config = window_config(settings)  # settings errors before anything is opened
    log = EventLog(settings.log_path)
    try:
        store = MetricStore(settings.store_path)
    except BaseException:
        log.close()
        raise
    try:
        views_log = EventLog(settings.views_log_path)
    except BaseException:
        log.close()
        store.close()
        raise
    timing = ConsumerTiming(
        batch_size=settings.batch_size,
        idle_after_s=settings.idle_after_s,
        live_lag_s=settings.live_lag_s,
        backfill_idle_after_s=settings.backfill_idle_after_s,
        flush_interval_s=settings.flush_interval_s,
        poll_interval_s=settings.poll_interval_s,
    )
    return RealtimeConsumer(
        log, store, config, timing, spill_dir=spill_dir_default(), views_log=views_log
    )


# -- the CloudWatch publisher ------------------------------------------------------------------


def cloudwatch_client() -> Any:
    import boto3
    from botocore.config import Config

    # botocore's retries off: the sink's policy is the only one (see adapters.cloudwatch).
    return boto3.client("cloudwatch", config=Config(retries={"total_max_attempts": 1}))


def build_publisher(
    settings: PublisherSettings | None = None, client: Any | None = None
) -> MetricPublisher:
    settings = settings or PublisherSettings()
    policy = RetryPolicy(
        max_attempts=settings.max_attempts,
        base_delay_s=settings.base_delay_ms / 1000,
        max_delay_s=settings.max_delay_ms / 1000,
    )
    return MetricPublisher(settings.config, CloudWatchSink(client or cloudwatch_client(), policy))


# -- the Flink application's lifecycle ---------------------------------------------------------


def flink_client() -> Any:
    import boto3
    from botocore.config import Config

    # Describe, start and stop are safe to retry: botocore's standard retries stay on.
    return boto3.client("kinesisanalyticsv2", config=Config(retries={"mode": "standard"}))


def build_lifecycle(
    settings: LifecycleSettings | None = None, client: Any | None = None
) -> ApplicationLifecycle:
    settings = settings or LifecycleSettings()
    timing = LifecycleTiming(
        poll_s=settings.poll_seconds,
        timeout_s=settings.timeout_seconds,
        force_stop_after_s=settings.force_stop_after_seconds,
    )
    return ApplicationLifecycle(MsfApplication(client or flink_client()), timing)
