"""`qos-lake` (also `qos lake`): the named queries and maintenance commands on a local lake.

`query NAME` answers over the days `--from` to `--to` (UTC, both included); without them, the last
7 days up to today, the 7 days from `--from`, or the 7 days up to `--to` (the dashboard's rule),
and the days chosen are said on stderr. `compact` says how far it is, partition by partition.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from qos_lake.adapters.compaction import PartitionCompaction
from qos_lake.adapters.duckdb_query import QueryResult
from qos_lake.domain.errors import CompactBusy, LakeQueryError
from qos_lake.domain.queries import PARAMETERS, QUERIES, QueryParams, UnknownQuery, named_query
from qos_lake.service import compact, run_query
from qos_lake.settings import LakeSettings

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEFAULT_DAYS = 7
PROGRESS_EVERY_S = 2.0  # a compaction's progress line at most this often


def default_days(from_day: date | None, to_day: date | None, today: date) -> tuple[date, date]:
    """The days of a query: those given; the 7 days from `from_day` or up to `to_day` when one
    is given; the last 7 days up to `today` when none is."""
    span = timedelta(days=DEFAULT_DAYS - 1)
    if from_day is not None and to_day is not None:
        return from_day, to_day
    if from_day is not None:
        return from_day, from_day + span
    end = to_day if to_day is not None else today
    return end - span, end


class _Usage(Exception):
    """A bad command line, reported as one line instead of argparse's usage block."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _Usage(message)


def _day(text: str, flag: str = "--dt") -> str:
    try:
        if not _DATE.match(text):
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise _Usage(f"{flag}: not a date (YYYY-MM-DD): {text!r}") from None
    return text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.6g}"
    return str(value)


def _table(result: QueryResult) -> str:
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(result.columns)]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in result.rows)
        for i in range(len(result.columns))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(list(result.columns)), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out) + "\n"


def _print_result(result: QueryResult, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(result.records(), indent=2, allow_nan=False))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(["" if v is None else v for v in row] for row in result.rows)
    else:
        sys.stdout.write(_table(result))
    sys.stdout.flush()


def _list_queries() -> int:
    width = max(len(name) for name in QUERIES)
    for name, query in QUERIES.items():
        print(f"{name.ljust(width)}  {query.description}")
    params = ", ".join(
        f"--{p.name} ({p.type}{'' if p.required else ', optional'}): {p.description}"
        for p in PARAMETERS
    )
    print(f"\nparameters of every query: {params}")
    return 0


def _query(args: argparse.Namespace, prog: str) -> int:
    try:
        query = named_query(args.name)
        given_from = (
            None if args.from_day is None else date.fromisoformat(_day(args.from_day, "--from"))
        )
        given_to = None if args.to_day is None else date.fromisoformat(_day(args.to_day, "--to"))
        from_day, to_day = default_days(given_from, given_to, datetime.now(UTC).date())
        if given_from is None or given_to is None:
            print(f"{prog}: {query.name} from {from_day} to {to_day} (UTC)", file=sys.stderr)
        params = QueryParams(
            from_day,
            to_day,
            platform=args.platform,
            channel=args.channel,
            country=args.country,
        )
        root: Path = args.lake_root or LakeSettings().lake_root
        if not root.is_dir():
            raise _Usage(f"lake root {str(root)!r} does not exist")
    except (_Usage, UnknownQuery, ValueError) as exc:
        # A ValueError is QueryParams' reversed range (or a bad QOS_LAKE_* setting).
        print(f"{prog}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    try:
        result = run_query(root, query, params)
    except LakeQueryError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    except (duckdb.Error, OSError) as exc:
        print(f"{prog}: query {query.name} failed: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    _print_result(result, args.format)
    return 0


def _compact_progress(prog: str) -> Callable[[int, int, PartitionCompaction], None]:
    """A line on stderr at most every PROGRESS_EVERY_S, and after the last partition."""
    last = [time.monotonic()]
    rows = [0]

    def progress(done: int, total: int, result: PartitionCompaction) -> None:
        rows[0] += result.rows
        now = time.monotonic()
        if done == total or now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            print(
                f"{prog}: compacting: {done} of {total} partition(s), {rows[0]} rows merged",
                file=sys.stderr,
                flush=True,
            )

    return progress


def main(argv: list[str] | None = None, prog: str = "qos-lake") -> int:
    parser = _Parser(prog=prog, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    compact_cmd = commands.add_parser("compact", help="merge each partition's files into one")
    compact_cmd.add_argument("--lake-root", type=Path, required=True, help="the lake root")
    compact_cmd.add_argument("--dt", help="only this day's partitions (YYYY-MM-DD)")
    commands.add_parser("queries", help="list the named queries")
    query_cmd = commands.add_parser("query", help="run a named query on the local lake")
    query_cmd.add_argument("name", help=f"the query (see `{prog} queries`)")
    query_cmd.add_argument(
        "--from",
        dest="from_day",
        help=f"first day, YYYY-MM-DD (default: {DEFAULT_DAYS - 1} days before --to)",
    )
    query_cmd.add_argument(
        "--to",
        dest="to_day",
        help=f"last day, YYYY-MM-DD (default: today, UTC, or {DEFAULT_DAYS - 1} days after --from)",
    )
    query_cmd.add_argument("--platform", help="only this client_platform")
    query_cmd.add_argument("--channel", help="only this channel_watched")
    query_cmd.add_argument("--country", help="only this viewer_country")
    query_cmd.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query_cmd.add_argument(
        "--lake-root", type=Path, help="the lake root (default: QOS_LAKE_LAKE_ROOT)"
    )
    try:
        args = parser.parse_args(argv)
        if args.command == "queries":
            return _list_queries()
        if args.command == "query":
            return _query(args, prog)
        dt = None if args.dt is None else _day(args.dt)
        root: Path = args.lake_root
        if not root.is_dir():
            raise _Usage(f"lake root {str(root)!r} does not exist")
    except _Usage as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    try:
        results = compact(root, dt, _compact_progress(prog))
    except (CompactBusy, OSError) as exc:
        print(f"{prog}: compact failed: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    merged = [r for r in results if r.merged is not None]
    removed = sum(r.removed for r in results)
    print(
        f"compacted {len(merged)} of {len(results)} partition(s): "
        f"{sum(r.inputs for r in merged)} file(s) into {len(merged)}, {removed} removed",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
