"""Ingest's settings, read once from `QOS_INGEST_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qos_ingest.domain.edge import parse_networks
from qos_shared.limits import RequestLimits

_DEFAULTS = RequestLimits()


class IngestSettings(BaseSettings):
    """Every knob of the ingest service; see the service README for the table."""

    model_config = SettingsConfigDict(env_prefix="QOS_INGEST_", extra="ignore")

    sink: Literal["local", "kinesis", "firehose"] = "local"
    log_path: Path = Field(default=Path(".qos-data/events.sqlite"))
    log_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    stream_name: str | None = None
    delivery_stream_name: str | None = None

    max_body_bytes: int = Field(default=_DEFAULTS.max_body_bytes, gt=0)
    max_events: int = Field(default=_DEFAULTS.max_events, gt=0)
    max_future_skew_ms: int = Field(default=_DEFAULTS.max_future_skew_ms, ge=0)
    max_event_age_ms: int = Field(default=_DEFAULTS.max_event_age_ms, gt=0)
    clock_tolerance_ms: int = Field(default=_DEFAULTS.clock_tolerance_ms, ge=0)
    max_clock_correction_ms: int = Field(default=_DEFAULTS.max_clock_correction_ms, ge=0)

    # user_id pseudonymisation key (HMAC-SHA256), first found: this value; the Secrets Manager
    # secret named here (AWS); the key file (local sink only: made on first run, mode 0600).
    user_id_hmac_key: SecretStr | None = None
    pseudonym_key_secret_arn: str | None = None
    pseudonym_key_path: Path | None = None  # default: pseudonym.key beside the event log

    # The edge: with an origin secret (AWS), requests must carry its value in
    # x-qos-origin-verify (AWSCURRENT, AWSPREVIOUS or AWSPENDING); without, viewer headers are
    # believed only from these proxy addresses or CIDR blocks (comma-separated; none by default).
    origin_secret_arn: str | None = None
    origin_secret_ttl_s: float = Field(default=300.0, gt=0)
    # An unknown value makes the secret be read again (a rotation just done), at most this often.
    origin_secret_min_refresh_s: float = Field(default=5.0, ge=0)
    trusted_proxies: str = ""

    cors_allow_origins: str = "*"

    sink_max_attempts: int = Field(default=5, ge=1)
    sink_base_delay_ms: int = Field(default=50, ge=0)
    sink_max_delay_ms: int = Field(default=2000, ge=0)

    host: str = "127.0.0.1"
    port: int = Field(default=8780, ge=0, le=65535)

    @model_validator(mode="after")
    def _sink_target_named(self) -> IngestSettings:
        if self.sink == "kinesis" and not self.stream_name:
            raise ValueError("QOS_INGEST_STREAM_NAME is required when QOS_INGEST_SINK=kinesis")
        if self.sink == "firehose" and not self.delivery_stream_name:
            raise ValueError(
                "QOS_INGEST_DELIVERY_STREAM_NAME is required when QOS_INGEST_SINK=firehose"
            )
        return self

    @model_validator(mode="after")
    def _proxies_parse(self) -> IngestSettings:
        parse_networks(self.trusted_proxies)  # ValueError names the bad entry
        return self

    @property
    def key_path(self) -> Path:
        return self.pseudonym_key_path or self.log_path.parent / "pseudonym.key"

    @property
    def limits(self) -> RequestLimits:
        return RequestLimits(
            max_body_bytes=self.max_body_bytes,
            max_events=self.max_events,
            max_future_skew_ms=self.max_future_skew_ms,
            max_event_age_ms=self.max_event_age_ms,
            clock_tolerance_ms=self.clock_tolerance_ms,
            max_clock_correction_ms=self.max_clock_correction_ms,
        )

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.cors_allow_origins.split(",") if o.strip()]
