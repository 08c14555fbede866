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

from pathlib import Path

from aws_cdk import App, Environment

from qos_ingest_infra.packaging import INGEST_ROOT, build_lambda_asset
from qos_ingest_infra.stack import SERVICE, IngestStack
from qos_shared_cdk.app import run_alone
from qos_shared_cdk.context import ServiceContext, flag, stack_identity, string_list

# Gitignored (`.build/`); rebuilt on every synth, which takes seconds with a warm uv cache.
DEFAULT_ASSET_DIR = INGEST_ROOT / ".build" / "lambda"


def add_ingest_stack(app: App, *, env_name: str, env: Environment | None) -> IngestStack:
    """Build the Lambda bundle (unless context names a prebuilt one) and add the stack."""
    context = ServiceContext(app, SERVICE)
    prebuilt = context.get("lambdaAssetDir")
    asset_dir = Path(prebuilt) if prebuilt else build_lambda_asset(DEFAULT_ASSET_DIR)
    return IngestStack(
        **stack_identity(app, SERVICE, env_name, env),
        asset_dir=asset_dir,
        cors_allow_origins=string_list(context.get("corsAllowOrigins", ["*"])),
        throttle_rate_limit=float(context.get("throttleRateLimit", 500)),
        throttle_burst_limit=int(context.get("throttleBurstLimit", 1000)),
        stream_retention_hours=int(context.get("streamRetentionHours", 24)),
        manage_api_gateway_account_role=flag(context.get("manageApiGatewayAccountRole", True)),
    )


def main() -> None:
    run_alone(add_ingest_stack)


if __name__ == "__main__":
    main()
