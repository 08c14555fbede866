"""`qos-realtime`: the local window engine as a process, reading the event log until stopped."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from qos_realtime.bootstrap import build_consumer
from qos_realtime.service.consumer import RealtimeConsumer
from qos_realtime.settings import RealtimeSettings
from qos_shared.activity import Figures, IntervalLog
from qos_shared.local_process import Consumer, consumer_parser, run_consumer

log = logging.getLogger("qos_realtime.engine")


def main(argv: list[str] | None = None) -> int:
    parser = consumer_parser("qos-realtime", __doc__)
    parser.add_argument("--store-path", type=Path, help="the metric store to write")
    parser.add_argument("--views-log-path", type=Path, help="the log of closed views to write")
    parser.add_argument("--window-s", type=int, help="window length in seconds (5..3600)")
    parser.add_argument("--allowed-lateness-s", type=float, help="watermark delay in seconds")
    parser.add_argument(
        "--view-timeout-s", type=int, help="a view closes this long after its last record"
    )
    parser.add_argument(
        "--revision-horizon-s",
        type=float,
        help="a closed window is revised by records that come until the watermark is this far"
        " past its end (0: never)",
    )
    return run_consumer(parser, argv, _start)


def _start(given: dict[str, Any]) -> Consumer:
    settings = RealtimeSettings(**given)
    consumer = build_consumer(settings)
    return Consumer(
        describe=(
            f"{settings.log_path} into {settings.store_path} and {settings.views_log_path} "
            f"({settings.window_s} s windows, {settings.allowed_lateness_s:g} s allowed "
            f"lateness, revisions for {settings.revision_horizon_s:g} s, views closing after "
            f"{settings.view_timeout_s} s without a record)"
        ),
        run=lambda stop: _run(consumer, stop),
        opened=(consumer.log, consumer.store, *filter(None, [consumer.views_log])),
    )


def _run(consumer: RealtimeConsumer, stop: threading.Event) -> None:
    """The consumer's loop, with one line per interval: records read, their rate, the lag."""
    report = IntervalLog(log, _summary)

    def on_poll(read: int) -> None:
        report.add(records=read)
        report.gauge(lag=consumer.lag())
        report.tick()

    try:
        consumer.run(stop, on_poll=on_poll)
    finally:
        report.flush()


def _summary(f: Figures) -> str | None:
    lag = f.gauges.get("lag", 0)
    if f.idle and not lag:
        return None
    return (
        f"read {f.count('records'):.0f} records ({f.rate('records'):.0f}/s) over "
        f"{f.seconds:.0f} s; {lag:.0f} behind the log's end"
    )


if __name__ == "__main__":
    raise SystemExit(main())
