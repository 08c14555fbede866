"""CDK app that deploys the ingest stacks alone: `cdk deploy` from services/ingest (see cdk.json).

The platform-wide app (infra/aws/app.py) calls `add_ingest_stack` too, so the stacks are built
the same way whichever app deploys them: `qos-<env>-ingest` and, in us-east-1 (where CloudFront's
web ACLs must live), `qos-<env>-ingest-waf`, which the ingest stack deploys after.

CDK context read here (cdk.json, or `-c key=value` on the command line):

| key | default | meaning |
| --- | --- | --- |
| `qos:env` | `dev` | environment name: stack name, SSM paths, API stage |
| `qos:ingest:corsAllowOrigins` | the demo page | list or comma-separated; `*` alone: any page |
| `qos:ingest:wafRateLimit` | 2000 | requests per client IP in 5 minutes before a 429 |
| `qos:ingest:originVerifyVersion` | (AWSCURRENT) | origin secret version CloudFront sends |
| `qos:ingest:demoStreamUrl` | IVS test stream | the HLS stream the hosted demo page plays |
| `qos:ingest:demoChannel` | `demo` | the channel the hosted demo page reports |
| `qos:ingest:demoSiteDir` | (unset) | a demo site built beforehand: skip assembling it |
| `qos:ingest:manageApiGatewayAccountRole` | true | see `IngestStack` |
| `qos:ingest:lambdaAssetDir` | (unset) | a bundle built beforehand: skip the build |

The scaling settings (`streamMode`, `streamShards`, `expectedEventsPerSecond`, `memoryMiB`,
`reservedConcurrency`, `throttleRateLimit`, `throttleBurstLimit`, `streamRetentionHours`) are
read by `qos_shared_cdk.scaling`, whose table lists them; `qos cost` prices the same values.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Environment

from qos_ingest_infra.demo_site import build_demo_site
from qos_ingest_infra.packaging import INGEST_ROOT, build_lambda_asset
from qos_ingest_infra.stack import (
    DEFAULT_DEMO_CHANNEL,
    DEFAULT_DEMO_STREAM_URL,
    SERVICE,
    IngestStack,
)
from qos_ingest_infra.waf import IngestWafStack
from qos_shared.limits import RequestLimits
from qos_shared_cdk.app import run_alone
from qos_shared_cdk.context import (
    ServiceContext,
    context_lookup,
    flag,
    stack_identity,
    string_list,
)
from qos_shared_cdk.scaling import ingest_scaling

# Gitignored (`.build/`); rebuilt on every synth, which takes seconds with a warm uv cache.
DEFAULT_ASSET_DIR = INGEST_ROOT / ".build" / "lambda"


def add_ingest_stack(app: App, *, env_name: str, env: Environment | None) -> IngestStack:
    """Build the Lambda bundle and the demo site (unless context names prebuilt ones), add the
    WAF stack and the ingest stack, which deploys after it."""
    context = ServiceContext(app, SERVICE)
    scaling = ingest_scaling(context_lookup(app))
    prebuilt = context.get("lambdaAssetDir")
    asset_dir = Path(prebuilt) if prebuilt else build_lambda_asset(DEFAULT_ASSET_DIR)
    site = context.get("demoSiteDir")
    site_dir = Path(site) if site else build_demo_site()
    origins = context.get("corsAllowOrigins")
    waf = IngestWafStack(
        app,
        env_name=env_name,
        account=env.account if env else None,
        rate_limit=int(context.get("wafRateLimit", 2000)),
        # The ingest's own limit: a larger declared body would be refused by the function anyway.
        max_body_bytes=RequestLimits().max_body_bytes,
    )
    version = context.get("originVerifyVersion")
    stack = IngestStack(
        **stack_identity(app, SERVICE, env_name, env),
        asset_dir=asset_dir,
        demo_site_dir=site_dir,
        cors_allow_origins=None if origins is None else string_list(origins),
        reserved_concurrency=scaling.reserved_concurrency,
        memory_mib=scaling.memory_mib,
        stream_shards=scaling.stream_shards,
        throttle_rate_limit=scaling.throttle_rate_limit,
        throttle_burst_limit=scaling.throttle_burst_limit,
        stream_retention_hours=scaling.stream_retention_hours,
        origin_verify_version=str(version) if version else None,
        demo_stream_url=str(context.get("demoStreamUrl", DEFAULT_DEMO_STREAM_URL)),
        demo_channel=str(context.get("demoChannel", DEFAULT_DEMO_CHANNEL)),
        manage_api_gateway_account_role=flag(context.get("manageApiGatewayAccountRole", True)),
    )
    stack.add_stack_dependency(waf, "reads the web ACL's ARN it publishes in us-east-1")
    return stack


def main() -> None:
    run_alone(add_ingest_stack)


if __name__ == "__main__":
    main()
