"""The realtime path as deployed on AWS, end to end on this machine (see `twin` for what stands
in for what): viewers' events through the ingest Lambda into Kinesis, the Flink application's
windows, the rows stream, the publisher Lambda, and CloudWatch, checked against the shared
oracle's truth.

The run is a backfill of five minutes of simulated viewers that ended about six minutes ago, sent
through API Gateway as the SDK sends them (`/v1/events` batches), plus the original player's
`/streams` envelope; every event goes in twice (a client retry after a lost reply, and Kinesis'
at-least-once delivery, give exactly that). A few clock events after the run move the watermark
past its last window: that of the last view's close, three minutes (the views' timeout) after its
last record, which is why the run ends that long before now (the clock events must not be ahead
of the wall clock, or the live traffic below would be late). Then every window's every KPI, view
KPIs included, for everyone and per platform and per channel, is read back from moto's
CloudWatch: counts and sums with GetMetricData's `Sum`, means and ratios (sent as statistic sets)
with its `Average`, one datum per window (so a duplicate row would show), percentiles from the
`Values`/`Counts` the publisher sent;
and the views stream holds the oracle's record of every view of the run, field by field.

Then live traffic: events stamped with the wall clock for two windows, to measure the seconds
from a window's end to its datapoint in CloudWatch, and records of a window already closed,
which must come out as `LateEvents`, and, being within the revision horizon, as corrections that
CloudWatch adds to the window.
"""

from __future__ import annotations

import hmac
import math
import os
import time
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from twin import (
    CREDENTIALS,
    REGION,
    ApiGateway,
    EventSourceMapping,
    FlinkApplication,
    MotoServer,
    PutMetricDataRecorder,
    chunked,
    create_stream,
    read_stream,
    wait_until,
)

from qos_infra.simulator import SimulationConfig, simulate
from qos_infra.simulator.delivery import HttpSender, Reply
from qos_infra.simulator.truth import stored_records
from qos_ingest.api import lambda_handler
from qos_realtime.api import (
    FLINK_JAR_NAME,
    build_flink_jar,
    check_flink_connector,
    flink_property_groups,
    flink_runtime,
    publisher_lambda_handler,
    write_flink_zip,
)
from qos_shared.catalogue import BY_NAME, CATALOGUE, LATE_EVENTS
from qos_shared.examples import original_sample_envelope
from qos_shared.testing.oracle import percentile
from qos_shared.testing.views_oracle import views
from qos_shared.views import DEFAULT_RULES, VIEW_FIELDS

WINDOW_S = 60
WINDOW_MS = WINDOW_S * 1000
LATENESS_S = 5.0
NAMESPACE = "QoS-Twin"
VIEWERS = 60
MINUTES = 5.0
SEED = 20261207
REL = 1e-9
DIMENSIONS = {"all": None, "client_platform": "ClientPlatform", "channel_watched": "Channel"}
EVENTS, ROWS, VIEWS = "qos-events", "qos-metric-rows", "qos-views"
PSEUDONYM_KEY = "twin-pseudonymisation-key-0123456789"
ORIGIN_HEADER_VALUE = "twin-origin-verify-value"
# The run starts this many windows before now: it ends, and its last view closes (the views'
# timeout after its last record) and the clock events come, before the wall clock.
RUN_STARTS_WINDOWS_AGO = 12
Key = tuple[str, tuple[tuple[str, str], ...], int]  # CloudWatch name, dimensions, window start


def published_name(metric: str) -> tuple[str, bool]:
    """(CloudWatch name, published as a distribution) of a catalogue metric, as the README's
    metric table documents them (written here from that table, not from the publisher)."""
    m = BY_NAME[metric]
    camel = "".join(p[:1].upper() + p[1:] for p in metric.split("_"))
    if m.kind == "percentile":
        return camel.rsplit("P", 1)[0], True  # StartupTimeP95 -> StartupTime
    distributions = {published_name(x.name)[0] for x in CATALOGUE if x.kind == "percentile"}
    return (camel + "Mean" if camel in distributions else camel), False


def averaged(name: str) -> bool:
    """True for a CloudWatch name sent as statistic sets and read with `Average`: the means and
    ratios (the README: counts and sums are values read with `Sum`)."""
    return name in {published_name(m.name)[0] for m in CATALOGUE if m.kind in ("mean", "ratio")}


class TwiceSender:
    """Sends every request body twice, as a client that retries after a lost reply does."""

    def __init__(self, sender: HttpSender) -> None:
        self.sender = sender

    def send(self, body: bytes, headers: Any) -> Reply:
        first = self.sender.send(body, headers)
        second = self.sender.send(body, headers)
        assert second.status == first.status, (first, second)
        return second


@dataclass
class Twin:
    moto: MotoServer
    api: ApiGateway
    esm: EventSourceMapping
    flink: FlinkApplication
    recorder: PutMetricDataRecorder
    cloudwatch: Any
    kinesis: Any
    truth: dict[str, Any]
    records: list[dict[str, Any]]  # the run's stored records, as the truth has them
    rows: list[dict[str, Any]]
    row_arrivals: dict[int, float]  # window_start -> when its first row reached the publisher
    application_zip: Path

    def post(self, path: str, body: dict[str, Any] | list[Any]) -> dict[str, Any]:
        sender = HttpSender(self.api.url + path)
        try:
            reply = sender.send(orjson.dumps(body), {})
        finally:
            sender.close()
        assert reply.status == 200, reply
        answer: dict[str, Any] = orjson.loads(reply.body)
        return answer


def clock_events(event_time_ms: int, count: int = 8) -> list[dict[str, Any]]:
    """ATTEMPTs of distinct sessions at one event time (16 reach both shards but for a chance of
    one in 2**15)."""
    return [
        {
            "metric_type": "ATTEMPT",
            "session_id": f"twin-clock-{event_time_ms}-{i}",
            "user_id": "twin",
            "client_platform": "web",
            "channel_watched": "twin-clock",
            "is_live": True,
            "event_time": event_time_ms,
        }
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    work = tmp_path_factory.mktemp("twin")
    moto = MotoServer(work / "moto.log")
    env = {
        **CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto.endpoint,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "QoS/Twin",
        "QOS_INGEST_SINK": "kinesis",
        "QOS_INGEST_STREAM_NAME": EVENTS,
        # Secrets Manager secrets, as the stack makes them (set below, once created in moto).
        "QOS_INGEST_PSEUDONYM_KEY_SECRET_ARN": "",
        "QOS_INGEST_ORIGIN_SECRET_ARN": "",
        "QOS_REALTIME_PUBLISHER_NAMESPACE": NAMESPACE,
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    recorder = PutMetricDataRecorder()
    recorder.install()
    stoppers: list[Any] = [moto.stop]
    try:
        kinesis, cloudwatch = moto.client("kinesis"), moto.client("cloudwatch")
        secrets = moto.client("secretsmanager")
        for variable, name, text in (
            ("QOS_INGEST_PSEUDONYM_KEY_SECRET_ARN", "qos/twin/ingest/pseudonym-key", PSEUDONYM_KEY),
            ("QOS_INGEST_ORIGIN_SECRET_ARN", "qos/twin/ingest/origin-verify", ORIGIN_HEADER_VALUE),
        ):
            os.environ[variable] = secrets.create_secret(Name=name, SecretString=text)["ARN"]
        events_arn = create_stream(kinesis, EVENTS, shards=2)
        rows_arn = create_stream(kinesis, ROWS, shards=1)
        views_arn = create_stream(kinesis, VIEWS, shards=1)

        now_ms = int(time.time() * 1000)
        config = SimulationConfig(
            start_ms=(now_ms // WINDOW_MS - RUN_STARTS_WINDOWS_AGO) * WINDOW_MS,
            viewers=VIEWERS,
            minutes=MINUTES,
            seed=SEED,
            window_s=WINDOW_S,
        )
        # The channels the publisher may name (CloudWatch dimensions are an allow-list).
        plan = simulate(config)
        channels = sorted(plan.truth["kpis"]["channel_watched"])
        os.environ["QOS_REALTIME_PUBLISHER_CHANNELS"] = ",".join(channels)

        # The application zip, as `cdk deploy` uploads it, with the real connector jar.
        zip_path = work / "qos-realtime-flink.zip"
        write_flink_zip(zip_path, build_flink_jar())
        groups = flink_property_groups(
            input_stream_arn=events_arn,
            output_stream_arn=rows_arn,
            views_stream_arn=views_arn,
            region=REGION,
            window_s=WINDOW_S,
            allowed_lateness_s=LATENESS_S,
            init_position="TRIM_HORIZON",
            # The deployed idle timeout (60 s). A short one would mark both shards idle while
            # the job waits for the run, and the first shard read would then carry the
            # watermark past the other's records: late, in a backfill.
            source_options={"aws.endpoint": moto.endpoint},
            sink_options={
                "aws.endpoint": moto.endpoint,
                "sink.http-client.protocol.version": "HTTP1_1",
            },
        )
        flink = FlinkApplication(zip_path, work, groups, env={**env, "CBOR_ENABLED": "false"})
        stoppers.append(flink.stop)

        # CloudFront in front: its origin header makes ingest believe the viewer headers.
        api = ApiGateway(
            lambda_handler(), "qos-ingest", {"x-qos-origin-verify": ORIGIN_HEADER_VALUE}
        )
        stoppers.append(api.close)
        rows: list[dict[str, Any]] = []
        arrivals: dict[int, float] = {}

        published: set[tuple[int, str, str, str]] = set()

        def seen(batch: list[dict[str, Any]]) -> None:
            for record in batch:
                row = orjson.loads(record["Data"])
                rows.append(row)
                arrivals.setdefault(row["window_start"], time.time())
                key = (row["window_start"], row["metric"], row["dimension"], row["dimension_value"])
                published.add(key)

        esm = EventSourceMapping(
            kinesis,
            ROWS,
            rows_arn,
            publisher_lambda_handler(),
            function_name="qos-realtime-publisher",
            on_batch=seen,
        )
        esm.start()
        stoppers.append(esm.stop)

        # The backfill, every request twice.
        result = simulate(config, sender=TwiceSender(HttpSender(api.url + "/v1/events")))
        assert result.complete, result.delivery
        truth = result.truth
        # As stored: user ids pseudonymised (HMAC-SHA256 with the secret's key, 128 bits as hex).
        records = [
            {
                **r,
                "user_id": hmac.new(
                    PSEUDONYM_KEY.encode(), r["user_id"].encode(), "sha256"
                ).hexdigest()[:32],
            }
            if "user_id" in r
            else r
            for r in stored_records(result.simulation)
        ]
        # The watermark passes the run's last window (that of its last view's close) once these
        # are read; they are behind the wall clock, so the live traffic below is on time.
        clock_at = truth["windows"][-1]["window_end"] + WINDOW_MS + int(LATENESS_S * 1000)
        last_record = max(r["event_time"] for r in records)
        assert truth["windows"][-1]["window_end"] > last_record + DEFAULT_RULES.timeout_ms - 1
        assert clock_at < time.time() * 1000, "start the run earlier: the clock is ahead"
        twin = Twin(
            moto,
            api,
            esm,
            flink,
            recorder,
            cloudwatch,
            kinesis,
            truth,
            records,
            rows,
            arrivals,
            zip_path,
        )
        twin.post("/v1/events", {"events": clock_events(clock_at, count=16)})

        # Every row the truth says must exist (a group of a window with a value), published. A
        # window's rows can reach the stream in several flushes, and under load a flush can be
        # retried seconds later: waiting for these, not for a quiet stream, is what makes the
        # checks below see every row.
        wanted = {
            (window["window_start"], metric, dimension, value)
            for window in truth["windows"]
            for dimension in DIMENSIONS
            for value, kpis in window["groups"][dimension].items()
            for metric, got in kpis.items()
            # (a share with no rendition has no row, nor has a percentile: it is a distribution)
            if got not in (None, {}) and metric in BY_NAME and BY_NAME[metric].kind != "percentile"
        }
        assert len(wanted) > 1000
        assert {metric for _, metric, _, _ in wanted} >= {
            m.name for m in CATALOGUE if m.over_views
        }, "the truth's windows have every view KPI"

        def closed() -> bool:
            assert flink.running(), flink.log_tail()
            assert not esm.failures, esm.failures
            return wanted <= published and esm.quiet_for(2.0)

        wait_until(
            closed,
            300,
            lambda: (
                f"the run's rows: {len(wanted - published)} of {len(wanted)} missing, "
                f"for example {sorted(wanted - published)[:5]}"
            ),
        )
        yield twin
    finally:
        # For a failure's diagnosis: what the job wrote, beside the moto and job logs.
        (work / "rows.jsonl").write_bytes(b"\n".join(orjson.dumps(r) for r in rows))
        for stop in reversed(stoppers):
            stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def close(got: float | None, expected: float | None) -> bool:
    if got is None or expected is None:
        return got is None and expected is None
    return math.isclose(got, expected, rel_tol=REL, abs_tol=REL)


def expected_values(
    truth: dict[str, Any],
) -> dict[Key, Any]:
    """(CloudWatch name, dimensions, window start) -> the truth's value (None: no datum)."""
    out: dict[Key, Any] = {}
    for window in truth["windows"]:
        start = window["window_start"]
        for dimension, cw_dimension in DIMENSIONS.items():
            for value, kpis in window["groups"][dimension].items():
                dims: tuple[tuple[str, str], ...] = (
                    () if cw_dimension is None else ((cw_dimension, value),)
                )
                for metric in CATALOGUE:
                    name, distribution = published_name(metric.name)
                    if distribution:
                        continue
                    if metric.kind == "share":
                        for split, share in (kpis.get(metric.name) or {}).items():
                            out[(name, (*dims, ("Rendition", split)), start)] = share
                    else:
                        out[(name, dims, start)] = kpis.get(metric.name)
    return out


def metric_data(twin: Twin, keys: list[Key], stat: str) -> dict[Key, float]:
    """GetMetricData for one window per query (moto's server, as a dashboard would ask)."""
    got: dict[Key, float] = {}
    for chunk in chunked(keys, 500):
        queries = [
            {
                "Id": f"q{i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                    },
                    "Period": WINDOW_S,
                    "Stat": stat,
                },
            }
            for i, (name, dims, _) in enumerate(chunk)
        ]
        first = min(start for _, _, start in chunk)
        last = max(start for _, _, start in chunk)
        reply = twin.cloudwatch.get_metric_data(
            MetricDataQueries=queries,
            StartTime=datetime.fromtimestamp(first / 1000, UTC),
            EndTime=datetime.fromtimestamp(last / 1000, UTC) + timedelta(seconds=WINDOW_S),
        )
        for result in reply["MetricDataResults"]:
            key = chunk[int(result["Id"][1:])]
            for ts, value in zip(result["Timestamps"], result["Values"], strict=True):
                if int(ts.timestamp() * 1000) == key[2]:
                    got[key] = value
    return got


def test_the_zip_s_connector_is_the_official_one_for_the_application_s_runtime(
    twin: Twin, tmp_path: Path
) -> None:
    """The jar the job ran with, as packed in the zip the stack deploys: the Kinesis connector's
    release for the Flink of the MSF runtime the stack sets (the pom's, FLINK-2_2)."""
    jar = tmp_path / FLINK_JAR_NAME
    with zipfile.ZipFile(twin.application_zip) as application:
        jar.write_bytes(application.read(f"lib/{FLINK_JAR_NAME}"))
    assert check_flink_connector(jar, flink_runtime()) == "6.0.0-2.0"
    with zipfile.ZipFile(jar) as connectors:
        names = set(connectors.namelist())
    # The connector's own classes (its SQL factory), not a stand-in.
    assert "org/apache/flink/connector/kinesis/table/KinesisDynamicTableFactory.class" in names


def test_ingest_put_every_event_twice_into_the_events_stream(twin: Twin) -> None:
    records = read_stream(twin.kinesis, EVENTS)
    ids = [orjson.loads(r["Data"])["event_id"] for r in records]
    run = [i for i in ids if i in set(ids)]
    assert len(run) >= 2 * twin.truth["event_count"]
    counts: dict[str, int] = defaultdict(int)
    for event_id in ids:
        counts[event_id] += 1
    assert sum(1 for c in counts.values() if c >= 2) >= twin.truth["event_count"]


def recorded_values(twin: Twin) -> dict[Key, list[tuple[float, float]]]:
    """Each single-value or statistic-set datum the publisher sent, as (sum, sample count), by
    (name, dimensions, timestamp)."""
    sent: dict[Key, list[tuple[float, float]]] = defaultdict(list)
    for datum in twin.recorder.datums:
        if datum["Namespace"] != NAMESPACE or "Values" in datum:
            continue
        dims = tuple((d["Name"], d["Value"]) for d in datum.get("Dimensions", []))
        key = (datum["MetricName"], dims, int(datum["Timestamp"].timestamp() * 1000))
        if "StatisticValues" in datum:
            stats = datum["StatisticValues"]
            sent[key].append((stats["Sum"], stats["SampleCount"]))
        else:
            sent[key].append((datum["Value"], 1.0))
    return sent


def test_every_window_s_counts_sums_and_means_are_the_truth_in_cloudwatch(twin: Twin) -> None:
    """Per platform and per channel, as moto's GetMetricData answers. The all-viewers values
    (no dimension) from what was sent: moto matches a query without dimensions to every datum
    of the name, whatever its dimensions (CloudWatch matches the exact set), so its answer there
    is the sum over every group."""
    expected = expected_values(twin.truth)
    keyed = sorted(k for k in expected if k[1])
    sums = metric_data(twin, [k for k in keyed if not averaged(k[0])], "Sum")
    averages = metric_data(twin, [k for k in keyed if averaged(k[0])], "Average")
    samples = metric_data(twin, keyed, "SampleCount")
    sent = recorded_values(twin)
    compared = sets = 0
    for key, value in expected.items():
        got: float | None
        datums = sent.get(key, [])
        if key[1]:
            got = (averages if averaged(key[0]) else sums).get(key)
        elif datums:
            total, count = datums[0]
            got = total / count if averaged(key[0]) else total
        else:
            got = None
        if value is None:
            assert got is None, (key, got)
            continue
        assert got is not None, f"no datum for {key}, expected {value}"
        assert len(datums) == 1, (key, datums, "one datum per window")
        if averaged(key[0]):
            # A statistic set: its sample count is the metric's denominator, which moto holds.
            sets += 1
            assert datums[0][1] > 0 and (not key[1] or samples.get(key) == datums[0][1])
        else:
            assert not key[1] or samples.get(key) == 1.0, (key, samples.get(key))
        assert close(got, value), (key, got, value)
        compared += 1
    assert compared > 1000 and sets > 100


def test_every_window_s_percentiles_are_the_truth_from_the_published_values(twin: Twin) -> None:
    published: dict[Key, list[float]] = defaultdict(list)
    for datum in twin.recorder.datums:
        if "Values" not in datum or datum["Namespace"] != NAMESPACE:
            continue
        dims = tuple((d["Name"], d["Value"]) for d in datum.get("Dimensions", []))
        key = (datum["MetricName"], dims, int(datum["Timestamp"].timestamp() * 1000))
        for value, count in zip(datum["Values"], datum["Counts"], strict=True):
            published[key] += [value] * int(count)
    compared = 0
    for window in twin.truth["windows"]:
        for dimension, cw_dimension in DIMENSIONS.items():
            for value, kpis in window["groups"][dimension].items():
                dims = () if cw_dimension is None else ((cw_dimension, value),)
                for metric in CATALOGUE:
                    if metric.kind != "percentile":
                        continue
                    name, _ = published_name(metric.name)
                    expected = kpis.get(metric.name)
                    values = published.get((name, dims, window["window_start"]), [])
                    assert metric.quantile is not None
                    assert close(percentile(values, metric.quantile), expected), (
                        metric.name,
                        dims,
                        window["window_start"],
                    )
                    compared += 1
    assert compared > 100
    # And moto holds them: its SampleCount of each distribution is the number of values sent
    # (per platform and channel: see the test above for the all-viewers datums).
    keys = sorted(k for k in published if k[1])
    samples = metric_data(twin, keys, "SampleCount")
    assert all(samples[k] == len(published[k]) for k in keys)


def same(got: Any, want: Any) -> bool:
    if isinstance(want, float) or isinstance(got, float):
        return got is not None and want is not None and math.isclose(got, want, rel_tol=REL)
    return bool(got == want)


def test_the_views_stream_holds_the_oracle_s_record_of_every_view_of_the_run(twin: Twin) -> None:
    """Field by field (`VIEW_FIELDS`, as JSON), each view once: the views the run's records make
    (the clock events' views are not the run's: they close minutes after the clock events)."""
    expected = {v["view_id"]: v for v in views(twin.records)}
    sessions = {v["session_id"] for v in expected.values()}
    got: dict[str, dict[str, Any]] = {}

    def all_written() -> bool:
        got.clear()
        for record in read_stream(twin.kinesis, VIEWS):
            view = orjson.loads(record["Data"])
            if view["session_id"] in sessions:
                assert view["view_id"] not in got, f"{view['view_id']} written twice"
                got[view["view_id"]] = view
        return len(got) >= len(expected)

    wait_until(all_written, 60, lambda: f"{len(got)} of {len(expected)} views in the stream")
    assert set(got) == set(expected)
    assert all(list(view) == list(VIEW_FIELDS) for view in got.values())
    wrong = [
        (view_id, field, got[view_id][field], value)
        for view_id, view in expected.items()
        for field, value in view.items()
        if not same(got[view_id][field], value)
    ]
    assert not wrong, f"{len(wrong)} fields differ, e.g. {wrong[:5]}"
    assert len(expected) >= len({r["session_id"] for r in twin.records}) > 30


def test_the_original_players_streams_body_reaches_kinesis(twin: Twin) -> None:
    envelope = original_sample_envelope()
    answer = twin.post("/streams", envelope)
    assert answer["accepted"] >= 1, answer
    ids = {orjson.loads(r["Data"]).get("source_format") for r in read_stream(twin.kinesis, EVENTS)}
    assert "legacy" in ids


def test_a_window_reaches_cloudwatch_within_seconds_of_its_end_and_late_records_are_counted(
    twin: Twin,
) -> None:
    """Live traffic for a window and a half: the seconds from the first live window's end to its
    datapoint; then records of that closed window, which must become LateEvents."""
    start = (int(time.time() * 1000) // WINDOW_MS + 1) * WINDOW_MS  # the next window
    wait_until(lambda: time.time() * 1000 >= start, WINDOW_S + 5, "the next window")
    sent = 0
    while time.time() * 1000 < start + WINDOW_MS + (LATENESS_S + 8) * 1000:
        twin.post("/v1/events", {"events": clock_events(int(time.time() * 1000), count=4)})
        sent += 4
        assert not twin.esm.failures, twin.esm.failures
        if start in twin.row_arrivals:
            break
        time.sleep(0.5)
    wait_until(lambda: start in twin.row_arrivals, 60, "the live window's rows")
    latency_s = twin.row_arrivals[start] - (start + WINDOW_MS) / 1000
    print(f"twin: window end -> rows at the publisher: {latency_s:.1f} s")
    report = os.environ.get("QOS_TWIN_REPORT")  # bench/realtime reads the figure from here
    if report:
        Path(report).write_text(f"window_end_to_cloudwatch_s={latency_s:.2f}\n")
    assert sent > 0
    assert latency_s < WINDOW_S, "a window must not wait for the next one to close"

    # Three records of the closed live window, each sent twice: three LateEvents.
    late = clock_events(start + 1000, count=3)
    for _ in range(2):
        twin.post("/v1/events", {"events": late})
    marker = int(time.time() * 1000)
    twin.post("/v1/events", {"events": clock_events(marker + WINDOW_MS, count=4)})

    def counted() -> float:
        # One row of value 1 per late record; the rows may come in more than one flush.
        rows = [r for r in twin.rows if r["metric"] == LATE_EVENTS and r["dimension"] == "all"]
        return float(sum(r["value"] for r in rows))

    wait_until(lambda: counted() >= 3, 90, lambda: f"the late records' rows ({counted()} of 3)")
    wait_until(lambda: twin.esm.quiet_for(2.0), 30, "a quiet rows stream")
    assert counted() == 3

    # Within the revision horizon, they also revise the window: correction rows of their
    # ATTEMPTs, which CloudWatch adds to the window's final datum.
    def attempts(correction: bool) -> list[dict[str, Any]]:
        return [
            r
            for r in twin.rows
            if r["metric"] == "attempts"
            and r["window_start"] == start
            and (r["dimension"], r["dimension_value"]) == ("client_platform", "web")
            and bool(r.get("correction")) == correction
        ]

    (final,) = attempts(correction=False)
    assert sum(r["numerator"] for r in attempts(correction=True)) == 3
    key = ("Attempts", (("ClientPlatform", "web"),), start)
    assert metric_data(twin, [key], "Sum")[key] == final["value"] + 3
