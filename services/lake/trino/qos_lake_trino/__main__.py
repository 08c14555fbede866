"""``python -m qos_lake_trino``: warm the launcher's cache, or run a coordinator in the foreground.

python -m qos_lake_trino prepare                        # Maven once
python -m qos_lake_trino run --data-dir D [--port P]    # until Ctrl-C
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from qos_lake_trino.launcher import (
    START_TIMEOUT,
    TrinoUnavailable,
    available,
    log_tail,
    prepare,
    start,
)


def _run(args: argparse.Namespace) -> int:
    reason = available()
    if reason is not None:
        print(f"cannot run Trino: {reason}", file=sys.stderr)
        return 2
    stop_requested = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    began = time.monotonic()
    server = start(Path(args.data_dir), port=args.port, heap=args.heap, timeout=args.timeout)
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(
            f"Trino {server.url} ready in {time.monotonic() - began:.1f} s "
            f"(pid {server.pid}, log {server.log_path}); Ctrl-C stops it",
            flush=True,
        )
        while not stop_requested.wait(1.0):
            if not server.alive:
                print(
                    f"Trino exited with code {server.process.returncode}:\n"
                    + log_tail(server.log_path),
                    file=sys.stderr,
                )
                return 1
        print("stopping Trino ...", flush=True)
    finally:
        code = server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print(f"Trino stopped (exit {code})", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qos_lake_trino",
        description="A local Trino 483 coordinator with the Hive connector (Java 25 + Maven).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    warm = commands.add_parser("prepare", help="build the launcher and cache its classpath")
    warm.add_argument("--cache-dir", type=Path, default=None)
    run = commands.add_parser("run", help="run a coordinator in the foreground until Ctrl-C")
    run.add_argument("--data-dir", required=True, help="the metastore and logs; kept")
    run.add_argument("--port", type=int, default=None, help="HTTP port (default: a free one)")
    run.add_argument("--heap", default="1g")
    run.add_argument("--timeout", type=float, default=START_TIMEOUT)
    args = parser.parse_args(argv)

    try:
        if args.command == "prepare":
            classpath = prepare(args.cache_dir)
            print(f"ready: {classpath.classes_dir} + {len(classpath.jars)} jars")
            return 0
        return _run(args)
    except TrinoUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
