"""Secrets Manager reads: the pseudonymisation key and the origin secret's accepted values."""

from __future__ import annotations

from typing import Any


def secret_value(client: Any, arn: str, stage: str = "AWSCURRENT") -> bytes | None:
    """The secret's value at `stage` as bytes (SecretString as UTF-8, or SecretBinary), or None
    when the secret has no version at that stage (AWSPREVIOUS before the first rotation)."""
    try:
        response = client.get_secret_value(SecretId=arn, VersionStage=stage)
    except client.exceptions.ResourceNotFoundException:
        if stage == "AWSCURRENT":
            raise
        return None
    if response.get("SecretString") is not None:
        return str(response["SecretString"]).encode()
    binary = response.get("SecretBinary")
    return bytes(binary) if binary is not None else None


ROTATION_STAGES = ("AWSCURRENT", "AWSPREVIOUS", "AWSPENDING")


def rotating_values(client: Any, arn: str) -> list[bytes]:
    """The values a rotating secret accepts: its current version and, during a rotation, the
    previous one (CloudFront's configuration takes minutes to catch up with a new value) and
    the pending one (a rotation function sets the new header value on the distribution before
    it makes that value current)."""
    values = [secret_value(client, arn, stage) for stage in ROTATION_STAGES]
    return [v for v in values if v]
