"""``python -m qos_search_node``: warm the launcher's cache, or run a node in the foreground.

python -m qos_search_node prepare                        # Maven once (CI does this)
python -m qos_search_node run --data-dir D [--port P]    # until Ctrl-C
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

from qos_search_node.launcher import (
    START_TIMEOUT,
    NodeUnavailable,
    available,
    log_tail,
    prepare,
    start,
)


def _run(args: argparse.Namespace) -> int:
    reason = available()
    if reason is not None:
        print(f"cannot run OpenSearch: {reason}", file=sys.stderr)
        return 2
    stop_requested = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    began = time.monotonic()
    node = start(Path(args.data_dir), port=args.port, heap=args.heap, timeout=args.timeout)
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(
            f"OpenSearch {node.url} ready in {time.monotonic() - began:.1f} s "
            f"(pid {node.pid}, log {node.log_path}); Ctrl-C stops it",
            flush=True,
        )
        while not stop_requested.wait(1.0):
            if not node.alive:
                print(
                    f"OpenSearch exited with code {node.process.returncode}:\n"
                    + log_tail(node.log_path),
                    file=sys.stderr,
                )
                return 1
        print("stopping OpenSearch ...", flush=True)
    finally:
        code = node.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print(f"OpenSearch stopped (exit {code})", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qos_search_node",
        description="A local single-node OpenSearch 2.19 without Docker (Java + Maven).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    warm = commands.add_parser("prepare", help="build the launcher and cache its classpath")
    warm.add_argument("--cache-dir", type=Path, default=None)
    run = commands.add_parser("run", help="run a node in the foreground until Ctrl-C")
    run.add_argument("--data-dir", required=True, help="kept between runs")
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
    except NodeUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
