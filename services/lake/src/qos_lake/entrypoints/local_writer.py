"""`qos-lake-writer`: the lake writer as a process, reading the event log until stopped."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from pydantic import ValidationError

from qos_lake.bootstrap import build_writer, open_log
from qos_lake.domain.errors import LakeBusy
from qos_lake.service import FlushResult
from qos_lake.settings import LakeSettings
from qos_shared.eventlog import EventLogError


def _progress(result: FlushResult) -> None:
    line = (
        f"flushed {result.records} records ({result.first}-{result.last}) into "
        f"{len(result.files)} file(s) in {result.seconds:.2f} s"
    )
    if result.invalid_values or result.unreadable:
        line += f"; {result.invalid_values} invalid value(s), {result.unreadable} unreadable"
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qos-lake-writer", description=__doc__.splitlines()[0])
    parser.add_argument("--log-path", type=Path, help="the local event log to read")
    parser.add_argument("--lake-root", type=Path, help="the lake root (created if missing)")
    parser.add_argument("--flush-records", type=int, help="flush after this many records")
    parser.add_argument("--flush-seconds", type=float, help="flush this long after the first")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        settings = LakeSettings(**{k: v for k, v in vars(args).items() if v is not None})
        log = open_log(settings)
    except (ValidationError, EventLogError, OSError) as exc:
        print(f"qos-lake-writer: cannot start: {_one_line(exc)}", file=sys.stderr)
        return 2
    try:
        writer = build_writer(settings, log)
    except (LakeBusy, OSError) as exc:
        log.close()
        print(f"qos-lake-writer: cannot start: {_one_line(exc)}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"qos-lake-writer consuming {settings.log_path} into {settings.lake_root}", flush=True)
    try:
        writer.run(stop, on_flush=_progress)
    finally:
        writer.close()
        log.close()
    print("qos-lake-writer stopped", flush=True)
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":
    raise SystemExit(main())
