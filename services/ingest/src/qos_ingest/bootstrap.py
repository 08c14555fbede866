"""The one place ingest is wired: settings in, a ready IngestService out."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from qos_ingest.adapters import EventSink
from qos_ingest.domain import IngestConfig
from qos_ingest.domain.edge import EdgePolicy, OriginSecret, parse_networks
from qos_ingest.domain.enrichment import Pseudonymiser
from qos_ingest.service import IngestService
from qos_ingest.settings import IngestSettings
from qos_shared.retry import RetryPolicy


class PseudonymKeyMissing(RuntimeError):
    """An AWS sink with no pseudonymisation key configured: user ids would be stored raw."""


def pseudonym_key(settings: IngestSettings, secrets_client: Any = None) -> bytes:
    """The user_id key: the setting's value, else the Secrets Manager secret, else (local sink
    only) the key file beside the event log, made on first run. An AWS sink without either of
    the first two is PseudonymKeyMissing: user ids are never stored raw."""
    if settings.user_id_hmac_key is not None:
        return settings.user_id_hmac_key.get_secret_value().encode()
    if settings.pseudonym_key_secret_arn:
        from qos_ingest.adapters.secrets import secret_value

        value = secret_value(secrets_client or _secrets_client(), settings.pseudonym_key_secret_arn)
        if not value:
            raise PseudonymKeyMissing(
                f"the secret {settings.pseudonym_key_secret_arn} holds no pseudonymisation key"
            )
        return value
    if settings.sink == "local":
        from qos_ingest.adapters.key_file import local_key

        return local_key(settings.key_path)
    raise PseudonymKeyMissing(
        f"no user_id pseudonymisation key for the {settings.sink} sink: set"
        " QOS_INGEST_PSEUDONYM_KEY_SECRET_ARN to a Secrets Manager secret (the stack does) or"
        " QOS_INGEST_USER_ID_HMAC_KEY; ingest does not store user ids raw"
    )


def build_config(settings: IngestSettings, secrets_client: Any = None) -> IngestConfig:
    return IngestConfig(
        limits=settings.limits,
        pseudonymise=Pseudonymiser(pseudonym_key(settings, secrets_client)),
    )


def build_edge(settings: IngestSettings, secrets_client: Any = None) -> EdgePolicy:
    origin = None
    if settings.origin_secret_arn:
        from qos_ingest.adapters.secrets import rotating_values

        fetch = partial(
            rotating_values, secrets_client or _secrets_client(), settings.origin_secret_arn
        )
        origin = OriginSecret(
            fetch,
            clock=time.monotonic,
            ttl_s=settings.origin_secret_ttl_s,
            min_refresh_s=settings.origin_secret_min_refresh_s,
        )
    return EdgePolicy(origin, parse_networks(settings.trusted_proxies))


def _secrets_client() -> Any:
    import boto3

    return boto3.client("secretsmanager")


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
    """Wired once per process (per Lambda container, so the key is read once per container): a
    missing key fails the start, before any request is taken."""
    settings = settings or IngestSettings()
    secrets_client = (
        _secrets_client()
        if settings.pseudonym_key_secret_arn or settings.origin_secret_arn
        else None
    )
    return IngestService(
        build_config(settings, secrets_client),
        build_sink(settings),
        build_edge(settings, secrets_client),
    )


def build_stream_event_service(settings: IngestSettings | None = None) -> IngestService:
    """For Amazon IVS's stream events (the EventBridge rule's function): their records hold no
    user id and come from no client, so it needs neither the pseudonymisation key nor the
    edge's origin secret, and its role may read neither."""
    settings = settings or IngestSettings()
    return IngestService(IngestConfig(limits=settings.limits), build_sink(settings))
