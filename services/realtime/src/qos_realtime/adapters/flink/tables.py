"""Renders the Flink DDL of the job's sources and sinks: Kinesis on AWS, JSON files in tests.

A source has one column per field the catalogue reads, `event_id` (the deduplication's key;
stored records are flat JSON objects; the JSON format ignores every other field) and
`received_at` (the server's receive time, which ingest stamps on every stored record), a
`rowtime` computed from `event_time` (epoch ms) with a watermark, and a `proctime` attribute (the
deduplication's order).

The watermark trails `LEAST(rowtime, received_at)` by the allowed lateness (a window closes once
a record `lateness` past its end has been read, by both clocks; later records for it become
`late_events` rows and, within the revision horizon, corrections, see `sql`). Bounded by the
receive time, no record moves it past the server's clock: one event an hour ahead (a client
clock) or a legacy client's minutes ahead, amid normal traffic, leaves everyone else's records on
time (a mini-cluster test). A record without `received_at` is bounded by its event time alone.
What remains: a live record amid a replay of history (the job reading a backlog from the
stream's start) has a receive time of now and still moves the watermark past the history's
windows, which then close early; a replay should run apart from live traffic (ADR 16). A sink
takes both row types of the job (`sql.SINK_COLUMNS`: MetricRow's columns, then DistributionRow's
others) and writes one JSON object per row, with nulls in the other type's columns; the
publisher's `parse_row` reads either back. A views sink takes the job's VIEW records
(`qos_shared.views.VIEW_FIELDS`), one JSON object per view.

Connector options are those of `flink-connector-aws-kinesis-streams` 5.x and later (the `kinesis`
identifier: the FLIP-27 source and the async sink), and of Flink's filesystem connector.
"""

from __future__ import annotations

from collections.abc import Mapping

from qos_realtime.adapters.flink.sql import (
    EVENT_ID,
    PROCTIME,
    RECEIVED_AT,
    RECORD_FIELDS,
    SINK_COLUMNS,
    ident,
)
from qos_realtime.adapters.flink.sql import FIELD_TYPES as FIELD_TYPES  # the fields' types
from qos_shared.views import VIEW_FIELDS

JSON_SOURCE_OPTIONS: dict[str, str] = {
    "format": "json",
    # A record that is not JSON is skipped, not a reason to fail the job (ingest validated it).
    "json.ignore-parse-errors": "true",
}
JSON_SINK_OPTIONS: dict[str, str] = {"format": "json"}
# A window's rows leave in one burst when it closes, usually fewer than a full batch: the async
# sink's default of waiting up to 5 s for more would add 5 s to every window's latency.
KINESIS_SINK_OPTIONS: dict[str, str] = {"sink.flush-buffer.timeout": "1000"}


def _interval_seconds(seconds: float) -> str:
    if seconds < 0:
        raise ValueError("the allowed lateness cannot be negative")
    return f"INTERVAL '{seconds:.3f}' SECOND"


def _with(options: Mapping[str, str]) -> str:
    def quoted(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    return ",\n    ".join(f"{quoted(k)} = {quoted(v)}" for k, v in options.items())


def source_columns() -> list[tuple[str, str]]:
    """(column, Flink type) of every record field the job reads (`sql.RECORD_FIELDS`: the
    event metrics' and the view partials'), sorted by name, then `event_id`."""
    missing = set(RECORD_FIELDS) - FIELD_TYPES.keys()
    if missing:
        raise KeyError(f"no Flink type for the fields the job reads: {sorted(missing)}")
    return [(name, FIELD_TYPES[name]) for name in RECORD_FIELDS] + [
        (EVENT_ID, "STRING"),
        (RECEIVED_AT, "BIGINT"),
    ]


def source_ddl(name: str, options: Mapping[str, str], *, allowed_lateness_s: float) -> str:
    """A source table of stored records with an event-time attribute `rowtime` and a
    processing-time attribute `proctime`."""
    columns = [f"{ident(c)} {t}" for c, t in source_columns()]
    columns.append(f"{ident('rowtime')} AS TO_TIMESTAMP_LTZ({ident('event_time')}, 3)")
    columns.append(f"{ident(PROCTIME)} AS PROCTIME()")
    # The event time as far as the server's clock vouches for it: never past the receive time.
    bounded = (
        f"LEAST({ident('rowtime')}, "
        f"TO_TIMESTAMP_LTZ(COALESCE({ident(RECEIVED_AT)}, {ident('event_time')}), 3))"
    )
    columns.append(
        f"WATERMARK FOR {ident('rowtime')} AS {bounded} - {_interval_seconds(allowed_lateness_s)}"
    )
    body = ",\n    ".join(columns)
    return f"CREATE TABLE {ident(name)} (\n    {body}\n) WITH (\n    {_with(options)}\n)"


def sink_ddl(name: str, options: Mapping[str, str]) -> str:
    """A sink table of the job's MetricRows and DistributionRows (every column nullable)."""
    body = ",\n    ".join(f"{ident(c)} {t}" for c, t in SINK_COLUMNS)
    return f"CREATE TABLE {ident(name)} (\n    {body}\n) WITH (\n    {_with(options)}\n)"


def views_sink_ddl(name: str, options: Mapping[str, str]) -> str:
    """A sink table of the job's VIEW records (`VIEW_FIELDS`), one JSON object per view."""
    body = ",\n    ".join(f"{ident(c)} {t}" for c, t in VIEW_FIELDS.items())
    return f"CREATE TABLE {ident(name)} (\n    {body}\n) WITH (\n    {_with(options)}\n)"


def kinesis_source_ddl(
    name: str,
    *,
    stream_arn: str,
    region: str,
    allowed_lateness_s: float,
    init_position: str = "LATEST",
    extra: Mapping[str, str] | None = None,
) -> str:
    """The event stream ingest writes to (records: the stored-record JSON)."""
    options = {
        "connector": "kinesis",
        "stream.arn": stream_arn,
        "aws.region": region,
        "source.init.position": init_position,
        **JSON_SOURCE_OPTIONS,
        **(extra or {}),
    }
    return source_ddl(name, options, allowed_lateness_s=allowed_lateness_s)


def kinesis_sink_ddl(
    name: str, *, stream_arn: str, region: str, extra: Mapping[str, str] | None = None
) -> str:
    """The metric stream the CloudWatch publisher reads: one row's JSON per record."""
    options = {
        "connector": "kinesis",
        "stream.arn": stream_arn,
        "aws.region": region,
        **JSON_SINK_OPTIONS,
        **KINESIS_SINK_OPTIONS,
        **(extra or {}),
    }
    return sink_ddl(name, options)


def kinesis_views_sink_ddl(
    name: str, *, stream_arn: str, region: str, extra: Mapping[str, str] | None = None
) -> str:
    """The views stream the lake and the search index read: one view record's JSON per
    record."""
    options = {
        "connector": "kinesis",
        "stream.arn": stream_arn,
        "aws.region": region,
        **JSON_SINK_OPTIONS,
        **KINESIS_SINK_OPTIONS,
        **(extra or {}),
    }
    return views_sink_ddl(name, options)


def filesystem_source_ddl(name: str, *, path: str, allowed_lateness_s: float) -> str:
    """Newline-delimited stored records in a file or folder: a bounded source, so every window
    closes when the input ends (the watermark jumps to the end of time)."""
    options = {"connector": "filesystem", "path": path, **JSON_SOURCE_OPTIONS}
    return source_ddl(name, options, allowed_lateness_s=allowed_lateness_s)


def filesystem_sink_ddl(name: str, *, path: str) -> str:
    """The rows as newline-delimited JSON part files in the folder `path` (committed when a
    bounded job ends, or on checkpoints)."""
    return sink_ddl(name, {"connector": "filesystem", "path": path, **JSON_SINK_OPTIONS})


def filesystem_views_sink_ddl(name: str, *, path: str) -> str:
    """The VIEW records as newline-delimited JSON part files in the folder `path`."""
    return views_sink_ddl(name, {"connector": "filesystem", "path": path, **JSON_SINK_OPTIONS})
