"""`python -m qos_search_indexer.dashboards`: generate, check or import the saved objects.

    generate [--out PATH]          write the NDJSON (default: the committed file; `-`: stdout)
    generate --check [--out PATH]  exit 1 when the file differs from what the catalogue gives
    import --endpoint URL [--file PATH] [--user U [--password-env VAR]] [--no-overwrite]
                                   POST the NDJSON (default: freshly generated) to Dashboards

Errors are one line on stderr with a non-zero exit: 2 for bad input, 1 for a stale file or a
failed import.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from qos_search_indexer.dashboards import DEFAULT_PATH
from qos_search_indexer.dashboards.importer import DashboardsImportError, import_saved_objects
from qos_search_indexer.dashboards.saved_objects import render_ndjson

PASSWORD_ENV = "QOS_DASHBOARDS_PASSWORD"  # noqa: S105 - the name of a variable, not a secret


class UsageError(Exception):
    """Bad input: reported in one line, exit 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m qos_search_indexer.dashboards",
        description="OpenSearch Dashboards saved objects generated from the metric catalogue.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="write (or --check) the NDJSON file")
    generate.add_argument("--out", default=str(DEFAULT_PATH), help="file to write, or - (stdout)")
    generate.add_argument(
        "--check", action="store_true", help="exit 1 if the file is not what generate writes"
    )
    imp = commands.add_parser("import", help="import the saved objects into Dashboards")
    imp.add_argument(
        "--endpoint",
        required=True,
        help="Dashboards base URL: http://localhost:5601, or https://<domain>/_dashboards",
    )
    imp.add_argument("--file", help="NDJSON to import (default: generated now)")
    imp.add_argument("--user", help="basic-auth user (the password comes from --password-env)")
    imp.add_argument(
        "--password-env",
        default=PASSWORD_ENV,
        help=f"environment variable holding the password (default {PASSWORD_ENV})",
    )
    imp.add_argument("--no-overwrite", action="store_true", help="keep objects that already exist")
    imp.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    return parser


def _generate(out: str, check: bool) -> int:
    ndjson = render_ndjson()
    if out == "-":
        if check:
            raise UsageError("--check compares with a file: give --out PATH")
        sys.stdout.buffer.write(ndjson)
        return 0
    path = Path(out)
    if path == DEFAULT_PATH and not (DEFAULT_PATH.parents[1] / "pyproject.toml").is_file():
        raise UsageError("not a source checkout: give --out PATH")
    if check:
        try:
            current = path.read_bytes()
        except OSError as error:
            print(f"error: cannot read {path}: {error.strerror}", file=sys.stderr)
            return 1
        if current != ndjson:
            print(
                f"error: {path} is stale; run `python -m qos_search_indexer.dashboards generate`",
                file=sys.stderr,
            )
            return 1
        print(f"{path} is current")
        return 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(ndjson)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None
    count = ndjson.count(b"\n")
    print(f"wrote {path} ({count} saved objects)")
    return 0


def _import(args: argparse.Namespace) -> int:
    if args.file:
        try:
            ndjson = Path(args.file).read_bytes()
        except OSError as error:
            raise UsageError(f"cannot read {args.file}: {error.strerror}") from None
    else:
        ndjson = render_ndjson()
    auth = None
    if args.user:
        password = os.environ.get(args.password_env)
        if not password:
            raise UsageError(f"--user given but ${args.password_env} is not set")
        auth = (args.user, password)
    try:
        result = import_saved_objects(
            args.endpoint,
            ndjson,
            overwrite=not args.no_overwrite,
            auth=auth,
            timeout=args.timeout,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    except DashboardsImportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"imported {result.success_count} saved objects into {args.endpoint}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "generate":
            return _generate(args.out, args.check)
        return _import(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
