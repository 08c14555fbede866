"""`qos-lake`: maintenance commands on a local lake (for now `compact`)."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date
from pathlib import Path

from qos_lake.compact import CompactBusy, compact

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Usage(Exception):
    """A bad command line, reported as one line instead of argparse's usage block."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _Usage(message)


def _day(text: str) -> str:
    try:
        if not _DATE.match(text):
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise _Usage(f"--dt: not a date (YYYY-MM-DD): {text!r}") from None
    return text


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="qos-lake", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    compact_cmd = commands.add_parser("compact", help="merge each partition's files into one")
    compact_cmd.add_argument("--lake-root", type=Path, required=True, help="the lake root")
    compact_cmd.add_argument("--dt", help="only this day's partitions (YYYY-MM-DD)")
    try:
        args = parser.parse_args(argv)
        dt = None if args.dt is None else _day(args.dt)
        root: Path = args.lake_root
        if not root.is_dir():
            raise _Usage(f"lake root {str(root)!r} does not exist")
    except _Usage as exc:
        print(f"qos-lake: {exc}", file=sys.stderr)
        return 2
    try:
        results = compact(root, dt)
    except (CompactBusy, OSError) as exc:
        print(f"qos-lake: compact failed: {' '.join(str(exc).split())}", file=sys.stderr)
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
