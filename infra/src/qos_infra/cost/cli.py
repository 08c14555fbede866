"""`qos cost`: the monthly AWS bill at an audience size, per service, beside the original sample's.

    qos cost                                   (10,000, 100,000 and 1,000,000 concurrent viewers)
    qos cost --viewers 250000 --hours-per-day 6 --lines
    qos cost --viewers 100000 --context qos:ingest:streamMode=provisioned \
             --context qos:ingest:expectedEventsPerSecond=4000

The settings are the stacks' own: infra/cdk.json's context, with `--context key=value` on top
(as `cdk synth -c` takes them), read by `qos_shared_cdk.scaling`. docs/cost.md explains every
line.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from qos_infra.cost.model import (
    RATES_PATH,
    Audience,
    CostError,
    Estimate,
    Rates,
    Settings,
    levers,
    original_sample,
    platform,
)
from qos_infra.cost.prices import (
    PRICE_SOURCE,
    PRICES_AS_OF,
    US_EAST_1,
    NotPriced,
    region_multiplier,
)
from qos_shared.catalogue import alarm_thresholds
from qos_shared_cdk.scaling import ScalingError

CDK_JSON = Path(__file__).resolve().parents[3] / "cdk.json"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def series_counter() -> Any:
    """The publisher's CloudWatch metric count (imported on call: it needs the realtime package)."""
    from qos_realtime.api import cloudwatch_series_count

    def count(platforms: int, channels: int, renditions: int, legacy: bool) -> int:
        return cloudwatch_series_count(
            platforms=platforms, channels=channels, renditions=renditions, legacy_metrics=legacy
        )

    return count


def estimate(audience: Audience, rates: Rates, settings: Settings, **kwargs: Any) -> Estimate:
    """This platform's estimate with the real metric count and alarms."""
    return platform(
        audience,
        rates,
        settings,
        cloudwatch_series=series_counter(),
        alarms=len(alarm_thresholds()),
        **kwargs,
    )


def load_context(path: Path, overrides: list[str]) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if path.is_file():
        context = dict(json.loads(path.read_text()).get("context", {}))
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("qos:"):
            raise CostError(f"--context takes qos:<service>:<key>=<value>, got {item!r}")
        context[key] = value
    return context


def main(argv: list[str] | None = None, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="qos cost", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--viewers",
        type=int,
        action="append",
        help="concurrent viewers (repeatable; default 10k, 100k, 1M)",
    )
    parser.add_argument(
        "--hours-per-day",
        type=float,
        default=24.0,
        help="hours a day the audience watches (default 24)",
    )
    parser.add_argument("--region", default="us-east-1", help="AWS region (default us-east-1)")
    parser.add_argument(
        "--dashboard-loads",
        type=int,
        default=50,
        help="lake dashboard loads a day, each running every named query (default 50)",
    )
    parser.add_argument(
        "--query-days", type=int, default=1, help="days each lake query reads (default 1)"
    )
    parser.add_argument(
        "--lake-months",
        type=int,
        default=12,
        help="age of the lake whose storage is priced (default 12)",
    )
    parser.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="CDK context on top of cdk.json",
    )
    parser.add_argument("--cdk-json", type=Path, default=CDK_JSON)
    parser.add_argument(
        "--rates",
        type=Path,
        default=RATES_PATH,
        help="measured rates (python -m qos_infra.cost.measure)",
    )
    parser.add_argument(
        "--lines", action="store_true", help="every line item, not only per service"
    )
    parser.add_argument("--json", action="store_true", help="the estimates as JSON")
    args = parser.parse_args(argv)
    try:
        multiplier = region_multiplier(args.region)
        settings = Settings.from_context(load_context(args.cdk_json, args.context))
        rates = Rates.load(args.rates)
        reports = []
        for viewers in args.viewers or DEFAULT_SIZES:
            audience = Audience(
                viewers=viewers,
                hours_per_day=args.hours_per_day,
                dashboard_loads_per_day=args.dashboard_loads,
                query_days=args.query_days,
                lake_age_months=args.lake_months,
            )
            ours = estimate(audience, rates, settings)
            sample = original_sample(audience, rates, settings, prices=US_EAST_1)
            reports.append((ours, sample, levers(audience, rates, settings, ours, estimate)))
    except (CostError, NotPriced, ScalingError) as error:
        print(f"qos cost: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps([_as_json(o, s, lv, multiplier) for o, s, lv in reports], indent=2), file=out
        )
        return 0
    print(
        f"Prices: {PRICE_SOURCE}, as of {PRICES_AS_OF}; region {args.region} (x{multiplier:g}).",
        file=out,
    )
    print(f"Rates: measured {rates.measured_on} by `{rates.command}`.", file=out)
    for ours, sample, lv in reports:
        _print(ours, sample, lv, multiplier, args.lines, out)
    return 0


def _as_json(ours: Estimate, sample: Estimate, lv: list[Any], multiplier: float) -> dict[str, Any]:
    return {
        "viewers": ours.audience.viewers,
        "hours_per_day": ours.audience.hours_per_day,
        "total_usd": ours.total * multiplier,
        "by_service": {k: v * multiplier for k, v in ours.by_service().items()},
        "lines": [asdict(line) | {"usd": line.usd * multiplier} for line in ours.lines],
        "changes": ours.changes,
        "notes": ours.notes,
        "original_sample_total_usd": sample.total * multiplier,
        "original_sample_by_service": {k: v * multiplier for k, v in sample.by_service().items()},
        "levers": [{"name": x.name, "how": x.how, "total_usd": x.total * multiplier} for x in lv],
    }


def _print(
    ours: Estimate, sample: Estimate, lv: list[Any], m: float, lines: bool, out: IO[str]
) -> None:
    a = ours.audience
    print(
        f"\n== {a.viewers:,} concurrent viewers, {a.hours_per_day:g} h a day:"
        f" ${ours.total * m:,.0f} a month (the original sample: ${sample.total * m:,.0f})",
        file=out,
    )
    services = ours.by_service()
    theirs = sample.by_service()
    width = max(len(s) for s in [*services, *theirs])
    print(f"  {'service':<{width}}  {'this platform':>14}  {'original':>12}", file=out)
    for name in dict.fromkeys([*services, *theirs]):
        mine = f"${services[name] * m:,.0f}" if name in services else "-"
        old = f"${theirs[name] * m:,.0f}" if name in theirs else "-"
        print(f"  {name:<{width}}  {mine:>14}  {old:>12}", file=out)
        if lines:
            for line in ours.lines:
                if line.service == name:
                    print(
                        f"      {line.item}: {line.quantity:,.1f} {line.unit}"
                        f" = ${line.usd * m:,.2f}",
                        file=out,
                    )
    top, top_usd = next(iter(services.items()))
    print(f"  Dominant: {top} ({top_usd / ours.total:.0%} of the total).", file=out)
    for lever in lv[:3]:
        saved = 1 - lever.total / ours.total
        print(
            f"  Lever: {lever.name}: ${lever.total * m:,.0f} ({saved:.0%} less) - {lever.how}",
            file=out,
        )
    for change in ours.changes:
        print(f"  Set for this audience: {change}", file=out)
    for note in ours.notes:
        print(f"  Note: {note}", file=out)


if __name__ == "__main__":
    raise SystemExit(main())
