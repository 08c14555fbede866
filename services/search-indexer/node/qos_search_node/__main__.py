"""``python -m qos_search_node``: warm the launcher's cache, or run a node in the foreground.

python -m qos_search_node prepare                        # Maven once (CI does this)
python -m qos_search_node run --data-dir D [--port P]    # until Ctrl-C
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from qos_search_node.launcher import LAUNCHER, start
from qos_shared.local_jvm import run_cli

DESCRIPTION = "A local single-node OpenSearch 2.19 without Docker (Java + Maven)."


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(
        argv, LAUNCHER, start, description=DESCRIPTION, noun="node", data_dir_help="kept"
    )


if __name__ == "__main__":
    sys.exit(main())
