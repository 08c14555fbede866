"""CDK app that deploys the realtime stack alone: `cdk deploy` in services/realtime (cdk.json).

The platform-wide app (infra/aws/app.py) calls `add_realtime_stack` too, so the stack is built
the same way whichever app deploys it. The ingest stack must have been deployed first in the
same account, region and environment: its stream ARN is read from SSM at deploy time.

CDK context read here (cdk.json, or `-c key=value` on the command line):

| key | default | meaning |
| --- | --- | --- |
| `qos:env` | `dev` | environment name: stack name, SSM paths, resource names |
| `qos:realtime:lambdaAssetDir` | (built) | a publisher bundle built beforehand: skip the build |
| `qos:realtime:flinkApplicationZip` | (built) | a PyFlink application zip built beforehand |
| `qos:realtime:flinkRuntime` | from `flink/pom.xml` | MSF runtime, e.g. `FLINK-2_2` |
| `qos:realtime:flinkParallelism` | 1 | the job's parallelism (KPUs with 1 per KPU) |
| `qos:realtime:windowSeconds` | 60 | tumbling window length, 5-3600 |
| `qos:realtime:allowedLatenessSeconds` | 5 | watermark delay |
| `qos:realtime:namespace` | `IVS/QoS` | CloudWatch namespace of the KPIs |
| `qos:realtime:legacyNamespace` | (the same) | namespace of the original five names |
| `qos:realtime:legacyMetrics` | true | publish the original five names at all |
| `qos:realtime:channels` | `[]` | channels published with a `Channel` dimension |
| `qos:realtime:alarmThresholds` | see `dashboard` | `{"startup_time_p95": 5, ...}` (or as JSON) |

Without `flinkApplicationZip`, the zip is built by the Flink job's own packaging
(`qos_realtime.flink_package`; Maven builds the connector jar when it is missing).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

from qos_realtime_infra.packaging import DEFAULT_OUT, REALTIME_ROOT, build_lambda_asset
from qos_realtime_infra.stack import DEFAULT_FLINK_RUNTIME, RealtimeStack

DEFAULT_ENV_NAME = "dev"
POM = REALTIME_ROOT / "flink" / "pom.xml"

_CTX = "qos:realtime:"


def add_realtime_stack(app: App, *, env_name: str, env: Environment | None) -> RealtimeStack:
    """Build what isn't given in context (the publisher bundle, the Flink zip) and add the stack."""
    prebuilt = _context(app, "lambdaAssetDir", None)
    lambda_dir = Path(prebuilt) if prebuilt else build_lambda_asset(DEFAULT_OUT)
    stack_name = f"qos-{env_name}-realtime"
    thresholds = _context(app, "alarmThresholds", None)
    return RealtimeStack(
        app,
        stack_name,
        stack_name=stack_name,
        env=env,
        env_name=env_name,
        lambda_asset_dir=lambda_dir,
        flink_application_zip=flink_application_zip(app),
        flink_runtime=str(_context(app, "flinkRuntime", flink_runtime_from_pom(POM))),
        flink_parallelism=int(_context(app, "flinkParallelism", 1)),
        window_seconds=int(_context(app, "windowSeconds", 60)),
        allowed_lateness_seconds=float(_context(app, "allowedLatenessSeconds", 5.0)),
        namespace=str(_context(app, "namespace", "IVS/QoS")),
        legacy_namespace=_context(app, "legacyNamespace", None) or None,
        legacy_metrics=_flag(_context(app, "legacyMetrics", True)),
        channels=_string_list(_context(app, "channels", [])),
        alarm_thresholds=None if thresholds is None else _thresholds(thresholds),
    )


def flink_application_zip(app: App) -> Path:
    """The zip named in context, else a fresh build of the Flink job's own packaging.

    Rebuilding on every synth keeps the zip's Python in step with the sources (the zip is
    deterministic, so an unchanged job keeps its asset hash); the connector jar is rebuilt with
    Maven only when it is missing or older than its pom.
    """
    given = _context(app, "flinkApplicationZip", None)
    if given:
        return Path(given)
    from qos_realtime import flink_package as package

    jar = package.POM.parent / "target" / package.JAR_NAME
    if not jar.is_file() or jar.stat().st_mtime < package.POM.stat().st_mtime:
        jar = package.build_jar()
    package.write_zip(package.DEFAULT_ZIP, jar)
    built: Path = package.DEFAULT_ZIP
    return built


def flink_runtime_from_pom(pom: Path) -> str:
    """MSF's runtime name for the Flink version the connector jar is built against."""
    if not pom.is_file():
        return DEFAULT_FLINK_RUNTIME
    match = re.search(r"<flink\.version>(\d+)\.(\d+)[^<]*</flink\.version>", pom.read_text())
    if match is None:
        raise ValueError(f"{pom} names no <flink.version>")
    return f"FLINK-{match[1]}_{match[2]}"


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


def _thresholds(value: Any) -> dict[str, float]:
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, dict):
        raise ValueError(f"{_CTX}alarmThresholds: expected a JSON object, got {value!r}")
    return {str(k): float(v) for k, v in parsed.items()}


def main() -> None:
    app = App()
    add_realtime_stack(app, env_name=env_name_from_context(app), env=default_environment())
    app.synth()


if __name__ == "__main__":
    main()
