"""`<data_dir>/stack.json`: what `qos up`'s supervisor last said of the stack and its components
(state, pid, URL, restarts, last exit), read by `qos status` and the dashboard's /api/health.

Its own module so that readers need nothing of the stack's launcher.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["STACK_FILE", "STOPPED", "read_state"]

STACK_FILE = "stack.json"
STOPPED = "stopped"


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """`<data_dir>/stack.json` as the supervisor last wrote it, with `alive`: whether that
    supervisor still runs (a stack killed outright leaves its last state behind). None when
    there is none or it cannot be read."""
    path = data_dir / STACK_FILE
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    pid = state.get("pid")
    alive = False
    if isinstance(pid, int) and state.get("state") != STOPPED:
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
    state["alive"] = alive
    return state
