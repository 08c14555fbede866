"""``python -m qos_lake_trino``: warm the launcher's cache, or run a coordinator in the foreground.

python -m qos_lake_trino prepare                        # Maven once
python -m qos_lake_trino run --data-dir D [--port P]    # until Ctrl-C
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from qos_lake_trino.launcher import (
    START_TIMEOUT,
    RunningTrino,
    TrinoUnavailable,
    available,
    prepare,
    start,
)
from qos_shared.local_jvm import run_cli


def _start(data_dir: Path, port: int | None, heap: str, timeout: float) -> RunningTrino:
    return start(data_dir, port=port, heap=heap, timeout=timeout)


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(
        argv,
        prog="python -m qos_lake_trino",
        description="A local Trino 483 coordinator with the Hive connector (Java 25 + Maven).",
        product="Trino",
        noun="coordinator",
        data_dir_help="the metastore and logs; kept",
        error=TrinoUnavailable,
        available=available,
        prepare=prepare,
        start=_start,
        start_timeout=START_TIMEOUT,
    )


if __name__ == "__main__":
    sys.exit(main())
