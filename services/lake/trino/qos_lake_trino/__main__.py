"""``python -m qos_lake_trino``: warm the launcher's cache, or run a coordinator in the foreground.

python -m qos_lake_trino prepare                        # Maven once
python -m qos_lake_trino run --data-dir D [--port P]    # until Ctrl-C
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from qos_lake_trino.launcher import LAUNCHER, start
from qos_shared.local_jvm import run_cli


def main(argv: Sequence[str] | None = None) -> int:
    """A local Trino 483 coordinator with the Hive connector (Java 25 + Maven)."""
    return run_cli(
        argv,
        LAUNCHER,
        start,
        description=main.__doc__ or "",
        noun="coordinator",
        data_dir_help="the metastore and logs; kept",
    )


if __name__ == "__main__":
    sys.exit(main())
