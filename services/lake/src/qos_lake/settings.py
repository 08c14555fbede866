"""The lake writer's settings, read once from `QOS_LAKE_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LakeSettings(BaseSettings):
    """The local writer's knobs; see the service README for the table."""

    model_config = SettingsConfigDict(env_prefix="QOS_LAKE_", extra="ignore")

    log_path: Path = Path(".qos-data/events.sqlite")
    # The realtime engine's views log (a record per closed view): the `views` table's source;
    # by default `views.sqlite` beside the event log, as `qos up` lays its data folder out.
    views_log_path: Path | None = None

    @property
    def views_log(self) -> Path:
        """The views log's path (`views_log_path`, or `views.sqlite` beside the event log)."""
        return self.views_log_path or self.log_path.with_name("views.sqlite")

    lake_root: Path = Path(".qos-data/lake")
    # Large flushes make few, large files (what Athena and DuckDB read fastest); the time bound
    # keeps a quiet stream's events from waiting long to become queryable.
    flush_records: int = Field(default=200_000, ge=1, le=5_000_000)
    flush_seconds: float = Field(default=10.0, gt=0, le=3600)
    read_batch: int = Field(default=20_000, ge=1)
    poll_interval_s: float = Field(default=0.2, gt=0)
    keep_markers: int = Field(default=100, ge=1)
