"""The search functions' bundle (the setup and the indexer: one package), built by the deploy
kit's packager (`qos_shared_cdk.packaging`).

`qos-shared` and `qos-search-indexer` as wheels, installed with their runtime dependencies and
the `aws` extra (Powertools, boto3) for the Lambda platform, no Docker. The Dashboards saved
objects (the committed NDJSON) are copied to the bundle's root, where the handler reads them.

Run it alone with `python -m qos_search_indexer_infra.packaging --out DIR`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from qos_search_indexer_infra.service_code import DEV_TOOLING, SAVED_OBJECTS_FILENAME
from qos_shared_cdk.packaging import DEFAULT_PYTHON_VERSION, AssetBuildError, LambdaBundle, Progress

# infra/qos_search_indexer_infra/packaging.py -> services/search-indexer
SEARCH_ROOT = Path(__file__).resolve().parents[2]
BUNDLE = LambdaBundle(
    service_root=SEARCH_ROOT,
    distribution="qos-search-indexer",
    infra_package="qos_search_indexer_infra",
    extra="aws",
    dropped=DEV_TOOLING,
    out_name="setup-lambda",
)
DEFAULT_OUT = BUNDLE.default_out
# Written by the dashboards generator (`qos_search_indexer.dashboards`) and committed.
DEFAULT_SAVED_OBJECTS = SEARCH_ROOT / "dashboards" / SAVED_OBJECTS_FILENAME


def build_lambda_asset(
    out_dir: Path,
    *,
    saved_objects: Path = DEFAULT_SAVED_OBJECTS,
    python_version: str = DEFAULT_PYTHON_VERSION,
    progress: Progress | Literal["stderr"] | None = "stderr",
) -> Path:
    """Build the setup function's bundle, with `saved_objects` at its root, into `out_dir`."""
    if not saved_objects.is_file():
        raise AssetBuildError(
            f"no Dashboards saved objects at {saved_objects}: generate them first "
            "(`qos_search_indexer.dashboards`), or name a file in context "
            "(`qos:search-indexer:savedObjects`)"
        )
    return BUNDLE.build(
        out_dir,
        files={SAVED_OBJECTS_FILENAME: saved_objects},
        python_version=python_version,
        progress=progress,
    )


def main(argv: Sequence[str] | None = None) -> int:
    def options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--saved-objects", type=Path, default=DEFAULT_SAVED_OBJECTS, help="default: %(default)s"
        )

    return BUNDLE.cli(
        argv,
        description="Build the search setup function's code directory (no Docker needed).",
        options=options,
        build=lambda out, version, args: build_lambda_asset(
            out, saved_objects=args.saved_objects, python_version=version
        ),
    )


if __name__ == "__main__":
    raise SystemExit(main())
