"""Ingest's settings, read once from `QOS_INGEST_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    user_id_hmac_key: SecretStr | None = None
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
