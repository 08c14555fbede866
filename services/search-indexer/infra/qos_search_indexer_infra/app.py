"""CDK app that deploys the search stack alone: `cdk deploy` in services/search-indexer/infra.

The platform-wide app (infra/aws/app.py) calls `add_search_indexer_stack` too, so the stack is
built the same way whichever app deploys it. The ingest stack must have been deployed first in
the same account, region and environment: its stream ARN is read from SSM at deploy time, and
under the CDK CLI this app checks that the parameter exists before anything is deployed
(`qos_shared_cdk.app`).

CDK context read here (cdk.json, or `-c key=value` on the command line):

| key | default | meaning |
| --- | --- | --- |
| `qos:env` | `dev` | environment name: stack name, SSM paths, resource names |
| `qos:search-indexer:lambdaAssetDir` | (built) | the functions' bundle, built beforehand |
| `qos:search-indexer:savedObjects` | `dashboards/qos-dashboards.ndjson` | NDJSON to bundle |
| `qos:search-indexer:domainName` | `qos-<env>-search` | 3-28 characters |
| `qos:search-indexer:engineVersion` | `OpenSearch_2.19` | the local node's version |
| `qos:search-indexer:availabilityZoneCount` | 2 (3 for an odd count) | with 2+ nodes |
| `qos:search-indexer:removalPolicy` | `retain` in `prod`, else `destroy` | the domain's |
| `qos:search-indexer:domainLogs` | true | slow, application and audit logs to CloudWatch |
| `qos:search-indexer:adminEmail` | (unset) | invite this e-mail as a Dashboards admin |
| `qos:search-indexer:cognitoDomainPrefix` | `<domain name>-<account>` | hosted UI prefix |
| `qos:search-indexer:vpc` | false | the domain and functions in a new VPC (isolated subnets) |
| `qos:search-indexer:vpcId` | (unset) | the domain in this VPC (with `subnetIds`) |
| `qos:search-indexer:subnetIds` | (unset) | its subnets, comma-separated (one per zone) |
| `qos:search-indexer:indexerBatchSize` | 1000 | records per indexer invocation, 1-10000 |
| `qos:search-indexer:indexerBatchingWindowSeconds` | 5 | wait to fill a batch, 0-300 |
| `qos:search-indexer:indexerParallelizationFactor` | 1 | concurrent batches per shard, 1-10 |
| `qos:search-indexer:indexerRetryAttempts` | 1000 | retries of a failed batch, 0-10000 |
| `qos:search-indexer:indexerMaxRecordAgeHours` | 6 | then the batch goes to the queue, 1-12 |
| `qos:search-indexer:expireFailedDays` | 90 | lifetime of the dead letters |
| `qos:search-indexer:setupRunId` | (unset) | any new value re-runs the setup |
| `qos:skipPreflight` | false | don't check that the SSM parameters read exist (offline synth) |

The sizing settings (`instanceType`, `instanceCount`, `volumeSizeGiB`, `shards`, `replicas`,
`deleteAfterDays`, `indexerMemoryMiB`, `indexerReservedConcurrency`) are read by
`qos_shared_cdk.scaling`, whose table lists them; `qos cost` prices the same values.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Environment, RemovalPolicy

from qos_search_indexer_infra.access import VpcPlacement
from qos_search_indexer_infra.packaging import (
    DEFAULT_OUT,
    DEFAULT_SAVED_OBJECTS,
    build_lambda_asset,
)
from qos_search_indexer_infra.stack import (
    DEFAULT_ENGINE_VERSION,
    SERVICE,
    IndexerSource,
    SearchIndexerStack,
)
from qos_shared_cdk.app import run_alone
from qos_shared_cdk.context import (
    ServiceContext,
    context_lookup,
    flag,
    optional_int,
    stack_identity,
    string_list,
)
from qos_shared_cdk.scaling import search_scaling

PRODUCTION_ENV_NAMES = frozenset({"prod"})

_REMOVAL_POLICIES = {"retain": RemovalPolicy.RETAIN, "destroy": RemovalPolicy.DESTROY}


def add_search_indexer_stack(
    app: App, *, env_name: str, env: Environment | None
) -> SearchIndexerStack:
    """Build the functions' bundle (unless context names a prebuilt one) and add the stack."""
    context = ServiceContext(app, SERVICE)
    scaling = search_scaling(context_lookup(app))
    prebuilt = context.get("lambdaAssetDir")
    if prebuilt:
        asset_dir = Path(prebuilt)
    else:
        saved_objects = Path(context.get("savedObjects", DEFAULT_SAVED_OBJECTS))
        asset_dir = build_lambda_asset(DEFAULT_OUT, saved_objects=saved_objects)
    default_removal = "retain" if env_name in PRODUCTION_ENV_NAMES else "destroy"
    removal = str(context.get("removalPolicy", default_removal)).lower()
    if removal not in _REMOVAL_POLICIES:
        raise ValueError(f"{context.prefix}removalPolicy: retain or destroy, got {removal!r}")
    run_id = context.get("setupRunId")
    admin_email = context.get("adminEmail")
    return SearchIndexerStack(
        **stack_identity(app, SERVICE, env_name, env),
        lambda_asset_dir=asset_dir,
        domain_name=context.get("domainName") or None,
        engine_version=str(context.get("engineVersion", DEFAULT_ENGINE_VERSION)),
        instance_type=scaling.instance_type,
        instance_count=scaling.instance_count,
        availability_zone_count=optional_int(context.get("availabilityZoneCount")),
        volume_size_gib=scaling.volume_size_gib,
        shards=scaling.shards,
        replicas=scaling.replicas,
        delete_after_days=scaling.delete_after_days,
        removal_policy=_REMOVAL_POLICIES[removal],
        domain_logs=flag(context.get("domainLogs", True)),
        dashboards_admin_email=str(admin_email) if admin_email else None,
        cognito_domain_prefix=context.get("cognitoDomainPrefix") or None,
        vpc=vpc_placement(context),
        indexer=IndexerSource(
            batch_size=int(context.get("indexerBatchSize", 1000)),
            batching_window_s=int(context.get("indexerBatchingWindowSeconds", 5)),
            parallelization_factor=int(context.get("indexerParallelizationFactor", 1)),
            retry_attempts=int(context.get("indexerRetryAttempts", 1000)),
            max_record_age_hours=int(context.get("indexerMaxRecordAgeHours", 6)),
            memory_mib=scaling.indexer_memory_mib,
            reserved_concurrency=scaling.indexer_reserved_concurrency,
        ),
        expire_failed_days=int(context.get("expireFailedDays", 90)),
        setup_run_id=None if run_id is None else str(run_id),
    )


def vpc_placement(context: ServiceContext) -> VpcPlacement | None:
    """`vpcId` with `subnetIds` (a list, or comma-separated): that VPC; `vpc` true: a new one."""
    vpc_id = context.get("vpcId")
    subnets = string_list(context.get("subnetIds", []))
    if vpc_id:
        if not subnets:
            raise ValueError(f"{context.prefix}vpcId needs {context.prefix}subnetIds")
        return VpcPlacement(vpc_id=str(vpc_id), subnet_ids=tuple(subnets))
    if subnets:
        raise ValueError(f"{context.prefix}subnetIds needs {context.prefix}vpcId")
    return VpcPlacement() if flag(context.get("vpc", False)) else None


def main() -> None:
    run_alone(add_search_indexer_stack)


if __name__ == "__main__":
    main()
