"""CDK app that deploys the lake stack alone: `cdk deploy` in services/lake (cdk.json).

The platform-wide app (infra/aws/app.py) calls `add_lake_stack` too, so the stack is built the
same way whichever app deploys it. The ingest stack must have been deployed first in the same
account, region and environment: its stream ARN is read from SSM at deploy time.

CDK context read here (cdk.json, or `-c key=value` on the command line):

| key | default | meaning |
| --- | --- | --- |
| `qos:env` | `dev` | environment name: stack name, SSM paths, resource names |
| `qos:lake:bufferSizeMiB` | 128 | Firehose file size, 64-128 |
| `qos:lake:bufferIntervalSeconds` | 300 | Firehose file age, 0-900 |
| `qos:lake:transitionToIaDays` | 30 | days before lake data moves to Standard-IA; `null`: never |
| `qos:lake:expireDataDays` | (never) | days before lake data is deleted |
| `qos:lake:expireErrorsDays` | 90 | lifetime of Firehose's failed records |
| `qos:lake:expireResultsDays` | 30 | lifetime of Athena's results |
| `qos:lake:projectionStart` | `NOW-3YEARS` | oldest day Athena sees |
| `qos:lake:bytesScannedCutoffGiB` | 10 | Athena cancels a query past this much |
"""

from __future__ import annotations

import os
from typing import Any

from aws_cdk import App, Environment

from qos_lake_infra.catalog import DEFAULT_PROJECTION_START
from qos_lake_infra.stack import LakeStack

DEFAULT_ENV_NAME = "dev"

_CTX = "qos:lake:"


def add_lake_stack(app: App, *, env_name: str, env: Environment | None) -> LakeStack:
    stack_name = f"qos-{env_name}-lake"
    transition = _context(app, "transitionToIaDays", 30)
    expire = _context(app, "expireDataDays", None)
    return LakeStack(
        app,
        stack_name,
        stack_name=stack_name,
        env=env,
        env_name=env_name,
        buffer_size_mib=int(_context(app, "bufferSizeMiB", 128)),
        buffer_interval_seconds=int(_context(app, "bufferIntervalSeconds", 300)),
        transition_to_ia_days=_optional_int(transition),
        expire_data_days=_optional_int(expire),
        expire_errors_days=int(_context(app, "expireErrorsDays", 90)),
        expire_results_days=int(_context(app, "expireResultsDays", 30)),
        projection_start=str(_context(app, "projectionStart", DEFAULT_PROJECTION_START)),
        bytes_scanned_cutoff_gib=float(_context(app, "bytesScannedCutoffGiB", 10)),
    )


def env_name_from_context(app: App) -> str:
    return str(app.node.try_get_context("qos:env") or DEFAULT_ENV_NAME)


def default_environment() -> Environment | None:
    """The account and region the CDK CLI resolved, if it ran us; else environment-agnostic."""
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    if not account and not region:
        return None
    return Environment(account=account, region=region)


def _context(app: App, name: str, default: Any) -> Any:
    value = app.node.try_get_context(f"{_CTX}{name}")
    return default if value is None else value


def _optional_int(value: Any) -> int | None:
    # `-c key=none` arrives as text; cdk.json can say null (which reads as unset: the default).
    if value is None or (isinstance(value, str) and value.lower() in ("", "none", "null")):
        return None
    return int(value)


def main() -> None:
    app = App()
    add_lake_stack(app, env_name=env_name_from_context(app), env=default_environment())
    app.synth()


if __name__ == "__main__":
    main()
