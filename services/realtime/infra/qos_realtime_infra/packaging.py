"""The publisher Lambda's bundle, built by the deploy kit's packager (`qos_shared_cdk.packaging`).

`qos-shared` and `qos-realtime` as wheels, installed with their runtime dependencies (no extras:
DuckDB and PyFlink stay out) for the Lambda platform, no Docker; the Flink job, which rides in
the wheel, is dropped. Run it alone with `python -m qos_realtime_infra.packaging --out DIR`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from qos_realtime_infra.service_code import FLINK_SOURCES
from qos_shared_cdk.packaging import LambdaBundle

# infra/qos_realtime_infra/packaging.py -> services/realtime
REALTIME_ROOT = Path(__file__).resolve().parents[2]
BUNDLE = LambdaBundle(
    service_root=REALTIME_ROOT,
    distribution="qos-realtime",
    infra_package="qos_realtime_infra",
    dropped=FLINK_SOURCES,
)
DEFAULT_OUT = BUNDLE.default_out
build_lambda_asset = BUNDLE.build


def main(argv: Sequence[str] | None = None) -> int:
    return BUNDLE.cli(
        argv, description="Build the CloudWatch publisher Lambda's code directory (no Docker)."
    )


if __name__ == "__main__":
    raise SystemExit(main())
