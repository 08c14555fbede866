"""`qos-search-indexer`: the search indexer as a process, and its setup and dead-letter commands.

qos-search-indexer run            index the event log and the views log until stopped (applies the
                                  templates first)
qos-search-indexer setup          apply the ingest pipeline and index template, then exit
qos-search-indexer dead-letters   list the records OpenSearch rejected, with why
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from opensearchpy.exceptions import OpenSearchException
from pydantic import ValidationError

from qos_search_indexer import bootstrap
from qos_search_indexer.service import BatchResult, SearchIndexer
from qos_search_indexer.settings import SearchSettings
from qos_shared.activity import Figures, IntervalLog, configure_logging
from qos_shared.eventlog import EventLog, EventLogError

PROG = "qos-search-indexer"


logger = logging.getLogger("qos_search_indexer.local")


def _progress(result: BatchResult, what: str = "records") -> None:
    """One batch, at DEBUG (the interval's line says what the batches did)."""
    line = (
        f"indexed {result.indexed} of {result.read} {what} ({result.first}-{result.last})"
        f" in {result.seconds:.2f} s"
    )
    if result.dead_lettered:
        line += f"; {result.dead_lettered} dead-lettered"
    if result.retries:
        line += f"; {result.retries} retries"
    logger.debug(line)


def _summary(f: Figures) -> str | None:
    backlog = f.gauges.get("backlog", 0) + f.gauges.get("views_backlog", 0)
    if f.idle and not backlog:
        return None
    line = (
        f"indexed {f.count('records'):.0f} records ({f.rate('records'):.0f}/s) and "
        f"{f.count('views'):.0f} views in {f.count('batches'):.0f} batches over "
        f"{f.seconds:.0f} s, slowest batch {f.peaks.get('slowest_s', 0):.1f} s; "
        f"backlog {f.gauges.get('backlog', 0):.0f} records, "
        f"{f.gauges.get('views_backlog', 0):.0f} views"
    )
    if f.count("dead_lettered") or f.count("retries"):
        line += f"; {f.count('dead_lettered'):.0f} dead-lettered, {f.count('retries'):.0f} retries"
    return line


def _reporter(
    report: IntervalLog, indexer: SearchIndexer, views: bool
) -> Callable[[BatchResult], None]:
    """`on_poll` of one indexer's loop: its figures into the shared interval log."""
    kind = "views" if views else "records"

    def on_poll(result: BatchResult) -> None:
        if result.read:
            _progress(result, kind)
            report.add(
                **{kind: result.indexed},
                batches=1,
                dead_lettered=result.dead_lettered,
                retries=result.retries,
            )
            report.peak(slowest_s=result.seconds)
        report.gauge(**{"views_backlog" if views else "backlog": indexer.backlog()})
        report.tick()

    return on_poll


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="index the event log until stopped")
    run.add_argument("--log-path", type=Path, help="the local event log to read")
    run.add_argument("--dead-letter-path", type=Path, help="where rejected records are parked")
    run.add_argument("--views-log-path", type=Path, help="the realtime engine's log of views")
    run.add_argument(
        "--views-dead-letter-path", type=Path, help="where rejected view records are parked"
    )
    run.add_argument("--url", help="the OpenSearch endpoint, e.g. http://127.0.0.1:9200")
    run.add_argument("--batch-size", type=int, help="records per _bulk request")
    up = commands.add_parser("setup", help="apply the ingest pipeline and the index template")
    up.add_argument("--url", help="the OpenSearch endpoint")
    dead = commands.add_parser("dead-letters", help="list the parked records and their reasons")
    dead.add_argument("--dead-letter-path", type=Path)
    dead.add_argument("--views-dead-letter-path", type=Path)
    dead.add_argument("--limit", type=int, default=50)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        configure_logging()
    except ValueError as exc:
        return _fail(str(exc))
    options = {
        k: v for k, v in vars(args).items() if v is not None and k not in ("command", "limit")
    }
    try:
        settings = SearchSettings(**options)
    except ValidationError as exc:
        return _fail(f"bad settings: {exc}")
    if args.command == "dead-letters":
        return _dead_letters(settings, args.limit)
    if args.command == "setup":
        try:
            bootstrap.apply_index_design(bootstrap.opensearch_client(settings))
        except OpenSearchException as exc:
            return _fail(f"cannot apply the index design at {settings.url}: {exc}")
        print(f"applied the ingest pipeline and index template at {settings.url}")
        return 0
    return _run(settings)


def _run(settings: SearchSettings) -> int:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        log = EventLog(settings.log_path)
        views_log = EventLog(settings.views_log_path)
    except (EventLogError, OSError) as exc:
        return _fail(f"cannot start: {exc}")
    client = bootstrap.opensearch_client(settings)
    # The node may still be starting (qos up starts both at once): wait for it, politely.
    delay = 0.5
    while not stop.is_set():
        try:
            bootstrap.apply_index_design(client)
            break
        except OpenSearchException as exc:
            print(
                f"{PROG}: waiting for OpenSearch at {settings.url} ({_one_line(exc)})", flush=True
            )
            stop.wait(delay)
            delay = min(delay * 2, 10.0)
    dead_letters = bootstrap.dead_letter_store(settings)
    view_dead_letters = bootstrap.views_dead_letter_store(settings)
    config = bootstrap.indexer_config(settings)
    indexer = bootstrap.build_indexer(log, client, dead_letters, config, stop=stop)
    # The views log has its own checkpoint (in its own file) and its own thread: a backlog of
    # events never holds the views back, nor the other way round.
    views_indexer = bootstrap.build_indexer(views_log, client, view_dead_letters, config, stop=stop)
    report = IntervalLog(logger, _summary)
    views_thread = threading.Thread(
        target=views_indexer.run,
        kwargs={"on_poll": _reporter(report, views_indexer, views=True)},
        name="views-indexer",
        daemon=True,
    )
    print(
        f"{PROG} indexing {settings.log_path} and {settings.views_log_path} into {settings.url}",
        flush=True,
    )
    started = time.monotonic()
    views_thread.start()
    try:
        indexer.run(on_poll=_reporter(report, indexer, views=False))
    finally:
        stop.set()
        views_thread.join()
        report.flush()
        indexer.close()  # before the log: its worker may be reading the next batch
        views_indexer.close()
        backlog, views_backlog = indexer.backlog(), views_indexer.backlog()
        dead_letters.close()
        view_dead_letters.close()
        log.close()
        views_log.close()
        client.close()
    print(
        f"{PROG} stopped after {time.monotonic() - started:.0f} s;"
        f" {backlog} record(s) and {views_backlog} view(s) left to index at the next start",
        flush=True,
    )
    return 0


def _dead_letters(settings: SearchSettings, limit: int) -> int:
    for path, open_store in (
        (settings.dead_letter_path, bootstrap.dead_letter_store),
        (settings.views_dead_letter_path, bootstrap.views_dead_letter_store),
    ):
        if not path.exists():
            print(f"no dead letters ({path} does not exist)")
            continue
        store = open_store(settings)
        try:
            total = store.count()
            for letter in store.list(limit):
                where = letter.index_name or "-"
                print(
                    f"{letter.position}\t{letter.event_id}\t{where}\t{letter.status}"
                    f"\t{letter.reason}"
                )
            print(f"{total} dead letter(s) in {path}", file=sys.stderr)
        finally:
            store.close()
    return 0


def _fail(message: str) -> int:
    print(f"{PROG}: {_one_line(message)}", file=sys.stderr)
    return 2


def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":
    raise SystemExit(main())
