"""`qos-lake-writer`: the lake writer as a process, reading the event log until stopped.

Two writers run side by side, each on a thread of its own, with its own checkpoint and commit
markers: the event log into the `events` table, and the realtime engine's views log into the
`views` table. A stop (SIGTERM, SIGINT) flushes both; a failure of either stops the other.
"""

from __future__ import annotations

import logging
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from qos_lake.bootstrap import build_views_writer, build_writer, open_log, open_views_log
from qos_lake.domain.errors import LakeBusy
from qos_lake.service import FlushResult, LakeWriter
from qos_lake.settings import LakeSettings
from qos_shared.activity import Figures, IntervalLog
from qos_shared.local_process import Consumer, consumer_parser, run_consumer

log = logging.getLogger("qos_lake.writer")


def main(argv: list[str] | None = None) -> int:
    parser = consumer_parser("qos-lake-writer", __doc__)
    parser.add_argument(
        "--views-log-path",
        type=Path,
        help="the realtime engine's views log (default: views.sqlite beside the event log)",
    )
    parser.add_argument("--lake-root", type=Path, help="the lake root (created if missing)")
    parser.add_argument("--flush-records", type=int, help="flush after this many records")
    parser.add_argument("--flush-seconds", type=float, help="flush this long after the first")
    return run_consumer(parser, argv, _start, start_errors=(LakeBusy,))


def _start(given: dict[str, Any]) -> Consumer:
    settings = LakeSettings(**given)
    with ExitStack() as opened:
        log = open_log(settings)
        opened.callback(log.close)
        writer = build_writer(settings, log)
        opened.callback(writer.close)
        views_log = open_views_log(settings)
        opened.callback(views_log.close)
        views_writer = build_views_writer(settings, views_log)
        opened.pop_all()  # started: the consumer closes them, in this order
    return Consumer(
        describe=(
            f"{settings.log_path} into {settings.lake_root}, and {settings.views_log} into its"
            " views table"
        ),
        run=lambda stop: run_both(writer, views_writer, stop),
        opened=(writer, views_writer, log, views_log),
    )


def run_both(events: LakeWriter, views: LakeWriter, stop: threading.Event) -> None:
    """Both writers until `stop` is set (each flushes what it holds then); the views writer on
    a thread of its own. If either fails, the other is stopped and the failure raised. One line
    per interval says what they wrote; each flush is a DEBUG line."""
    failure: list[BaseException] = []
    report = IntervalLog(log, _summary)

    def on_flush(result: FlushResult) -> None:
        _flushed(result)
        views_table = result.table == "views"
        report.add(
            **{
                "views" if views_table else "records": result.records,
                "files": len(result.files),
                "flushes": 1,
                "bad": result.invalid_values + result.unreadable,
            }
        )
        report.peak(slowest_s=result.seconds)
        report.gauge(**{"views_through" if views_table else "through": result.last})
        report.tick()

    def views_loop() -> None:
        try:
            views.run(stop, on_flush=on_flush)
        except BaseException as exc:  # raised below, on the main thread
            failure.append(exc)
            stop.set()

    thread = threading.Thread(target=views_loop, name="lake-views-writer", daemon=True)
    thread.start()
    try:
        events.run(stop, on_flush=on_flush)
    finally:
        stop.set()
        thread.join()
        report.flush()
    if failure:
        raise failure[0]


def _summary(f: Figures) -> str | None:
    if f.idle:
        return None
    line = (
        f"wrote {f.count('records'):.0f} records ({f.rate('records'):.0f}/s) and "
        f"{f.count('views'):.0f} views in {f.count('flushes'):.0f} flushes, "
        f"{f.count('files'):.0f} file(s), slowest {f.peaks.get('slowest_s', 0):.2f} s, "
        f"over {f.seconds:.0f} s"
    )
    if "through" in f.gauges:
        line += f"; events through log position {f.gauges['through']:.0f}"
    if f.count("bad"):
        line += f"; {f.count('bad'):.0f} invalid or unreadable value(s)"
    return line


def _flushed(result: FlushResult) -> None:
    line = (
        f"flushed {result.records} {'view ' if result.table == 'views' else ''}records"
        f" ({result.first}-{result.last}) into "
        f"{len(result.files)} file(s) in {result.seconds:.2f} s"
    )
    if result.invalid_values or result.unreadable:
        line += f"; {result.invalid_values} invalid value(s), {result.unreadable} unreadable"
        log.warning(line)
    else:
        log.debug(line)


if __name__ == "__main__":
    raise SystemExit(main())
