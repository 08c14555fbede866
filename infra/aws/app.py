"""CDK app composing every QoS service's stack for one environment (run from infra/, cdk.json).

Each service owns its stack, its Lambda bundle and the CDK context keys it reads; this app only
picks the environment and calls each service's `add_*_stack`. Stacks share nothing through
CloudFormation (cross-service wiring is SSM parameters `/qos/<env>/<service>/<resource>`), so
`cdk deploy --all` and `cdk deploy qos-<env>-<service>` both work.
"""

from __future__ import annotations

from typing import Protocol

from aws_cdk import App, Environment, Stack

from qos_ingest_infra.app import add_ingest_stack, default_environment, env_name_from_context
from qos_lake_infra.app import add_lake_stack
from qos_realtime_infra.app import add_realtime_stack
from qos_search_indexer_infra.app import add_search_indexer_stack


class AddStack(Protocol):
    def __call__(self, app: App, *, env_name: str, env: Environment | None) -> Stack: ...


# One line per service, in no particular order: no stack depends on another at deploy time.
SERVICES: tuple[AddStack, ...] = (
    add_ingest_stack,
    add_realtime_stack,
    add_lake_stack,
    add_search_indexer_stack,
)


def main() -> None:
    app = App()
    env_name = env_name_from_context(app)
    env = default_environment()
    for add_stack in SERVICES:
        add_stack(app, env_name=env_name, env=env)
    app.synth()


if __name__ == "__main__":
    main()
