"""The metric catalogue as a Markdown page (docs/metrics.md), generated and checked like the schema.

`python -m qos_shared.catalogue_doc` writes it; `--check` fails when the committed page is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qos_shared import views
from qos_shared.catalogue import (
    CATALOGUE,
    LATE_EVENTS,
    SECTIONS,
    STREAM_METRIC_TYPES,
    Add,
    Aggregate,
    Clause,
    Eq,
    Expr,
    Field,
    Filter,
    Gt,
    Metric,
    Presentation,
)

DEFAULT_PATH = Path(__file__).resolve().parents[3] / "docs" / "metrics.md"


def _clause(clause: Clause) -> str:
    text = "/".join(clause.metric_types)
    for c in clause.conditions:
        if isinstance(c, Eq):
            text += f", {c.field} = {c.value!r}"
        elif isinstance(c, Gt):
            text += f", {c.field} > {c.value!r}"
        else:
            text += f", {c.field} present"
    return text


def _filter(f: Filter) -> str:
    if len(f.clauses) == 1:
        return _clause(f.clauses[0])
    return " or ".join(f"({_clause(c)})" for c in f.clauses)


def _expr(expr: Expr) -> str:
    if isinstance(expr, Field):
        return expr.name
    op = "+" if isinstance(expr, Add) else "*"
    return f"({_expr(expr.left)} {op} {_expr(expr.right)})"


def _aggregate(a: Aggregate) -> str:
    value = "" if a.value is None else _expr(a.value)
    label = {
        "count": "count",
        "sum": f"sum {value}",
        "distinct": f"distinct {value}",
        "values": f"values of {value}",
    }[a.kind]
    return f"{label} over {_filter(a.filter)}"


def _formula(m: Metric) -> str:
    scale = "" if m.scale == 1.0 else f" * {m.scale:g}"
    if m.kind == "percentile":
        return f"p{round((m.quantile or 0) * 100)} of {_aggregate(m.numerator)}{scale}"
    if m.denominator is None:
        return f"{_aggregate(m.numerator)}{scale}"
    split = f", split by {m.split_by}" if m.split_by else ""
    return f"{_aggregate(m.numerator)} / {_aggregate(m.denominator)}{split}{scale}"


def _presentation(m: Metric, shown: Presentation) -> str:
    cells = (
        f"`{m.name}`",
        shown.section,
        shown.chart,
        "" if shown.tile is None else str(shown.tile),
        "" if shown.alarm_threshold is None else f"{shown.alarm_threshold:g} ({m.cloudwatch_unit})",
        shown.original_widget or "",
        shown.original_panel or "",
    )
    return "| " + " | ".join(cells) + " |"


def render() -> str:
    lines = [
        "# Metric catalogue",
        "",
        "Generated from `shared/src/qos_shared/catalogue.py` by `nox -s schema`; do not edit.",
        "Every engine (local window engine, Flink job, lake, dashboards) renders these",
        "definitions; each is computed per window and group: all, `client_platform`,",
        "`channel_watched`.",
        "",
        "| metric | unit | definition | original name |",
        "|---|---|---|---|",
    ]
    for m in CATALOGUE:
        legacy = m.legacy_name or ""
        lines.append(f"| `{m.name}` | {m.unit} | {m.description} <br>`{_formula(m)}` | {legacy} |")
    lines += [
        f"| `{LATE_EVENTS}` | count | Records that arrived after their window had closed "
        "(counted by each engine, never aggregated). | |",
        "",
        "## Presentation",
        "",
        "How the dashboards show each metric: the local dashboard (its tiles, in tile order, "
        "through `GET /api/layout`), the OpenSearch saved objects (a panel per metric, in its "
        "section) and the CloudWatch dashboard (a widget per metric; the original widgets "
        "first) and its default alarms. Sections, in page order:",
        "",
        *(f"- **{s.name}**: {s.description}" for s in SECTIONS),
        "",
        "| metric | section | chart | tile | alarm threshold | original CloudWatch widget "
        "| original Kibana panel |",
        "|---|---|---|---|---|---|---|",
        *(_presentation(m, m.presentation) for m in CATALOGUE),
        "",
        *_stream_events(),
        "",
        *_views(),
    ]
    return "\n".join(lines)


def _stream_events() -> list[str]:
    """What the stream-event metrics read: the records ingest makes of Amazon IVS's events."""
    return [
        "## Stream events",
        "",
        "Amazon IVS sends a channel's stream events to EventBridge (`IVS Stream State Change`: "
        "Session Created, Session Ended, Stream Start, Stream End, Stream Failure; `IVS Stream "
        "Health Change`: Stream Starvation Start, Stream Starvation End). Ingest stores each as "
        "one record (`qos_shared.events.StreamState`, `StreamHealth`; ADR 18): `metric_type` "
        f"{' or '.join(f'`{t}`' for t in STREAM_METRIC_TYPES)}, `event_name`, `channel_arn`, "
        "`channel_name`, `stream_id`, `event_time` (the event's `time`), `source_format` "
        "`eventbridge`, and an `event_id` derived from the EventBridge event's `id`, so a "
        "redelivered event counts once. Their `channel_watched` is the channel id, the last part "
        "of the channel ARN: the id in the channel's playback URL (`…/channel.<id>.m3u8`), which "
        "is what the player SDK reports as `channel_watched` for an IVS stream, so a channel's "
        "stream and viewer records fall in the same channel group. Their `session_id` is the "
        'stream id (the partition key); they have no `client_platform` (the platform group ""). '
        "No client may send them (ingest rejects their metric types on `/v1/events`).",
        "",
        "They are a channel's, never a viewer's: no view is made of them, and every viewer KPI "
        "reads client event types only (concurrency and concurrent viewers count sessions with "
        "a PLAYBACK_SUMMARY). `live_channels` counts the distinct `channel_watched` of the "
        "window's stream records and of its live viewers' records (client events with "
        "`is_live`), so a channel on air shows with or without stream events, and a stream "
        "without viewers shows too. The stream counts (`stream_starts`, `stream_ends`, "
        "`stream_failures`, `starvations`) count events by name in the window of their `time`; "
        "IVS delivers them best effort, late or out of order, and a late one revises its window "
        "like any record.",
    ]


def _views() -> list[str]:
    """The view definition (`qos_shared.views`: its docstring, its defaults, its record)."""
    text = (views.__doc__ or "").strip().split("\n", 1)[1].strip()
    rules = views.DEFAULT_RULES
    return [
        "## Views",
        "",
        "Generated from `shared/src/qos_shared/views.py`. The metrics over `VIEW` records above "
        "(`views`, `video_start_failure`, `exits_before_video_start`, `playback_failure`, "
        "`experience_score`) read these.",
        "",
        text,
        "",
        f"Defaults: inactivity timeout {rules.timeout_ms // 1000} s, maximum length "
        f"{rules.max_length_ms // 3_600_000} h, quality reference "
        f"{views.QUALITY_REFERENCE_BPS:,} bit/s.",
        "",
        "A view's record:",
        "",
        "| field | type |",
        "|---|---|",
        *(f"| `{name}` | {kind} |" for name, kind in views.VIEW_FIELDS.items()),
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not args.output.exists() or args.output.read_text() != text:
            print(f"{args.output} is out of date; run `nox -s schema`", file=sys.stderr)
            return 1
        print(f"{args.output} is current")
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
