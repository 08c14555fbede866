"""CDK app composing every QoS service's stack for one environment (run from infra/, cdk.json).

Each service owns its stack, its Lambda bundle and the CDK context keys it reads; this app only
picks the environment, calls each service's `add_*_stack`, and declares the deploy order. Stacks
share nothing through CloudFormation (cross-service wiring is SSM parameters
`/qos/<env>/<service>/<resource>`, `qos_shared_cdk.ssm`), so the order comes from what each stack
reads: a stack that reads a parameter depends on the stack that writes it (today: realtime, lake
and search-indexer read ingest's stream ARN, so ingest deploys first; search-indexer also reads
realtime's views stream ARN, so it deploys after realtime). `cdk deploy --all` follows
that order, and `cdk deploy qos-<env>-<service>` deploys what the stack needs first.
"""

from __future__ import annotations

from aws_cdk import App, Environment

from qos_ingest_infra import add_ingest_stack
from qos_lake_infra import add_lake_stack
from qos_realtime_infra import add_realtime_stack
from qos_search_indexer_infra import add_search_indexer_stack
from qos_shared_cdk.app import AddStack
from qos_shared_cdk.blocks import ServiceStack
from qos_shared_cdk.context import default_environment, env_name_from_context

# One line per service, writers before readers.
SERVICES: tuple[AddStack, ...] = (
    add_ingest_stack,
    add_realtime_stack,
    add_lake_stack,
    add_search_indexer_stack,
)


def add_all_stacks(app: App, *, env_name: str, env: Environment | None) -> dict[str, ServiceStack]:
    """Every service's stack, by service, each depending on the stacks whose parameters it reads."""
    stacks = {
        stack.service: stack for stack in (add(app, env_name=env_name, env=env) for add in SERVICES)
    }
    for stack in stacks.values():
        for parameter in dict.fromkeys(stack.reads):
            stack.add_stack_dependency(
                stacks[parameter.service], f"reads {parameter.name(env_name)}"
            )
    return stacks


def main() -> None:
    app = App()
    add_all_stacks(app, env_name=env_name_from_context(app), env=default_environment())
    app.synth()


if __name__ == "__main__":
    main()
