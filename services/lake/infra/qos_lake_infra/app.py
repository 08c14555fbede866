"""CDK app that deploys the lake stack alone: `cdk deploy` in services/lake (cdk.json).

The platform-wide app (infra/aws/app.py) calls `add_lake_stack` too, so the stack is built the
same way whichever app deploys it. The ingest and realtime stacks must have been deployed first
in the same account, region and environment: the ingest stream's and the views stream's ARNs are
read from SSM at deploy time, and under the CDK CLI this app checks that the parameters exist
before anything is deployed (`qos_shared_cdk.app`).

CDK context read here (cdk.json, or `-c key=value` on the command line):

| key | default | meaning |
| --- | --- | --- |
| `qos:env` | `dev` | environment name: stack name, SSM paths, resource names |
| `qos:lake:expireErrorsDays` | 90 | lifetime of Firehose's failed records |
| `qos:lake:expireResultsDays` | 30 | lifetime of Athena's results |
| `qos:lake:projectionStart` | `NOW-3YEARS` | oldest day Athena sees |
| `qos:lake:bytesScannedCutoffGiB` | 10 | Athena cancels a query past this much |
| `qos:skipPreflight` | false | don't check that the SSM parameters read exist (offline synth) |

The storage settings (`bufferSizeMiB`, `bufferIntervalSeconds`, `transitionToIaDays`,
`expireDataDays`) are read by `qos_shared_cdk.scaling`, whose table lists them; `qos cost`
prices the same values.
"""

from __future__ import annotations

from aws_cdk import App, Environment

from qos_lake_infra.catalog import DEFAULT_PROJECTION_START
from qos_lake_infra.stack import SERVICE, LakeStack
from qos_shared_cdk.app import run_alone
from qos_shared_cdk.context import ServiceContext, context_lookup, stack_identity
from qos_shared_cdk.scaling import lake_scaling


def add_lake_stack(app: App, *, env_name: str, env: Environment | None) -> LakeStack:
    context = ServiceContext(app, SERVICE)
    scaling = lake_scaling(context_lookup(app))
    return LakeStack(
        **stack_identity(app, SERVICE, env_name, env),
        buffer_size_mib=scaling.buffer_size_mib,
        buffer_interval_seconds=scaling.buffer_interval_seconds,
        transition_to_ia_days=scaling.transition_to_ia_days,
        expire_data_days=scaling.expire_data_days,
        expire_errors_days=int(context.get("expireErrorsDays", 90)),
        expire_results_days=int(context.get("expireResultsDays", 30)),
        projection_start=str(context.get("projectionStart", DEFAULT_PROJECTION_START)),
        bytes_scanned_cutoff_gib=float(context.get("bytesScannedCutoffGiB", 10)),
    )


def main() -> None:
    run_alone(add_lake_stack)


if __name__ == "__main__":
    main()
