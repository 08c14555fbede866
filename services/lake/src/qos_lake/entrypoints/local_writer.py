"""`qos-lake-writer`: the lake writer as a process, reading the event log until stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qos_lake.bootstrap import build_writer, open_log
from qos_lake.domain.errors import LakeBusy
from qos_lake.service import FlushResult
from qos_lake.settings import LakeSettings
from qos_shared.local_process import Consumer, consumer_parser, run_consumer


def main(argv: list[str] | None = None) -> int:
    parser = consumer_parser("qos-lake-writer", __doc__)
    parser.add_argument("--lake-root", type=Path, help="the lake root (created if missing)")
    parser.add_argument("--flush-records", type=int, help="flush after this many records")
    parser.add_argument("--flush-seconds", type=float, help="flush this long after the first")
    return run_consumer(parser, argv, _start, start_errors=(LakeBusy,))


def _start(given: dict[str, Any]) -> Consumer:
    settings = LakeSettings(**given)
    log = open_log(settings)
    try:
        writer = build_writer(settings, log)
    except BaseException:
        log.close()
        raise
    return Consumer(
        describe=f"{settings.log_path} into {settings.lake_root}",
        run=lambda stop: writer.run(stop, on_flush=_progress),
        opened=(writer, log),
    )


def _progress(result: FlushResult) -> None:
    line = (
        f"flushed {result.records} records ({result.first}-{result.last}) into "
        f"{len(result.files)} file(s) in {result.seconds:.2f} s"
    )
    if result.invalid_values or result.unreadable:
        line += f"; {result.invalid_values} invalid value(s), {result.unreadable} unreadable"
    print(line, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
