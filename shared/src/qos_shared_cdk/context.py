"""CDK context of the platform's apps: `qos:env`, `qos:<service>:<key>`, the CLI's environment.

Values come from cdk.json (JSON values) or `-c key=value` (always strings); the parsers here
accept both.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_cdk import App, Environment

from qos_shared_cdk.ssm import stack_name

DEFAULT_ENV_NAME = "dev"
ENV_KEY = "qos:env"
# Set (to true) for an offline synth: the standalone apps then skip their SSM preflight.
SKIP_PREFLIGHT_KEY = "qos:skipPreflight"


def env_name_from_context(app: App) -> str:
    return str(app.node.try_get_context(ENV_KEY) or DEFAULT_ENV_NAME)


def default_environment() -> Environment | None:
    """The account and region the CDK CLI resolved from the profile, if it ran us.

    None leaves the stack environment-agnostic (e.g. plain `python -m ...` without credentials).
    """
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    if not account and not region:
        return None
    return Environment(account=account, region=region)


def stack_identity(
    app: App, service: str, env_name: str, env: Environment | None
) -> dict[str, Any]:
    """The arguments every `add_<svc>_stack` gives its stack: the app, the construct id and
    stack name `qos-<env>-<service>`, the environment name and the CLI's environment."""
    name = stack_name(env_name, service)
    return {
        "scope": app,
        "construct_id": name,
        "stack_name": name,
        "env": env,
        "env_name": env_name,
    }


class ServiceContext:
    """The context keys of one service, `qos:<service>:<name>`."""

    def __init__(self, app: App, service: str) -> None:
        self.app = app
        self.prefix = f"qos:{service}:"

    def get(self, name: str, default: Any = None) -> Any:
        value = self.app.node.try_get_context(f"{self.prefix}{name}")
        return default if value is None else value


def context_lookup(app: App) -> Callable[[str], Any]:
    """The app's context as a lookup of full keys, what `qos_shared_cdk.scaling` reads."""
    return app.node.try_get_context


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"expected true or false, got {value!r}")


def string_list(value: Any) -> list[str]:
    # `-c key=a,b` arrives as one string, cdk.json gives a JSON list.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return list(value)
    raise ValueError(f"expected a list of strings or a comma-separated string, got {value!r}")


def optional_int(value: Any) -> int | None:
    # `-c key=none` arrives as text; cdk.json can say null (which reads as unset: the default).
    if value is None or (isinstance(value, str) and value.lower() in ("", "none", "null")):
        return None
    return int(value)
