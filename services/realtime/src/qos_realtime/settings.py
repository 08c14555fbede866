"""Realtime's settings, read once from environment variables: the local engine's
(`QOS_REALTIME_*`), the publisher Lambda's (`QOS_REALTIME_PUBLISHER_*`) and the Flink
application's lifecycle Lambda's (`QOS_REALTIME_LIFECYCLE_*`)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qos_realtime.domain.datums import PublisherConfig
from qos_realtime.domain.naming import DEFAULT_NAMESPACE

# CloudWatch's namespace rules: 1-255 of these characters, and `AWS/` is reserved.
_NAMESPACE = re.compile(r"^[A-Za-z0-9.\-_/#:]{1,255}$")


class RealtimeSettings(BaseSettings):
    """The local engine's knobs; see the service README for the table."""

    model_config = SettingsConfigDict(env_prefix="QOS_REALTIME_", extra="ignore")

    log_path: Path = Path(".qos-data/events.sqlite")
    store_path: Path = Path(".qos-data/metrics.sqlite")
    # Closed views (`qos_shared.views`), one record each, for the lake and the search index.
    views_log_path: Path = Path(".qos-data/views.sqlite")
    view_timeout_s: int = Field(default=180, ge=1, le=86_400)
    view_max_length_s: int = Field(default=4 * 3600, ge=60, le=7 * 86_400)
    window_s: int = Field(default=60, ge=5, le=3600)
    allowed_lateness_s: float = Field(default=5.0, ge=0, le=3600)
    revision_horizon_s: float = Field(default=600.0, ge=0, le=86_400)
    top_n_channels: int = Field(default=10, ge=1, le=1000)
    idle_after_s: float = Field(default=5.0, gt=0)
    live_lag_s: float = Field(default=120.0, gt=0)
    backfill_idle_after_s: float = Field(default=60.0, gt=0)
    flush_interval_s: float = Field(default=1.0, gt=0)
    poll_interval_s: float = Field(default=0.2, gt=0)
    batch_size: int = Field(default=50_000, ge=1)


class PublisherSettings(BaseSettings):
    """Every knob of the publisher; see the service README for the table."""

    model_config = SettingsConfigDict(env_prefix="QOS_REALTIME_PUBLISHER_", extra="ignore")

    namespace: str = DEFAULT_NAMESPACE
    legacy_namespace: str | None = None
    legacy_metrics: bool = True
    channels: str = ""  # comma-separated allow-list of channel_watched values

    max_attempts: int = Field(default=5, ge=1, le=20)
    base_delay_ms: int = Field(default=100, ge=0)
    max_delay_ms: int = Field(default=5000, ge=0)

    @field_validator("namespace", "legacy_namespace")
    @classmethod
    def _cloudwatch_namespace(cls, value: str | None) -> str | None:
        if value is not None and (not _NAMESPACE.fullmatch(value) or value.startswith("AWS/")):
            raise ValueError(
                f"{value!r} is not a CloudWatch namespace for custom metrics (1-255 of "
                "A-Z a-z 0-9 . - _ / # :, not starting with AWS/)"
            )
        return value

    @property
    def channel_allow_list(self) -> frozenset[str]:
        return frozenset(c.strip() for c in self.channels.split(",") if c.strip())

    @property
    def config(self) -> PublisherConfig:
        return PublisherConfig(
            namespace=self.namespace,
            legacy_namespace=self.legacy_namespace or None,
            legacy_metrics=self.legacy_metrics,
            channels=self.channel_allow_list,
        )


# The lifecycle Lambda runs for at most 15 minutes; its wait must end before, with room to answer.
LIFECYCLE_MAX_TIMEOUT_SECONDS = 840


class LifecycleSettings(BaseSettings):
    """How the lifecycle Lambda waits for the Flink application; see the service README."""

    model_config = SettingsConfigDict(env_prefix="QOS_REALTIME_LIFECYCLE_", extra="ignore")

    poll_seconds: float = Field(default=10.0, gt=0, le=300)
    timeout_seconds: float = Field(default=780.0, gt=0, le=LIFECYCLE_MAX_TIMEOUT_SECONDS)
    force_stop_after_seconds: float = Field(default=300.0, gt=0)

    @model_validator(mode="after")
    def _force_within_the_wait(self) -> LifecycleSettings:
        if self.force_stop_after_seconds >= self.timeout_seconds:
            raise ValueError(
                "force_stop_after_seconds must be less than timeout_seconds, or a graceful stop "
                "that hangs is never forced"
            )
        return self
