"""How the local stack's processes run: until SIGTERM or SIGINT (`qos up` stops them so).

`on_stop_signals` is that rule; `serve_until_stopped` runs a local HTTP server by it (`qos-ingest`,
`qos-dashboard`); `run_consumer` runs a consumer of the local event log by it (`qos-lake-writer`,
`qos-realtime`). A consumer's command line overrides its settings (`--log-path` and the options
the caller adds, each named after a setting); it refuses to start with one line on stderr and
exit status 2 when the settings are invalid or what it opens cannot be opened; otherwise it reads
the log until a stop signal, closes what it opened and exits 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from socketserver import BaseServer
from types import FrameType
from typing import Any, Protocol

from pydantic import ValidationError

from qos_shared.activity import configure_logging
from qos_shared.eventlog import EventLogError

__all__ = [
    "Closeable",
    "Consumer",
    "consumer_parser",
    "on_stop_signals",
    "run_consumer",
    "serve_until_stopped",
]


def on_stop_signals(action: Callable[[], None]) -> None:
    """Calls `action` on SIGTERM and on SIGINT (in the main thread, between two of its steps)."""

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        action()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)


def serve_until_stopped(server: BaseServer, ready: str) -> None:
    """Says `ready` once a stop signal would stop the server, serves until one comes, then
    closes the server."""
    # shutdown() waits for serve_forever() to return: from the main thread it would never.
    on_stop_signals(lambda: threading.Thread(target=server.shutdown, daemon=True).start())
    print(ready, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


class Closeable(Protocol):
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Consumer:
    """A started consumer: what it reads and writes (`describe`, for its start line), its loop
    (until the event is set) and what it opened, closed in this order when the loop ends."""

    describe: str
    run: Callable[[threading.Event], None]
    opened: tuple[Closeable, ...]


def consumer_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """The command line of a consumer process, described by its module docstring's first line;
    `--log-path` is there, the caller adds its own options."""
    description = doc.splitlines()[0] if doc else None
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--log-path", type=Path, help="the local event log to read")
    return parser


def run_consumer(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    start: Callable[[dict[str, Any]], Consumer],
    start_errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Parses `argv`, starts the consumer from the options given (`start` gets them by setting
    name) and runs it until SIGTERM or SIGINT. `start` raises pydantic's `ValidationError`,
    `EventLogError`, `OSError` or one of `start_errors` when it cannot start, having closed
    what it opened."""
    args = parser.parse_args(argv)
    try:
        configure_logging()
    except ValueError as exc:
        print(f"{parser.prog}: cannot start: {exc}", file=sys.stderr)
        return 2
    given = {name: value for name, value in vars(args).items() if value is not None}
    refusals: tuple[type[BaseException], ...] = (ValidationError, EventLogError, OSError)
    try:
        consumer = start(given)
    except refusals + start_errors as exc:
        print(f"{parser.prog}: cannot start: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    stop = threading.Event()
    on_stop_signals(stop.set)
    print(f"{parser.prog} consuming {consumer.describe}", flush=True)
    try:
        consumer.run(stop)
    finally:
        for resource in consumer.opened:
            resource.close()
    print(f"{parser.prog} stopped", flush=True)
    return 0
