"""Print the records of a local event log as one JSON array (the browser tests' view of ingest).

Usage: python read_events.py LOG_PATH [SESSION_ID]. Run with the repo's venv python (it imports
qos_shared); the tests take it from QOS_PYTHON (default /work/main/.venv/bin/python).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qos_shared.eventlog import EventLog


def main(argv: list[str]) -> int:
    path = Path(argv[0])
    session = argv[1] if len(argv) > 1 else None
    records = []
    if path.exists():
        with EventLog(path) as log:
            after = 0
            while batch := log.read(after=after, limit=1000):
                for entry in batch:
                    record = json.loads(entry.data)
                    if session is None or record.get("session_id") == session:
                        record["_position"] = entry.position
                        record["_appended_at"] = entry.appended_at
                        records.append(record)
                after = batch[-1].position
    json.dump(records, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
