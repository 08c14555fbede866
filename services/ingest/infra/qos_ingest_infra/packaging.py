"""The ingest Lambda's bundle, built by the deploy kit's packager (`qos_shared_cdk.packaging`).

`qos-shared` and `qos-ingest` as wheels, installed with their dependencies for the Lambda
platform, no Docker. Run it alone with `python -m qos_ingest_infra.packaging --out DIR`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from qos_shared_cdk.packaging import LambdaBundle

# infra/qos_ingest_infra/packaging.py -> services/ingest
INGEST_ROOT = Path(__file__).resolve().parents[2]
REPO_ROOT = INGEST_ROOT.parents[1]
BUNDLE = LambdaBundle(
    service_root=INGEST_ROOT, distribution="qos-ingest", infra_package="qos_ingest_infra"
)
build_lambda_asset = BUNDLE.build


def main(argv: Sequence[str] | None = None) -> int:
    return BUNDLE.cli(argv, description="Build the ingest Lambda's code directory (no Docker).")


if __name__ == "__main__":
    raise SystemExit(main())
