"""`qos-realtime`: the local window engine as a process, reading the event log until stopped."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from pydantic import ValidationError

from qos_realtime.bootstrap import build_consumer
from qos_realtime.settings import RealtimeSettings
from qos_shared.eventlog import EventLogError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qos-realtime", description=__doc__.splitlines()[0])
    parser.add_argument("--log-path", type=Path, help="the local event log to read")
    parser.add_argument("--store-path", type=Path, help="the metric store to write")
    parser.add_argument("--window-s", type=int, help="window length in seconds (5..3600)")
    parser.add_argument("--allowed-lateness-s", type=float, help="watermark delay in seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        settings = RealtimeSettings(**{k: v for k, v in vars(args).items() if v is not None})
        consumer = build_consumer(settings)
    except (ValidationError, EventLogError, OSError) as exc:
        print(f"qos-realtime: cannot start: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(
        f"qos-realtime consuming {settings.log_path} into {settings.store_path} "
        f"({settings.window_s} s windows, {settings.allowed_lateness_s:g} s allowed lateness)",
        flush=True,
    )
    try:
        consumer.run(stop)
    finally:
        consumer.log.close()
        consumer.store.close()
    print("qos-realtime stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
