"""`qos simulate`: the viewer simulator's command line."""

from __future__ import annotations

import argparse
import random
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import NoReturn

from qos_infra.simulator.config import ConfigError, SimulationConfig
from qos_infra.simulator.delivery import DEFAULT_ENDPOINT, HttpSender, SystemClock
from qos_infra.simulator.incidents import Incident, IncidentError, parse_duration, parse_incident
from qos_infra.simulator.runner import ProgressLine, simulate

PROG = "qos simulate"
DEFAULT_DATA_DIR = Path(".qos-data")
EXAMPLE = (
    "qos simulate --viewers 500 --minutes 10"
    ' --incident "country=BR,start=3m,duration=2m,rebuffer=+8%"'
)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (and exit code 2), not the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see {PROG} --help)\n")


def _incident(text: str) -> Incident:
    try:
        return parse_incident(text)
    except IncidentError as exc:
        raise argparse.ArgumentTypeError(f'"{text}": {exc}') from None


def _skews(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'"{text}": expected ms values like 600000,-600000'
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Simulate viewers: realistic playback sessions sent to ingest as the player"
        " SDK sends them, with a ground-truth file of what was generated (docs/simulator.md).",
        epilog=f"example: {EXAMPLE}",
    )
    parser.add_argument("--viewers", type=int, default=100, help="audience size (default 100)")
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="simulated period in minutes (default 10)"
    )
    parser.add_argument("--seed", type=int, help="random seed (default: a new one, printed)")
    parser.add_argument(
        "--incident",
        type=_incident,
        action="append",
        default=[],
        metavar="SPEC",
        help='degrade a slice, e.g. "country=BR,start=3m,duration=2m,rebuffer=+8%%"; keys'
        " country, platform, channel, start, duration; effects rebuffer=+N%%, startup=+Nms or"
        " startup=xN, errors=+N%%, vsf=+N%% (repeatable)",
    )
    parser.add_argument(
        "--endpoint",
        default=DEFAULT_ENDPOINT,
        help=f"ingest URL (default {DEFAULT_ENDPOINT}; a base URL means its /v1/events)",
    )
    timing = parser.add_argument_group("time")
    timing.add_argument(
        "--speed", type=float, default=1.0, help="run N times faster than real time (default 1)"
    )
    timing.add_argument(
        "--backfill",
        action="store_true",
        help="simulate the period ending now and send it at once (event times in the past)",
    )
    timing.add_argument(
        "--prefill",
        metavar="DURATION",
        help="also simulate DURATION (e.g. 30m) before now, sent at once, then go on live",
    )
    timing.add_argument("--start", help="simulated start: ISO 8601 time (UTC) or epoch ms")
    clocks = parser.add_argument_group("device clocks")
    clocks.add_argument(
        "--skewed-clocks",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of viewers whose device clock is off, e.g. 0.1 (default 0: none)",
    )
    clocks.add_argument(
        "--clock-skews",
        type=_skews,
        default=(600_000, -600_000),
        metavar="MS,MS",
        help="how far off a skewed clock is, ms, one picked per viewer; + ahead, - behind"
        " (default 600000,-600000; use --clock-skews=-600000 for a negative first value)",
    )
    channels = parser.add_argument_group("channels")
    channels.add_argument(
        "--no-ivs-events",
        action="store_true",
        help="no Amazon IVS stream events for the live channels (sent by default to ingest's"
        " /eventbridge beside the endpoint)",
    )
    out = parser.add_argument_group("ground truth")
    out.add_argument("--truth", type=Path, help="truth file (default DATA_DIR/simulator/…)")
    out.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="default .qos-data")
    out.add_argument(
        "--window-s", type=int, default=60, help="realtime window length of the truth (default 60)"
    )
    out.add_argument(
        "--view-timeout-s",
        type=int,
        default=180,
        help="views close this long after their last event, in the truth (default 180)",
    )
    out.add_argument(
        "--top-n", type=int, default=10, help="channels named per window, others 'other' (10)"
    )
    sending = parser.add_argument_group("delivery")
    sending.add_argument("--batch-size", type=int, default=20, help="SDK batch size (default 20)")
    sending.add_argument(
        "--batch-interval", type=float, default=5.0, help="SDK batch interval, s (default 5)"
    )
    sending.add_argument("--max-retries", type=int, default=5, help="per request (default 5)")
    sending.add_argument(
        "--concurrency", type=int, default=8, help="requests in flight (default 8)"
    )
    sending.add_argument(
        "--dry-run", action="store_true", help="generate and write the truth; send nothing"
    )
    sending.add_argument("--no-progress", action="store_true", help="no progress line")
    return parser


def _epoch_ms(text: str) -> int:
    if text.strip().isdigit():
        return int(text.strip())
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f'--start "{text}" is not an ISO 8601 time nor epoch ms') from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _config(args: argparse.Namespace, now_ms: int) -> SimulationConfig:
    if args.backfill and args.prefill:
        raise ConfigError("--backfill and --prefill cannot be combined")
    if args.start and (args.backfill or args.prefill):
        raise ConfigError("--start cannot be combined with --backfill or --prefill")
    if args.speed != 1.0 and (args.backfill or args.prefill):
        raise ConfigError("--speed applies to live runs only, not to --backfill or --prefill")
    minutes = args.minutes
    if not minutes > 0:
        raise ConfigError(f"--minutes must be more than 0 (got {minutes:g})")
    start_ms = _epoch_ms(args.start) if args.start else now_ms
    if args.backfill:
        start_ms = now_ms - round(minutes * 60_000)
    elif args.prefill:
        try:
            prefill_ms = parse_duration(args.prefill, what="--prefill")
        except IncidentError as exc:
            raise ConfigError(str(exc)) from None
        start_ms = now_ms - prefill_ms
        minutes += prefill_ms / 60_000
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    return SimulationConfig(
        start_ms=start_ms,
        viewers=args.viewers,
        minutes=minutes,
        seed=seed,
        speed=args.speed,
        incidents=tuple(args.incident),
        window_s=args.window_s,
        view_timeout_s=args.view_timeout_s,
        top_n_channels=args.top_n,
        batch_size=args.batch_size,
        batch_interval_ms=round(args.batch_interval * 1000),
        max_retries=args.max_retries,
        concurrency=args.concurrency,
        clock_skew_share=args.skewed_clocks,
        clock_skews_ms=args.clock_skews,
        ivs_events=not args.no_ivs_events,
    )


def _default_truth(data_dir: Path, config: SimulationConfig) -> Path:
    started = datetime.fromtimestamp(config.start_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    return data_dir / "simulator" / f"{started}-seed{config.seed}.truth.json"


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed on one line
        return exc.code if isinstance(exc.code, int) else 2
    clock = SystemClock()
    try:
        config = _config(args, int(clock.time() * 1000))
        # A dry run sends nothing, so ingest's age limit does not apply to it.
        config.validate(now_ms=None if args.dry_run else int(clock.time() * 1000))
        sender = None if args.dry_run else HttpSender(args.endpoint)
    except (ConfigError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    if sender is not None and (reason := sender.unreachable()) is not None:
        print(
            f"{PROG}: cannot reach ingest at {sender.endpoint} ({reason}); start the stack with"
            " `qos up` or pass --endpoint",
            file=sys.stderr,
        )
        return 1
    truth_path = args.truth or _default_truth(args.data_dir, config)
    mode = "backfill" if args.backfill else f"{config.speed:g}x real time"
    if args.prefill:
        mode = f"prefill {args.prefill}, then real time"
    target = sender.endpoint if sender else "nowhere (dry run)"
    print(
        f"{PROG}: {config.viewers:,} viewers for {config.minutes:g} min, seed {config.seed},"
        f" {mode}, to {target}",
        flush=True,
    )

    stop = threading.Event()
    progress = None if args.no_progress or sender is None else ProgressLine()
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        signal.signal(signal.SIGINT, interrupt)
    try:
        result = simulate(
            config,
            clock=clock,
            sender=sender,
            truth_path=truth_path,
            stop=stop,
            on_progress=progress,
        )
    except (ConfigError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, OSError) else 2
    finally:
        if progress is not None:
            progress.finish()
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)

    sim = result.simulation
    print(
        f"{PROG}: {len(sim.viewers):,} viewers, {len(sim.sessions):,} sessions,"
        f" {sim.event_count:,} events; truth in {truth_path}",
        flush=True,
    )
    d = result.delivery
    if d is None:
        return 0
    print(
        f"{PROG}: accepted {d.accepted:,}, rejected {d.rejected:,}, failed {d.failed:,},"
        f" unsent {d.unsent:,} ({d.requests:,} requests, {d.retries:,} retries)",
        flush=True,
    )
    if stop.is_set():
        print(f"{PROG}: stopped before the end", file=sys.stderr)
        return 130
    if d.rejected or d.failed:
        why = "; ".join(d.reasons) or "ingest kept failing"
        print(f"{PROG}: not every event was accepted: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
