"""`qos`: the command line of the local platform (start the stack, inspect the event log)."""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import qos_search_node as search_node
from qos_infra.local import LocalStack, StackError, StackOptions, components
from qos_infra.stack_state import read_state
from qos_shared.eventlog import EventLog, EventLogError
from qos_shared.local_process import on_stop_signals

DEFAULT_DATA_DIR = Path(".qos-data")


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["lake"]:
        # `qos lake …` is the lake service's own command line (queries, compaction).
        from qos_lake.api import cli_main as lake_main

        return lake_main(args_list[1:], prog="qos lake")
    if args_list[:1] == ["cost"]:
        from qos_infra.cost import main as cost_main

        return cost_main(args_list[1:])
    if args_list[:1] == ["simulate"]:
        from qos_infra.simulator import main as simulate_main

        return simulate_main(args_list[1:])
    parser = argparse.ArgumentParser(prog="qos", description="The QoS platform on this machine.")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start the local stack; Ctrl-C stops it")
    up.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="where the event log and other local data live (default .qos-data)",
    )
    up.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    up.add_argument(
        "--port", type=int, default=8780, help="ingest port (default 8780; 0: any free)"
    )
    up.add_argument(
        "--window-s",
        type=int,
        default=60,
        help="realtime window length in seconds (default 60; down to 5 for demos)",
    )
    up.add_argument(
        "--view-timeout-s",
        type=int,
        default=180,
        help="a view closes this long after its viewer's last event (default 180; view KPIs "
        "come this much after the events)",
    )
    up.add_argument(
        "--revision-horizon-s",
        type=float,
        default=600.0,
        help="a closed window is revised by records that come up to this long after it closed "
        "(default 600; 0: never); views reach the lake and search after it",
    )
    up.add_argument(
        "--search-port",
        type=int,
        default=9200,
        help="the local OpenSearch node's port (default 9200; 0: any free)",
    )
    up.add_argument(
        "--dashboard-port",
        type=int,
        default=8800,
        help="the local dashboard's port (default 8800; 0: any free)",
    )
    up.add_argument(
        "--player-port",
        type=int,
        default=8790,
        help="the demo page's port (default 8790; 0: any free; needs node)",
    )
    up.add_argument(
        "--demo",
        nargs="?",
        const=150,
        type=int,
        metavar="VIEWERS",
        help="also simulate viewers (default 150) so the dashboard fills at once",
    )
    up.add_argument(
        "--no-search",
        action="store_true",
        help="run without OpenSearch (it needs Java 17 and Maven)",
    )

    commands.add_parser(
        "lake", help="the lake's named queries: `qos lake queries`, `qos lake query …`"
    )
    commands.add_parser("simulate", help="send simulated viewers to ingest: `qos simulate --help`")
    commands.add_parser("cost", help="the monthly AWS bill at an audience size: `qos cost --help`")
    reset = commands.add_parser("reset", help="delete the local data directory (asks first)")
    reset.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    reset.add_argument("--yes", action="store_true", help="do not ask")
    status = commands.add_parser(
        "status", help="each component's state and restarts, the event log and its consumers"
    )
    status.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)

    args = parser.parse_args(args_list)
    if args.command == "reset":
        return _reset(args.data_dir, assume_yes=args.yes)
    if args.command == "up":
        if not 5 <= args.window_s <= 3600:
            parser.error("--window-s must be between 5 and 3600")
        if not 10 <= args.view_timeout_s <= 86_400:
            parser.error("--view-timeout-s must be between 10 and 86400")
        if not 0 <= args.revision_horizon_s <= 86_400:
            parser.error("--revision-horizon-s must be between 0 and 86400")
        if args.demo is not None and not 1 <= args.demo <= 100_000:
            parser.error("--demo takes a number of viewers between 1 and 100000")
        for flag in ("port", "search_port", "dashboard_port", "player_port"):
            if not 0 <= getattr(args, flag) <= 65_535:
                parser.error(f"--{flag.replace('_', '-')} must be between 0 and 65535")
        return _up(
            StackOptions(
                data_dir=args.data_dir,
                host=args.host,
                ingest_port=args.port,
                window_s=args.window_s,
                view_timeout_s=args.view_timeout_s,
                revision_horizon_s=args.revision_horizon_s,
                search_port=_search_port(args.search_port, wanted=not args.no_search),
                dashboard_port=args.dashboard_port,
                player_port=args.player_port,
                demo_viewers=args.demo or 0,
            )
        )
    return _status(args.data_dir)


def _search_port(port: int, *, wanted: bool) -> int | None:
    """The node's port, or None (with the reason printed) when search cannot or should not run."""
    if not wanted:
        print("qos: running without search (--no-search)", flush=True)
        return None
    reason = search_node.available()
    if reason is not None:
        print(f"qos: running without search: {reason}", flush=True)
        return None
    return port or search_node.free_port()


# component -> the `qos up` option that sets its port
PORT_FLAGS = {
    "ingest": "--port",
    "opensearch": "--search-port",
    "dashboard": "--dashboard-port",
    "player": "--player-port",
}


def busy_ports(options: StackOptions) -> list[str]:
    """One line per component whose port (not 0) is taken on the stack's host: each port is
    the one asked for, never silently another."""
    ports = {
        "ingest": options.ingest_port,
        "opensearch": options.search_port,
        "dashboard": options.dashboard_port,
        "player": options.player_port,
    }
    running = {c.name for c in components(options)}
    problems: list[str] = []
    for name, port in ports.items():
        if name not in running or not port:
            continue
        host = "127.0.0.1" if name == "opensearch" else options.host
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            try:
                # As the servers bind: a port in TIME_WAIT only is free for them.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
            except OSError as exc:
                problems.append(
                    f"{name}'s port {port} on {host} is not free ({exc.strerror}): stop what"
                    f" uses it, or choose another with {PORT_FLAGS[name]} (0: any free port)"
                )
    return problems


def _up(options: StackOptions) -> int:
    problems = busy_ports(options)
    for problem in problems:
        print(f"qos: {problem}", file=sys.stderr, flush=True)
    if problems:
        return 1
    stack = LocalStack(options, out=lambda line: print(line, flush=True))
    on_stop_signals(stack.request_stop)
    print(f"qos: starting the local stack (data in {options.data_dir.resolve()})", flush=True)
    try:
        urls = stack.start()
    except StackError as exc:
        print(f"qos: {exc}", file=sys.stderr, flush=True)
        return 1
    described = {c.name: c.description for c in components(options)}
    print("qos: ready", flush=True)
    for name, url in urls.items():
        print(f"  {name:<10} {url or '(no URL)'}  {described.get(name, '')}", flush=True)
    print("qos: press Ctrl-C to stop", flush=True)
    code = stack.wait()
    print("qos: stopping", flush=True)
    stack.stop()
    print("qos: stopped", flush=True)
    return code


def _reset(data_dir: Path, *, assume_yes: bool) -> int:
    """Delete the local data (event log, metric store, lake, OpenSearch data) after asking."""
    if not data_dir.exists():
        print(f"qos: nothing to reset ({data_dir} does not exist)")
        return 0
    if not (data_dir / "events.sqlite").exists() and any(data_dir.iterdir()):
        # Refuse to empty a directory that is not a QoS data directory (a typo in --data-dir).
        print(f"qos: {data_dir} holds no event log; not a QoS data directory", file=sys.stderr)
        return 1
    if not assume_yes:
        if not sys.stdin.isatty():
            print("qos: reset needs a confirmation; pass --yes", file=sys.stderr)
            return 1
        answer = input(f"Delete everything under {data_dir.resolve()}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("qos: nothing deleted")
            return 1
    shutil.rmtree(data_dir)
    print(f"qos: deleted {data_dir}")
    return 0


def _status(data_dir: Path) -> int:
    stack = read_state(data_dir)
    if stack is not None:
        _print_stack(stack)
    path = data_dir / "events.sqlite"
    if not path.exists():
        print(f"qos: no event log at {path}; start the stack with `qos up`", file=sys.stderr)
        return 1
    try:
        with EventLog(path) as log:
            last = log.last_position()
            print(f"event log {path}: {log.count()} events, last position {last}")
            for consumer, position in sorted(log.consumers().items()):
                print(f"  {consumer:<16} at {position} ({last - position} behind)")
    except EventLogError as exc:
        print(f"qos: {exc}", file=sys.stderr)
        return 1
    return 0


def _print_stack(stack: dict[str, Any]) -> None:
    """The supervisor's last word (stack.json): the stack's state and each component's."""
    if stack["alive"]:
        print(f"stack: {stack['state']} (qos up pid {stack['pid']}, since {stack['started_at']})")
    elif stack["state"] == "stopped":
        print(f"stack: stopped (at {stack['updated_at']})")
    else:
        print(
            f"stack: not running (qos up pid {stack['pid']} is gone without stopping it;"
            f" last state {stack['state']} at {stack['updated_at']})"
        )
    for name, c in stack["components"].items():
        exit_ = c["last_exit"]
        last = "" if exit_ is None else f", last exit code {exit_['code']} at {exit_['at']}"
        pid = f"pid {c['pid']}" if c["pid"] and stack["alive"] else "no pid"
        print(f"  {name:<11} {c['state']:<10} {pid}, {c['restarts']} restarts{last}")


if __name__ == "__main__":
    raise SystemExit(main())
