"""The local indexer's settings, read once from `QOS_SEARCH_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from opensearchpy import OpenSearch
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

    def client(self) -> OpenSearch:
        return client_for(
            self.url,
            auth=(self.username, self.password.get_secret_value())
            if self.username and self.password
            else None,
            timeout=self.request_timeout_s,
        )


def client_for(
    url: str, *, auth: tuple[str, str] | None = None, timeout: float = 60.0
) -> OpenSearch:
    """A client that leaves retrying to its caller (the indexer retries batches itself)."""
    return OpenSearch(
        hosts=[url],
        http_auth=auth,
        timeout=timeout,
        max_retries=0,
        retry_on_timeout=False,
        http_compress=False,
    )
