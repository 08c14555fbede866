"""Realtime's settings, read once from `QOS_REALTIME_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RealtimeSettings(BaseSettings):
    """The local engine's knobs; see the service README for the table."""

    model_config = SettingsConfigDict(env_prefix="QOS_REALTIME_", extra="ignore")

    log_path: Path = Path(".qos-data/events.sqlite")
    store_path: Path = Path(".qos-data/metrics.sqlite")
    window_s: int = Field(default=60, ge=5, le=3600)
    allowed_lateness_s: float = Field(default=5.0, ge=0, le=3600)
    top_n_channels: int = Field(default=10, ge=1, le=1000)
    idle_after_s: float = Field(default=5.0, gt=0)
    flush_interval_s: float = Field(default=1.0, gt=0)
    poll_interval_s: float = Field(default=0.2, gt=0)
    batch_size: int = Field(default=50_000, ge=1)
