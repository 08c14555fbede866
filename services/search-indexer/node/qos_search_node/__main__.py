"""``python -m qos_search_node``: warm the launcher's cache, or run a node in the foreground.

python -m qos_search_node prepare                        # Maven once (CI does this)
python -m qos_search_node run --data-dir D [--port P]    # until Ctrl-C
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from qos_search_node.launcher import (
    START_TIMEOUT,
    NodeUnavailable,
    RunningNode,
    available,
    prepare,
    start,
)
from qos_shared.local_jvm import run_cli


def _start(data_dir: Path, port: int | None, heap: str, timeout: float) -> RunningNode:
    return start(data_dir, port=port, heap=heap, timeout=timeout)


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(
        argv,
        prog="python -m qos_search_node",
        description="A local single-node OpenSearch 2.19 without Docker (Java + Maven).",
        product="OpenSearch",
        noun="node",
        data_dir_help="kept between runs",
        error=NodeUnavailable,
        available=available,
        prepare=prepare,
        start=_start,
        start_timeout=START_TIMEOUT,
    )


if __name__ == "__main__":
    sys.exit(main())
