"""The local indexer's settings, read once from `QOS_SEARCH_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SearchSettings(BaseSettings):
    """The local indexer's knobs; see the service README for the table."""

    model_config = SettingsConfigDict(env_prefix="QOS_SEARCH_", extra="ignore")

    log_path: Path = Path(".qos-data/events.sqlite")
    dead_letter_path: Path = Path(".qos-data/search-dead-letters.sqlite")
    url: str = "http://127.0.0.1:9200"
    username: str | None = None
    password: SecretStr | None = None
    batch_size: int = Field(default=5_000, ge=1, le=100_000)
    poll_interval_s: float = Field(default=0.5, gt=0)
    request_timeout_s: float = Field(default=60.0, gt=0)

    def auth(self) -> tuple[str, str] | None:
        """Basic auth, when both a user name and a password are set."""
        if self.username and self.password:
            return (self.username, self.password.get_secret_value())
        return None
