"""CDK app that deploys the ingest stack alone: `cdk deploy` from services/ingest (see cdk.json).

The platform-wide app (infra/aws/app.py) calls `add_ingest_stack` too, so the stack is built
the same way whichever app deploys it.

CDK context read here (cdk.json, or `-c key=value` on the command line):

| key | default | meaning |
| --- | --- | --- |
| `qos:env` | `dev` | environment name: stack name, SSM paths, API stage |
| `qos:ingest:corsAllowOrigins` | `["*"]` | list, or one comma-separated string |
| `qos:ingest:throttleRateLimit` | 500 | stage-wide requests per second |
| `qos:ingest:throttleBurstLimit` | 1000 | stage-wide burst |
| `qos:ingest:streamRetentionHours` | 24 | Kinesis retention, 24-8760 |
| `qos:ingest:manageApiGatewayAccountRole` | true | see `IngestStack` |
| `qos:ingest:lambdaAssetDir` | (unset) | a bundle built beforehand: skip the build |
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

from qos_ingest_infra.packaging import INGEST_ROOT, build_lambda_asset
from qos_ingest_infra.stack import IngestStack

DEFAULT_ENV_NAME = "dev"
# Gitignored (`.build/`); rebuilt on every synth, which takes seconds with a warm uv cache.
DEFAULT_ASSET_DIR = INGEST_ROOT / ".build" / "lambda"

_CTX = "qos:ingest:"


def add_ingest_stack(app: App, *, env_name: str, env: Environment | None) -> IngestStack:
    """Build the Lambda bundle (unless context names a prebuilt one) and add the stack."""
    prebuilt = app.node.try_get_context(f"{_CTX}lambdaAssetDir")
    asset_dir = Path(prebuilt) if prebuilt else build_lambda_asset(DEFAULT_ASSET_DIR)
    stack_name = f"qos-{env_name}-ingest"
    return IngestStack(
        app,
        stack_name,
        stack_name=stack_name,
        env=env,
        env_name=env_name,
        asset_dir=asset_dir,
        cors_allow_origins=_string_list(_context(app, "corsAllowOrigins", ["*"])),
        throttle_rate_limit=float(_context(app, "throttleRateLimit", 500)),
        throttle_burst_limit=int(_context(app, "throttleBurstLimit", 1000)),
        stream_retention_hours=int(_context(app, "streamRetentionHours", 24)),
        manage_api_gateway_account_role=_flag(_context(app, "manageApiGatewayAccountRole", True)),
    )


def env_name_from_context(app: App) -> str:
    return str(app.node.try_get_context("qos:env") or DEFAULT_ENV_NAME)


def default_environment() -> Environment | None:
    """The account and region the CDK CLI resolved from the profile, if it ran us.

    None leaves the stack environment-agnostic (e.g. plain `python -m ...` without credentials).
    """
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    if not account and not region:
        return None
    return Environment(account=account, region=region)


def _context(app: App, name: str, default: Any) -> Any:
    value = app.node.try_get_context(f"{_CTX}{name}")
    return default if value is None else value


def _string_list(value: Any) -> list[str]:
    # `-c key=a,b` arrives as one string, cdk.json gives a JSON list.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return list(value)
    raise ValueError(f"expected a list of strings or a comma-separated string, got {value!r}")


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"expected true or false, got {value!r}")


def main() -> None:
    app = App()
    add_ingest_stack(app, env_name=env_name_from_context(app), env=default_environment())
    app.synth()


if __name__ == "__main__":
    main()
