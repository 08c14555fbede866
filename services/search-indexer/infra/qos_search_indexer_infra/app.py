"""CDK app that deploys the search stack alone: `cdk deploy` in services/search-indexer/infra.

The platform-wide app (infra/aws/app.py) calls `add_search_indexer_stack` too, so the stack is
built the same way whichever app deploys it. The ingest stack must have been deployed first in
the same account, region and environment: its stream ARN is read from SSM at deploy time.

CDK context read here (cdk.json, or `-c key=value` on the command line):

| key | default | meaning |
| --- | --- | --- |
| `qos:env` | `dev` | environment name: stack name, SSM paths, resource names |
| `qos:search-indexer:lambdaAssetDir` | (built) | a setup function bundle built beforehand |
| `qos:search-indexer:savedObjects` | `dashboards/qos-dashboards.ndjson` | NDJSON to bundle |
| `qos:search-indexer:domainName` | `qos-<env>-search` | 3-28 characters |
| `qos:search-indexer:engineVersion` | `OpenSearch_2.19` | the local node's version |
| `qos:search-indexer:instanceType` | `t3.small.search` | data node type |
| `qos:search-indexer:instanceCount` | 1 | data nodes; zone awareness from 2 |
| `qos:search-indexer:availabilityZoneCount` | 2 (3 for an odd count) | with 2+ nodes |
| `qos:search-indexer:volumeSizeGiB` | 10 | gp3 volume per node |
| `qos:search-indexer:shards` | 1 | primary shards per daily index |
| `qos:search-indexer:replicas` | 0 on one node, else 1 | replicas per daily index |
| `qos:search-indexer:deleteAfterDays` | 30 | ISM deletes a daily index after this |
| `qos:search-indexer:removalPolicy` | `retain` in `prod`, else `destroy` | the domain's |
| `qos:search-indexer:domainLogs` | false | application and slow logs to CloudWatch |
| `qos:search-indexer:bufferSizeMiB` | 5 | Firehose bulk size, 1-100 |
| `qos:search-indexer:bufferIntervalSeconds` | 60 | Firehose bulk age, 0-900 |
| `qos:search-indexer:retrySeconds` | 300 | Firehose retries before the S3 backup |
| `qos:search-indexer:expireFailedDays` | 90 | lifetime of backed-up failed documents |
| `qos:search-indexer:setupRunId` | (unset) | any new value re-runs the setup |
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, RemovalPolicy

from qos_search_indexer_infra.packaging import (
    DEFAULT_OUT,
    DEFAULT_SAVED_OBJECTS,
    build_lambda_asset,
)
from qos_search_indexer_infra.stack import DEFAULT_ENGINE_VERSION, SearchIndexerStack

DEFAULT_ENV_NAME = "dev"
PRODUCTION_ENV_NAMES = frozenset({"prod"})

_CTX = "qos:search-indexer:"
_REMOVAL_POLICIES = {"retain": RemovalPolicy.RETAIN, "destroy": RemovalPolicy.DESTROY}


def add_search_indexer_stack(
    app: App, *, env_name: str, env: Environment | None
) -> SearchIndexerStack:
    """Build the setup bundle (unless context names a prebuilt one) and add the stack."""
    prebuilt = _context(app, "lambdaAssetDir", None)
    if prebuilt:
        asset_dir = Path(prebuilt)
    else:
        saved_objects = Path(_context(app, "savedObjects", DEFAULT_SAVED_OBJECTS))
        asset_dir = build_lambda_asset(DEFAULT_OUT, saved_objects=saved_objects)
    stack_name = f"qos-{env_name}-search-indexer"
    default_removal = "retain" if env_name in PRODUCTION_ENV_NAMES else "destroy"
    removal = str(_context(app, "removalPolicy", default_removal)).lower()
    if removal not in _REMOVAL_POLICIES:
        raise ValueError(f"{_CTX}removalPolicy: retain or destroy, got {removal!r}")
    run_id = _context(app, "setupRunId", None)
    return SearchIndexerStack(
        app,
        stack_name,
        stack_name=stack_name,
        env=env,
        env_name=env_name,
        lambda_asset_dir=asset_dir,
        domain_name=_context(app, "domainName", None) or None,
        engine_version=str(_context(app, "engineVersion", DEFAULT_ENGINE_VERSION)),
        instance_type=str(_context(app, "instanceType", "t3.small.search")),
        instance_count=int(_context(app, "instanceCount", 1)),
        availability_zone_count=_optional_int(_context(app, "availabilityZoneCount", None)),
        volume_size_gib=int(_context(app, "volumeSizeGiB", 10)),
        shards=int(_context(app, "shards", 1)),
        replicas=_optional_int(_context(app, "replicas", None)),
        delete_after_days=int(_context(app, "deleteAfterDays", 30)),
        removal_policy=_REMOVAL_POLICIES[removal],
        domain_logs=_flag(_context(app, "domainLogs", False)),
        buffer_size_mib=int(_context(app, "bufferSizeMiB", 5)),
        buffer_interval_seconds=int(_context(app, "bufferIntervalSeconds", 60)),
        retry_seconds=int(_context(app, "retrySeconds", 300)),
        expire_failed_days=int(_context(app, "expireFailedDays", 90)),
        setup_run_id=None if run_id is None else str(run_id),
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


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"expected true or false, got {value!r}")


def main() -> None:
    app = App()
    add_search_indexer_stack(app, env_name=env_name_from_context(app), env=default_environment())
    app.synth()


if __name__ == "__main__":
    main()
