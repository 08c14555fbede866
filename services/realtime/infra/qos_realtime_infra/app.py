"""CDK app that deploys the realtime stack alone: `cdk deploy` in services/realtime (cdk.json).

The platform-wide app (infra/aws/app.py) calls `add_realtime_stack` too, so the stack is built
the same way whichever app deploys it. The ingest stack must have been deployed first in the
same account, region and environment: its stream ARN is read from SSM at deploy time, and under
the CDK CLI this app checks that the parameter exists before anything is deployed
(`qos_shared_cdk.app`).

CDK context read here (cdk.json, or `-c key=value` on the command line):

| key | default | meaning |
| --- | --- | --- |
| `qos:env` | `dev` | environment name: stack name, SSM paths, resource names |
| `qos:realtime:lambdaAssetDir` | (built) | a publisher bundle built beforehand: skip the build |
| `qos:realtime:flinkApplicationZip` | (built) | a PyFlink application zip built beforehand |
| `qos:realtime:flinkRuntime` | from `flink/pom.xml` | MSF runtime, e.g. `FLINK-2_2` |
| `qos:realtime:windowSeconds` | 60 | tumbling window length, 5-3600 |
| `qos:realtime:allowedLatenessSeconds` | 5 | watermark delay |
| `qos:realtime:dedupeTtlSeconds` | 3600 | how long the job drops an event_id's duplicates |
| `qos:realtime:viewTimeoutSeconds` | 180 | a view closes this long after its last record |
| `qos:realtime:viewMaxLengthSeconds` | 14400 | views are cut at every multiple of this |
| `qos:realtime:revisionHorizonSeconds` | 600 | late records this recent correct their window |
| `qos:realtime:namespace` | `IVS/QoS` | CloudWatch namespace of the KPIs |
| `qos:realtime:legacyNamespace` | (the same) | namespace of the original five names |
| `qos:realtime:alarmThresholds` | see `dashboard` | `{"startup_time_p95": 5, ...}` (or as JSON) |
| `qos:realtime:alarmEmail` | (none) | an address the alarm topic e-mails; absent: no subscription |
| `qos:skipPreflight` | false | don't check that the SSM parameters read exist (offline synth) |

The scaling settings (`flinkParallelism`, `flinkParallelismPerKpu`, `flinkAutoScaling`,
`publisherMemoryMiB`, `publisherReservedConcurrency`, `channels`, `legacyMetrics`) are read by
`qos_shared_cdk.scaling`, whose table lists them; `qos cost` prices the same values.

Without `flinkApplicationZip`, the zip is built by the Flink job's own packaging
(`qos_realtime.flink_package`; Maven builds the connector jar when it is missing), and a
connector jar built for another Flink than the runtime is refused before anything is synthesized.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

from qos_realtime_infra.packaging import DEFAULT_OUT, REALTIME_ROOT, build_lambda_asset
from qos_realtime_infra.service_code import FLINK_PACKAGING
from qos_realtime_infra.stack import DEFAULT_FLINK_RUNTIME, SERVICE, RealtimeStack
from qos_shared.views import DEFAULT_RULES
from qos_shared_cdk.app import run_alone
from qos_shared_cdk.context import ServiceContext, context_lookup, stack_identity
from qos_shared_cdk.scaling import realtime_scaling

POM = REALTIME_ROOT / "flink" / "pom.xml"


def add_realtime_stack(app: App, *, env_name: str, env: Environment | None) -> RealtimeStack:
    """Build what isn't given in context (the publisher bundle, the Flink zip) and add the stack."""
    context = ServiceContext(app, SERVICE)
    scaling = realtime_scaling(context_lookup(app))
    prebuilt = context.get("lambdaAssetDir")
    lambda_dir = Path(prebuilt) if prebuilt else build_lambda_asset(DEFAULT_OUT)
    thresholds = context.get("alarmThresholds")
    runtime = str(context.get("flinkRuntime", flink_runtime_from_pom(POM)))
    return RealtimeStack(
        **stack_identity(app, SERVICE, env_name, env),
        lambda_asset_dir=lambda_dir,
        flink_application_zip=flink_application_zip(app, runtime),
        flink_runtime=runtime,
        flink_parallelism=scaling.flink_parallelism,
        flink_parallelism_per_kpu=scaling.flink_parallelism_per_kpu,
        flink_auto_scaling=scaling.flink_auto_scaling,
        publisher_memory_mib=scaling.publisher_memory_mib,
        publisher_reserved_concurrency=scaling.publisher_reserved_concurrency,
        window_seconds=int(context.get("windowSeconds", 60)),
        allowed_lateness_seconds=float(context.get("allowedLatenessSeconds", 5.0)),
        dedupe_ttl_seconds=int(context.get("dedupeTtlSeconds", 3600)),
        view_timeout_seconds=int(
            context.get("viewTimeoutSeconds", DEFAULT_RULES.timeout_ms // 1000)
        ),
        view_max_length_seconds=int(
            context.get("viewMaxLengthSeconds", DEFAULT_RULES.max_length_ms // 1000)
        ),
        revision_horizon_seconds=int(context.get("revisionHorizonSeconds", 600)),
        namespace=str(context.get("namespace", "IVS/QoS")),
        legacy_namespace=context.get("legacyNamespace") or None,
        legacy_metrics=scaling.legacy_metrics,
        channels=scaling.channels,
        alarm_thresholds=None if thresholds is None else _thresholds(thresholds),
        alarm_email=str(context.get("alarmEmail") or "").strip() or None,
    )


def flink_application_zip(app: App, runtime: str) -> Path:
    """The zip named in context, else a fresh build of the Flink job's own packaging, whose
    connector jar must fit the MSF `runtime` (`qos_realtime.flink_connector`).

    Rebuilding on every synth keeps the zip's Python in step with the sources (the zip is
    deterministic, so an unchanged job keeps its asset hash); the connector jar comes from the
    cache keyed by its pom's hash, and is built with Maven only when that pom is new.
    """
    given = ServiceContext(app, SERVICE).get("flinkApplicationZip")
    if given:
        return Path(given)
    package = importlib.import_module(FLINK_PACKAGING)

    jar = package.build_jar()
    package.flink_connector.require_connector_for(jar, runtime, package.POM)
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


def _thresholds(value: Any) -> dict[str, float]:
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, dict):
        raise ValueError(f"qos:realtime:alarmThresholds: expected a JSON object, got {value!r}")
    return {str(k): float(v) for k, v in parsed.items()}


def main() -> None:
    run_alone(add_realtime_stack)


if __name__ == "__main__":
    main()
