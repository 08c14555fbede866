"""Running a service's stack alone (`cdk deploy` from services/<svc>), with a preflight.

A stack reads what other stacks publish in SSM at deploy time. Deployed before the writer, it
would fail deep inside CloudFormation with a bare "parameter not found"; the standalone app
checks first, when the CDK CLI runs it (an account and region are known), and stops with one
line that names the missing parameter and the stack to deploy first. `-c qos:skipPreflight=true`
skips the check (an offline synth).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from aws_cdk import App, Environment

from qos_shared_cdk.blocks import ServiceStack
from qos_shared_cdk.context import (
    SKIP_PREFLIGHT_KEY,
    default_environment,
    env_name_from_context,
    flag,
)
from qos_shared_cdk.ssm import Parameter

DEPLOY_DOC = "see README, Deploying to AWS"
_GET_PARAMETERS_MAX_NAMES = 10  # SSM's limit per GetParameters call


class AddStack(Protocol):
    def __call__(self, app: App, *, env_name: str, env: Environment | None) -> ServiceStack: ...


class MissingParameterError(RuntimeError):
    """A stack reads an SSM parameter that its writer's stack has not published yet."""


def missing_parameters(
    env_name: str, parameters: Sequence[Parameter], *, region: str, ssm_client: Any = None
) -> list[Parameter]:
    """The parameters (of those given) that don't exist in SSM in this region."""
    if ssm_client is None:
        import boto3  # only a deploy needs it

        ssm_client = boto3.client("ssm", region_name=region)
    wanted = {p.name(env_name): p for p in dict.fromkeys(parameters)}
    names = list(wanted)
    missing: list[Parameter] = []
    for start in range(0, len(names), _GET_PARAMETERS_MAX_NAMES):
        chunk = names[start : start + _GET_PARAMETERS_MAX_NAMES]
        answer = ssm_client.get_parameters(Names=chunk)
        missing += [wanted[name] for name in answer.get("InvalidParameters", [])]
    return missing


def preflight(stack: ServiceStack, *, region: str, ssm_client: Any = None) -> None:
    """Raise `MissingParameterError` if a parameter the stack reads doesn't exist yet."""
    missing = missing_parameters(stack.env_name, stack.reads, region=region, ssm_client=ssm_client)
    if missing:
        first = missing[0]
        raise MissingParameterError(
            f"{stack.stack_name} reads SSM parameter {first.name(stack.env_name)}, which does not "
            f"exist: deploy {first.writer(stack.env_name)} first ({DEPLOY_DOC})"
        )


def run_alone(add_stack: AddStack, app: App | None = None) -> ServiceStack:
    """The standalone app's main: add the one stack, check what it reads, synthesize."""
    app = app or App()
    env = default_environment()
    stack = add_stack(app, env_name=env_name_from_context(app), env=env)
    skip = flag(app.node.try_get_context(SKIP_PREFLIGHT_KEY) or False)
    if env is not None and env.region and not skip:
        try:
            preflight(stack, region=env.region)
        except MissingParameterError as exc:
            raise SystemExit(f"error: {exc}") from None
    app.synth()
    return stack
