"""Runs the window job: the Managed Service for Apache Flink entrypoint, and a local runner.

On Managed Service for Apache Flink this file is the application zip's `main.py` (see
`qos_realtime.flink_package`): it reads the runtime properties MSF writes to
`/etc/flink/application_properties.json`, group `qos.realtime`:

| key | meaning | default |
| --- | --- | --- |
| `input.stream.arn` | the events stream (stored-record JSON) | required |
| `output.stream.arn` | the rows stream the publisher reads (row JSON, see `sql`) | required |
| `views.stream.arn` | the views stream (one view record's JSON each, `VIEW_FIELDS`) | required |
| `aws.region` | the streams' region | required |
| `window.seconds` | window length | 60 |
| `allowed.lateness.seconds` | watermark delay behind the newest event time | 5 |
| `source.init.position` | where a fresh job starts reading: LATEST, TRIM_HORIZON | LATEST |
| `source.idle.seconds` | a shard without records this long stops holding the watermark | 60 |
| `source.connector.<option>` | passed to the Kinesis source as connector option `<option>` | none |
| `sink.connector.<option>` | passed to both Kinesis sinks as connector option `<option>` | none |

The pass-through options tune the connector without a new build: for example
`source.connector.source.shard.discovery.interval`, `sink.connector.sink.batch.max-size`, or
`aws.endpoint` on both for a VPC or FIPS endpoint (the AWS twin sets it to moto's server).
| `dedupe.ttl.seconds` | how long an `event_id` is remembered to drop its duplicates | 3600 |
| `views.timeout.seconds` | a view closes this long after its last record | 180 |
| `views.max.length.seconds` | views are cut at every multiple of this since the epoch | 14400 |
| `revision.horizon.seconds` | late records of a window closed less than this ago revise it | 600 |

A record is late when its window has closed (see `sql`); if the window ended less than
`revision.horizon.seconds` before the watermark, the record also becomes correction rows (deltas
of the window's additive metrics and distributions, see `sql.revision_views`), which the
publisher adds to the window in CloudWatch; later ones are only counted (`late_events`); 0
turns corrections off.

The view rules default to `qos_shared.views.DEFAULT_RULES`; the timeout delays every view KPI
by that much (a view counts in the window holding its close time) and sets how long a session's
partials stay in state.

`dedupe.ttl.seconds` becomes `table.exec.state.ttl` (Flink 2.2's per-operator STATE_TTL hint
covers joins and group aggregations only, not deduplication; the window aggregations free their
state when a window closes and ignore it). It must exceed the allowed lateness plus the time
within which Kinesis may deliver a record again (producer and consumer retries, a restart from
the last checkpoint): a duplicate that comes later than the TTL after the first record is counted
again. It counts processing time, so a job catching up on a backlog keeps its ids as long.

plus MSF's own group `kinesis.analytics.flink.run.options`: `python` = `main.py`, `jarfile` =
`lib/<the shaded connector jar>`.

Locally, `python -m qos_realtime.entrypoints.flink_job --events DIR_OR_FILE --out DIR` runs the
same SQL over newline-delimited stored records (a bounded source: every window closes at the end)
and writes the rows (MetricRow and DistributionRow JSON, see `sql`) as part files to DIR, and
with `--views-out DIR2` the VIEW records to DIR2;
`--properties FILE [--jar JAR] --wait` runs against Kinesis with a properties file of MSF's shape
until stopped (without `--wait` it returns once the job is submitted, as on MSF).
Locally the watermark advances after every record (`pipeline.auto-watermark-interval` 0: the
table runtime's watermark assigner then emits it eagerly, not on a timer), so which records are
late depends on the file's order alone, not on the machine's speed. `--print-sql` prints the job
as a SQL-client script: its settings, the DDL and views, and the INSERTs as one statement set.
Flink's own logs go to pyflink's `log/` folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as the zip's top-level main.py: the packages sit beside it
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from qos_realtime.adapters.flink import sql, tables
from qos_shared.views import DEFAULT_RULES, ViewRules

MSF_PROPERTIES = Path("/etc/flink/application_properties.json")
PROPERTY_GROUP = "qos.realtime"
SOURCE_OPTION_PREFIX = "source.connector."
SINK_OPTION_PREFIX = "sink.connector."
DEFAULT_DEDUPE_TTL_S = 3600
DEFAULT_REVISION_HORIZON_S = sql.DEFAULT_REVISION_HORIZON_S
# Settings of every run: every branch over the unique records (the window aggregations of one
# INSERT, the late rows of the other) shares one deduplication, one state, rather than planning
# a copy of its own (five without it; a test reads the compiled plan).
JOB_SETTINGS: dict[str, str] = {"table.optimizer.reuse-optimize-block-with-digest-enabled": "true"}
SOURCE_TABLE = "qos_events_source"
SINK_TABLE = "qos_metric_sink"
VIEWS_SINK_TABLE = "qos_view_sink"
DEFAULT_VIEW_TIMEOUT_S = DEFAULT_RULES.timeout_ms // 1000
DEFAULT_VIEW_MAX_LENGTH_S = DEFAULT_RULES.max_length_ms // 1000


@dataclass(frozen=True, slots=True)
class JobConfig:
    input_stream_arn: str
    output_stream_arn: str
    views_stream_arn: str
    region: str
    window_s: int = 60
    allowed_lateness_s: float = 5.0
    init_position: str = "LATEST"
    idle_timeout_s: int = 60
    source_options: Mapping[str, str] = field(default_factory=dict)
    sink_options: Mapping[str, str] = field(default_factory=dict)
    dedupe_ttl_s: int = DEFAULT_DEDUPE_TTL_S
    view_timeout_s: int = DEFAULT_VIEW_TIMEOUT_S
    view_max_length_s: int = DEFAULT_VIEW_MAX_LENGTH_S
    revision_horizon_s: int = DEFAULT_REVISION_HORIZON_S

    def __post_init__(self) -> None:
        check_dedupe_ttl(self.dedupe_ttl_s, self.allowed_lateness_s)
        self.view_rules()  # valid rules, or ValueError

    def view_rules(self) -> ViewRules:
        return view_rules(self.view_timeout_s, self.view_max_length_s)

    @classmethod
    def from_properties(cls, groups: Mapping[str, Mapping[str, str]]) -> JobConfig:
        props = groups.get(PROPERTY_GROUP)
        if props is None:
            raise KeyError(f"runtime properties have no group {PROPERTY_GROUP!r}")
        missing = [
            k
            for k in ("input.stream.arn", "output.stream.arn", "views.stream.arn", "aws.region")
            if not props.get(k)
        ]
        if missing:
            raise KeyError(f"property group {PROPERTY_GROUP!r} lacks {', '.join(missing)}")
        return cls(
            input_stream_arn=props["input.stream.arn"],
            output_stream_arn=props["output.stream.arn"],
            views_stream_arn=props["views.stream.arn"],
            region=props["aws.region"],
            window_s=int(props.get("window.seconds", "60")),
            allowed_lateness_s=float(props.get("allowed.lateness.seconds", "5")),
            init_position=props.get("source.init.position", "LATEST"),
            idle_timeout_s=int(props.get("source.idle.seconds", "60")),
            source_options=_options(props, SOURCE_OPTION_PREFIX),
            sink_options=_options(props, SINK_OPTION_PREFIX),
            dedupe_ttl_s=int(props.get("dedupe.ttl.seconds", str(DEFAULT_DEDUPE_TTL_S))),
            view_timeout_s=int(props.get("views.timeout.seconds", str(DEFAULT_VIEW_TIMEOUT_S))),
            view_max_length_s=int(
                props.get("views.max.length.seconds", str(DEFAULT_VIEW_MAX_LENGTH_S))
            ),
            revision_horizon_s=int(
                props.get("revision.horizon.seconds", str(DEFAULT_REVISION_HORIZON_S))
            ),
        )

    def table_config(self) -> dict[str, str]:
        """Flink settings of the Kinesis job: an idle shard must not stall every window; the
        deduplication forgets an `event_id` after the TTL."""
        return {
            "table.exec.source.idle-timeout": f"{self.idle_timeout_s} s",
            **dedupe_config(self.dedupe_ttl_s),
        }


def check_dedupe_ttl(dedupe_ttl_s: int, allowed_lateness_s: float) -> None:
    if dedupe_ttl_s <= allowed_lateness_s:
        raise ValueError("dedupe.ttl.seconds must exceed the allowed lateness")


def view_rules(timeout_s: int, max_length_s: int) -> ViewRules:
    """The view rules of the job's properties (whole seconds)."""
    return ViewRules(timeout_ms=int(timeout_s) * 1000, max_length_ms=int(max_length_s) * 1000)


def dedupe_config(dedupe_ttl_s: int) -> dict[str, str]:
    """The state TTL of the deduplication (the job's only state that no window frees)."""
    return {"table.exec.state.ttl": f"{int(dedupe_ttl_s)} s"}


def file_config(dedupe_ttl_s: int = DEFAULT_DEDUPE_TTL_S) -> dict[str, str]:
    """Flink settings of a local run over files: a watermark after every record."""
    return {"pipeline.auto-watermark-interval": "0 ms", **dedupe_config(dedupe_ttl_s)}


def _options(props: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {
        k.removeprefix(prefix): v for k, v in props.items() if k.startswith(prefix) and k != prefix
    }


def read_properties(path: Path) -> dict[str, dict[str, str]]:
    """MSF's runtime properties file: a list of {PropertyGroupId, PropertyMap}."""
    groups: list[dict[str, Any]] = json.loads(path.read_text())
    return {
        g["PropertyGroupId"]: {str(k): str(v) for k, v in g.get("PropertyMap", {}).items()}
        for g in groups
    }


def job_statements(
    source_ddl: str,
    sink_ddl: str,
    views_sink_ddl: str | None = None,
    *,
    window_s: int,
    view_rules: ViewRules = DEFAULT_RULES,
    revision_horizon_s: int = DEFAULT_REVISION_HORIZON_S,
) -> list[str]:
    """Every statement of a job: the DDL, the views, then the INSERTs (one statement set); the
    VIEW records go to the views sink if there is one."""
    views_sink = None if views_sink_ddl is None else VIEWS_SINK_TABLE
    return [
        source_ddl,
        sink_ddl,
        *([] if views_sink_ddl is None else [views_sink_ddl]),
        *sql.statements(
            SOURCE_TABLE,
            window_s=window_s,
            view_rules=view_rules,
            revision_horizon_s=revision_horizon_s,
        ),
        *sql.inserts(SINK_TABLE, views_sink),
    ]


def is_insert(statement: str) -> bool:
    return statement.startswith("INSERT ")


def render_script(statements: Sequence[str], config: Mapping[str, str]) -> str:
    """The job as a SQL-client script: SET the settings, create the tables and views, then
    run the INSERTs as one job (`EXECUTE STATEMENT SET`), as `submit` does."""

    def quoted(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    settings = [f"SET {quoted(k)} = {quoted(v)};\n" for k, v in {**JOB_SETTINGS, **config}.items()]
    ddl = [f"{s};\n\n" for s in statements if not is_insert(s)]
    inserts = "".join(f"{s};\n" for s in statements if is_insert(s))
    return "".join([*settings, "\n", *ddl, f"EXECUTE STATEMENT SET\nBEGIN\n{inserts}END;\n"])


def kinesis_statements(config: JobConfig) -> list[str]:
    return job_statements(
        tables.kinesis_source_ddl(
            SOURCE_TABLE,
            stream_arn=config.input_stream_arn,
            region=config.region,
            allowed_lateness_s=config.allowed_lateness_s,
            init_position=config.init_position,
            extra=config.source_options,
        ),
        tables.kinesis_sink_ddl(
            SINK_TABLE,
            stream_arn=config.output_stream_arn,
            region=config.region,
            extra=config.sink_options,
        ),
        tables.kinesis_views_sink_ddl(
            VIEWS_SINK_TABLE,
            stream_arn=config.views_stream_arn,
            region=config.region,
            extra=config.sink_options,
        ),
        window_s=config.window_s,
        view_rules=config.view_rules(),
        revision_horizon_s=config.revision_horizon_s,
    )


def file_statements(
    events: str,
    out: str,
    views_out: str | None = None,
    *,
    window_s: int = 60,
    allowed_lateness_s: float = 5.0,
    view_rules: ViewRules = DEFAULT_RULES,
    revision_horizon_s: int = DEFAULT_REVISION_HORIZON_S,
) -> list[str]:
    return job_statements(
        tables.filesystem_source_ddl(
            SOURCE_TABLE, path=events, allowed_lateness_s=allowed_lateness_s
        ),
        tables.filesystem_sink_ddl(SINK_TABLE, path=out),
        None
        if views_out is None
        else tables.filesystem_views_sink_ddl(VIEWS_SINK_TABLE, path=views_out),
        window_s=window_s,
        view_rules=view_rules,
        revision_horizon_s=revision_horizon_s,
    )


def table_environment(
    *,
    parallelism: int | None = None,
    jars: Sequence[Path] = (),
    config: Mapping[str, str] | None = None,
) -> Any:
    """A streaming TableEnvironment in UTC (pyflink has no type information: Any)."""
    from pyflink.table import (  # type: ignore[import-not-found, import-untyped, unused-ignore]
        EnvironmentSettings,
        TableEnvironment,
    )

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    settings = env.get_config()
    settings.set("table.local-time-zone", "UTC")
    settings.set("pipeline.name", "qos-realtime-windows")
    for key, value in JOB_SETTINGS.items():
        settings.set(key, value)
    if parallelism is not None:
        settings.set("parallelism.default", str(parallelism))
    if jars:
        settings.set("pipeline.jars", ";".join(p.resolve().as_uri() for p in jars))
    for key, value in (config or {}).items():
        settings.set(key, value)
    return env


def submit(env: Any, statements: Sequence[str]) -> Any:
    """Create the tables and views, then start the INSERTs as one job (a statement set);
    returns its TableResult."""
    inserts = [s for s in statements if is_insert(s)]
    if not inserts:
        raise ValueError("a job needs an INSERT")
    for statement in statements:
        if not is_insert(statement):
            env.execute_sql(statement)
    statement_set = env.create_statement_set()
    for insert in inserts:
        statement_set.add_insert_sql(insert)
    return statement_set.execute()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", help="run locally over this file or folder of records")
    parser.add_argument("--out", help="with --events: the folder for the rows' JSON files")
    parser.add_argument("--views-out", help="with --events: the folder for the views' JSON files")
    parser.add_argument("--view-timeout-s", type=int, default=DEFAULT_VIEW_TIMEOUT_S)
    parser.add_argument("--view-max-length-s", type=int, default=DEFAULT_VIEW_MAX_LENGTH_S)
    parser.add_argument("--window-s", type=int, default=60)
    parser.add_argument("--lateness-s", type=float, default=5.0)
    parser.add_argument(
        "--revision-horizon-s", type=int, default=DEFAULT_REVISION_HORIZON_S, help="with --events"
    )
    parser.add_argument(
        "--dedupe-ttl-s", type=int, default=DEFAULT_DEDUPE_TTL_S, help="with --events"
    )
    parser.add_argument("--properties", type=Path, default=MSF_PROPERTIES)
    parser.add_argument("--parallelism", type=int, help="default: the cluster's")
    parser.add_argument("--jar", type=Path, action="append", default=[], help="extra jars")
    parser.add_argument("--print-sql", action="store_true", help="print the statements, run none")
    parser.add_argument(
        "--wait", action="store_true", help="with Kinesis: run until stopped (a local cluster)"
    )
    args = parser.parse_args(argv)

    if args.events:
        if not args.out:
            parser.error("--events needs --out")
        check_dedupe_ttl(args.dedupe_ttl_s, args.lateness_s)
        statements = file_statements(
            str(Path(args.events).resolve()),
            str(Path(args.out).resolve()),
            str(Path(args.views_out).resolve()) if args.views_out else None,
            window_s=args.window_s,
            allowed_lateness_s=args.lateness_s,
            view_rules=view_rules(args.view_timeout_s, args.view_max_length_s),
            revision_horizon_s=args.revision_horizon_s,
        )
        flink_config = file_config(args.dedupe_ttl_s)
    else:
        config = JobConfig.from_properties(read_properties(args.properties))
        statements = kinesis_statements(config)
        flink_config = config.table_config()
    if args.print_sql:
        print(render_script(statements, flink_config), end="")
        return
    env = table_environment(parallelism=args.parallelism, jars=args.jar, config=flink_config)
    result = submit(env, statements)
    # Bounded input: wait for the end. On MSF the job runs on after main returns; a local run
    # against Kinesis (--wait) keeps this process, and so its mini-cluster, until it is stopped.
    if args.events or args.wait:
        result.wait()


if __name__ == "__main__":
    main()
