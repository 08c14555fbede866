"""The local indexer's and the indexer Lambda's settings, read once from `QOS_SEARCH_*` environment
variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SearchSettings(BaseSettings):
    """The local indexer's knobs; see the service README for the table."""

    model_config = SettingsConfigDict(env_prefix="QOS_SEARCH_", extra="ignore")

    log_path: Path = Path(".qos-data/events.sqlite")
    dead_letter_path: Path = Path(".qos-data/search-dead-letters.sqlite")
    # The realtime engine's log of closed views, indexed into qos-views-* with its own
    # checkpoint; its dead letters apart (a store is keyed by log position, and each log
    # numbers its own).
    views_log_path: Path = Path(".qos-data/views.sqlite")
    views_dead_letter_path: Path = Path(".qos-data/search-view-dead-letters.sqlite")
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


class IndexerLambdaSettings(BaseSettings):
    """The indexer Lambda's settings (`QOS_SEARCH_*`, set by the stack): the domain, how its
    requests are signed, where dead letters go, how often an item is tried in one invocation."""

    # `region` is the Lambda runtime's AWS_REGION (by that name, or `region=` in code).
    model_config = SettingsConfigDict(
        env_prefix="QOS_SEARCH_", extra="ignore", populate_by_name=True
    )

    # The domain's endpoint as a URL: https://<domain endpoint> on AWS.
    url: str
    # SigV4-sign every request with the function's role (OpenSearch Service); off for a local
    # node, which takes plain HTTP.
    sigv4: bool = True
    region: str | None = Field(default=None, validation_alias="AWS_REGION")
    dead_letter_bucket: str
    dead_letter_prefix: str = "dead-letters/"
    # The views stream (a second event source of the same function): its batches' dead letters
    # go under their own prefix, since two streams' sequence numbers are not one key space.
    views_stream_arn: str = ""
    views_dead_letter_prefix: str = "dead-letters/views/"
    request_timeout_s: float = Field(default=30.0, gt=0)
    item_attempts: int = Field(default=3, ge=1, le=10)
