"""The one place ingest is wired: settings in, a ready IngestService out."""

from __future__ import annotations

from qos_ingest.adapters import EventSink
from qos_ingest.domain import IngestConfig
from qos_ingest.domain.enrichment import Pseudonymiser
from qos_ingest.service import IngestService
from qos_ingest.settings import IngestSettings
from qos_shared.retry import RetryPolicy


def build_config(settings: IngestSettings) -> IngestConfig:
    key = settings.user_id_hmac_key
    return IngestConfig(
        limits=settings.limits,
        pseudonymise=Pseudonymiser(key.get_secret_value().encode()) if key else None,
    )


def build_sink(settings: IngestSettings) -> EventSink:
    policy = RetryPolicy(
        max_attempts=settings.sink_max_attempts,
        base_delay_s=settings.sink_base_delay_ms / 1000,
        max_delay_s=settings.sink_max_delay_ms / 1000,
    )
    if settings.sink == "kinesis":
        import boto3

        from qos_ingest.adapters.kinesis import KinesisSink

        assert settings.stream_name is not None
        return KinesisSink(boto3.client("kinesis"), settings.stream_name, policy)
    if settings.sink == "firehose":
        import boto3

        from qos_ingest.adapters.firehose import FirehoseSink

        assert settings.delivery_stream_name is not None
        return FirehoseSink(boto3.client("firehose"), settings.delivery_stream_name, policy)

    from qos_ingest.adapters.local_log import LocalLogSink
    from qos_shared.eventlog import EventLog

    return LocalLogSink(EventLog(settings.log_path, synchronous=settings.log_synchronous))


def build_service(settings: IngestSettings | None = None) -> IngestService:
    settings = settings or IngestSettings()
    return IngestService(build_config(settings), build_sink(settings))
