"""The monthly AWS bill of the platform, and of the original sample, for an audience.

Inputs, each from one place:

- the audience: concurrent viewers, hours a day they watch, how often the lake is queried;
- the measured rates (`rates.json`, written by `python -m qos_infra.cost.measure`): events,
  requests and bytes per viewer-minute from the simulator batched as the SDK batches, ingest's
  CPU per request, Kinesis record bytes, Parquet bytes per event and the bytes each named query
  reads per event;
- the stacks' settings, read from the CDK context by `qos_shared_cdk.scaling` (the same objects
  the apps build the stacks from);
- the dated price table (`prices.py`);
- the assumptions below, named and used once each (round trips that need AWS to measure).

Where the configured settings cannot carry the audience (an API throttle below the request
rate, a Lambda reservation below the concurrency, a Flink job without autoscaling and too few
KPUs, an OpenSearch domain too small for its retention), the estimate prices what the audience
needs and lists the context change to make, so no figure silently assumes a stack that would
fall over.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from qos_infra.cost.prices import (
    MAX_DATA_NODES,
    OPENSEARCH_LADDER,
    OPENSEARCH_MAX_VOLUME_GIB,
    US_EAST_1,
    Prices,
    tiered,
)
from qos_shared_cdk.scaling import (
    IngestScaling,
    LakeScaling,
    RealtimeScaling,
    SearchScaling,
    ingest_scaling,
    lake_scaling,
    lookup_from,
    realtime_scaling,
    search_scaling,
    shards_for,
)

RATES_PATH = Path(__file__).with_name("rates.json")
HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
GB = 1024**3

# --- assumptions (not measurable without AWS; each is used once, below) ---------------------
# Headers of a player's POST as CloudFront forwards it, and the ingest answer's size.
REQUEST_HEADER_BYTES = 600
RESPONSE_BYTES = 350
# One PutRecords round trip from Lambda to Kinesis in the same region.
KINESIS_PUT_MS = 20.0
# Managed Flink events per second per KPU: the job measured ~21,800-33,900 records/s per slot on
# the local mini-cluster (docs/benchmarks.md); a cloud KPU is priced at the lower figure, halved
# for checkpoints and bursts.
FLINK_EVENTS_PER_KPU = 10_000
# Running application storage per KPU (Managed Flink's fixed allotment).
FLINK_STORAGE_GB_PER_KPU = 50
# Streams Flink, Firehose and the indexer read the ingest stream: three standard consumers.
INGEST_STREAM_CONSUMERS = 3
# The indexer's _bulk round trip per batch (its own CPU per record is measured), and the
# publisher's run per window.
INDEXER_BULK_MS = 150.0
PUBLISHER_MS_PER_WINDOW = 300.0
# OpenSearch sizing guidance: source bytes x (1 + replicas) x 1.45 (index overhead, free space).
OPENSEARCH_STORAGE_FACTOR = 1.45
# Log bytes per API Gateway access-log line and per Lambda invocation (START/END/REPORT).
ACCESS_LOG_BYTES = 700
LAMBDA_LOG_BYTES = 300
# The stacks' fixed pieces: WAF rules (waf.py), secrets (ingest), dashboards (realtime).
WAF_RULES = 3
SECRETS = 2
DASHBOARDS = 1
# The publisher's PutMetricData takes up to 1,000 datums a call.
DATUMS_PER_CALL = 1000
# Kinesis on-demand rounds each record up to 1 KiB; Firehose to 5 KiB; a PUT payload unit is
# 25 KiB.
KINESIS_RECORD_UNIT = 1024
FIREHOSE_RECORD_UNIT = 5 * 1024
PUT_PAYLOAD_UNIT = 25 * 1024
# X-Ray's default sampling rule (the ingest function traces): the first request each second,
# then 5 % of the rest.
XRAY_RESERVOIR_PER_SECOND = 1
XRAY_FIXED_RATE = 0.05
# Firehose's file size and a shard's records per second, for the indexer's batch count.
SHARD_RECORDS_PER_SECOND = 1000


class CostError(ValueError):
    """Bad input to the cost model; the message says which."""


@dataclass(frozen=True, slots=True)
class Rates:
    """What `measure.py` measured (see its docstring)."""

    measured_on: str
    command: str
    events_per_viewer_minute: float
    requests_per_viewer_minute: float
    body_bytes_per_request: float
    views_per_viewer_minute: float
    ingest_cpu_ms_per_request: float
    kinesis_record_bytes: float
    json_bytes_per_event: float
    parquet_bytes_per_event: float
    query_bytes_per_event: Mapping[str, float]
    client_platforms: int
    renditions: int
    indexer_cpu_ms_per_record: float

    @classmethod
    def load(cls, path: Path = RATES_PATH) -> Rates:
        data: dict[str, Any] = json.loads(path.read_text())
        traffic, ingest, lake = data["traffic"], data["ingest"], data["lake"]
        return cls(
            measured_on=data["measured_on"],
            command=data["command"],
            events_per_viewer_minute=traffic["events_per_viewer_minute"],
            requests_per_viewer_minute=traffic["requests_per_viewer_minute"],
            body_bytes_per_request=traffic["body_bytes_per_request"],
            views_per_viewer_minute=traffic["views_per_viewer_minute"],
            ingest_cpu_ms_per_request=ingest["cpu_ms_per_request_mean"],
            kinesis_record_bytes=ingest["kinesis_record_bytes"],
            json_bytes_per_event=lake["json_bytes_per_event"],
            parquet_bytes_per_event=lake["parquet_bytes_per_event"],
            query_bytes_per_event=dict(lake["query_bytes_per_event"]),
            client_platforms=traffic["client_platforms"],
            renditions=traffic["renditions"],
            indexer_cpu_ms_per_record=data["indexer"]["cpu_ms_per_batch_median"]
            / data["indexer"]["records_per_batch"],
        )


@dataclass(frozen=True, slots=True)
class Audience:
    viewers: int
    hours_per_day: float = 24.0
    dashboard_loads_per_day: int = 50  # each runs every named query over events once
    query_days: int = 1  # the range each query reads
    lake_age_months: int = 12  # the lake's age when its storage is priced

    def check(self) -> None:
        if self.viewers < 1:
            raise CostError(f"--viewers must be at least 1 (got {self.viewers})")
        if not 0 < self.hours_per_day <= 24:
            raise CostError(
                f"--hours-per-day must be more than 0 and at most 24 (got {self.hours_per_day:g})"
            )
        if self.dashboard_loads_per_day < 0 or self.query_days < 1 or self.lake_age_months < 1:
            raise CostError("--dashboard-loads must be >= 0, --query-days and --lake-months >= 1")


@dataclass(frozen=True, slots=True)
class Settings:
    ingest: IngestScaling
    realtime: RealtimeScaling
    lake: LakeScaling
    search: SearchScaling

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Settings:
        lookup = lookup_from(context)
        return cls(
            ingest_scaling(lookup),
            realtime_scaling(lookup),
            lake_scaling(lookup),
            search_scaling(lookup),
        )


@dataclass(frozen=True, slots=True)
class Line:
    service: str
    item: str
    quantity: float
    unit: str
    usd: float


@dataclass(slots=True)
class Estimate:
    architecture: str
    audience: Audience
    lines: list[Line] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # context to set for this audience
    notes: list[str] = field(default_factory=list)

    def add(self, service: str, item: str, quantity: float, unit: str, usd: float) -> None:
        self.lines.append(Line(service, item, quantity, unit, usd))

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    def by_service(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for line in self.lines:
            out[line.service] = out.get(line.service, 0.0) + line.usd
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))


@dataclass(frozen=True, slots=True)
class Volumes:
    """The audience's month in units: minutes watched, events, requests; and its peak rates."""

    viewer_minutes: float
    events: float
    requests: float
    views: float
    events_per_second: float
    requests_per_second: float

    @classmethod
    def of(
        cls, audience: Audience, rates: Rates, events_per_request_factor: float = 1.0
    ) -> Volumes:
        minutes = audience.viewers * audience.hours_per_day * 60 * DAYS_PER_MONTH
        per_minute = audience.viewers / 60
        requests_per_minute = rates.requests_per_viewer_minute / events_per_request_factor
        return cls(
            viewer_minutes=minutes,
            events=minutes * rates.events_per_viewer_minute,
            requests=minutes * requests_per_minute,
            views=minutes * rates.views_per_viewer_minute,
            events_per_second=per_minute * rates.events_per_viewer_minute,
            requests_per_second=per_minute * requests_per_minute,
        )


def _units(records: float, size: float, unit: int) -> float:
    """Bytes billed for `records` of `size` bytes rounded up to `unit`."""
    return records * math.ceil(size / unit) * unit


def platform(
    audience: Audience,
    rates: Rates,
    settings: Settings,
    *,
    prices: Prices = US_EAST_1,
    cloudwatch_series: Callable[[int, int, int, bool], int],
    alarms: int,
    events_per_request_factor: float = 1.0,
) -> Estimate:
    """This platform's monthly bill for `audience`, from `settings` (priced in us-east-1)."""
    audience.check()
    v = Volumes.of(audience, rates, events_per_request_factor)
    est = Estimate("this platform", audience)
    p = prices
    body = rates.body_bytes_per_request * events_per_request_factor

    # Edge: CloudFront and WAF in front of the REST API.
    est.add(
        "CloudFront",
        "HTTPS requests",
        v.requests,
        "requests",
        v.requests * p.cloudfront_https_per_request,
    )
    to_origin = v.requests * (body + REQUEST_HEADER_BYTES) / GB
    est.add(
        "CloudFront",
        "bytes to the origin",
        to_origin,
        "GB",
        to_origin * p.cloudfront_to_origin_per_gb,
    )
    to_viewer = v.requests * RESPONSE_BYTES / GB
    est.add(
        "CloudFront", "bytes to viewers", to_viewer, "GB", to_viewer * p.cloudfront_to_viewer_per_gb
    )
    est.add(
        "WAF",
        "web ACL and rules",
        1 + WAF_RULES,
        "items",
        p.waf_web_acl_month + WAF_RULES * p.waf_rule_month,
    )
    est.add("WAF", "requests inspected", v.requests, "requests", v.requests * p.waf_per_request)
    est.add(
        "API Gateway",
        "REST requests",
        v.requests,
        "requests",
        tiered(v.requests, p.apigw_rest_per_request),
    )
    logs = v.requests * ACCESS_LOG_BYTES / GB
    est.add(
        "CloudWatch Logs", "API access logs", logs, "GB", logs * p.cloudwatch_logs_ingest_per_gb
    )

    ingest = settings.ingest
    if v.requests_per_second > ingest.throttle_rate_limit:
        est.changes.append(
            f"qos:ingest:throttleRateLimit >= {math.ceil(v.requests_per_second * 1.5)}"
            f" (peak {v.requests_per_second:,.0f} requests/s,"
            f" configured {ingest.throttle_rate_limit:,.0f})"
        )
    duration_ms = math.ceil(rates.ingest_cpu_ms_per_request + KINESIS_PUT_MS)
    _lambda(est, "ingest", v.requests, duration_ms, ingest.memory_mib, p)
    seconds = HOURS_PER_MONTH * 3600 * audience.hours_per_day / 24 * XRAY_RESERVOIR_PER_SECOND
    traces = min(v.requests, seconds) + XRAY_FIXED_RATE * max(0.0, v.requests - seconds)
    est.add("X-Ray", "ingest traces recorded", traces, "traces", traces * p.xray_per_trace)
    concurrency = v.requests_per_second * duration_ms / 1000
    if ingest.reserved_concurrency is not None and concurrency > ingest.reserved_concurrency:
        est.changes.append(
            f"qos:ingest:reservedConcurrency >= {math.ceil(concurrency * 2)}"
            f" (peak concurrency {concurrency:,.0f}, configured {ingest.reserved_concurrency})"
        )

    # The ingest stream.
    record = rates.kinesis_record_bytes
    if ingest.stream_mode == "on-demand":
        est.add(
            "Kinesis",
            "ingest stream hours (on-demand)",
            HOURS_PER_MONTH,
            "hours",
            HOURS_PER_MONTH * p.kinesis_on_demand_stream_hour,
        )
        written = _units(v.events, record, KINESIS_RECORD_UNIT) / GB
        est.add(
            "Kinesis",
            "ingest stream writes",
            written,
            "GB",
            written * p.kinesis_on_demand_write_per_gb,
        )
        read = v.events * record * INGEST_STREAM_CONSUMERS / GB
        est.add(
            "Kinesis",
            "ingest stream reads (3 consumers)",
            read,
            "GB",
            read * p.kinesis_on_demand_read_per_gb,
        )
        shards = shards_for(v.events_per_second, math.ceil(record))
    else:
        needed = shards_for(v.events_per_second, math.ceil(record))
        shards = max(ingest.stream_shards or 1, needed)
        if shards > (ingest.stream_shards or 0):
            est.changes.append(
                f"qos:ingest:streamShards >= {needed} (configured {ingest.stream_shards})"
            )
        est.add(
            "Kinesis",
            "ingest stream shard hours",
            shards * HOURS_PER_MONTH,
            "shard-hours",
            shards * HOURS_PER_MONTH * p.kinesis_shard_hour,
        )
        units = v.events * math.ceil(record / PUT_PAYLOAD_UNIT)
        est.add(
            "Kinesis",
            "ingest stream PUT payload units",
            units,
            "units",
            units * p.kinesis_put_payload_unit,
        )

    # Realtime: Flink, its two output streams, the publisher, CloudWatch.
    rt = settings.realtime
    needed_kpus = max(1, math.ceil(v.events_per_second / FLINK_EVENTS_PER_KPU))
    kpus = max(rt.kpus, needed_kpus) if rt.flink_auto_scaling else rt.kpus
    if needed_kpus > rt.kpus:
        if rt.flink_auto_scaling:
            est.notes.append(f"Flink autoscaling runs {needed_kpus} KPUs (configured {rt.kpus})")
        else:
            est.changes.append(
                f"qos:realtime:flinkParallelism >= {needed_kpus * rt.flink_parallelism_per_kpu}"
                f" or qos:realtime:flinkAutoScaling true (the job needs {needed_kpus} KPUs)"
            )
            kpus = needed_kpus
    kpu_hours = (kpus + 1) * HOURS_PER_MONTH
    est.add(
        "Managed Flink",
        "KPU hours (+1 orchestration KPU)",
        kpu_hours,
        "KPU-hours",
        kpu_hours * p.flink_kpu_hour,
    )
    storage = kpus * FLINK_STORAGE_GB_PER_KPU
    est.add(
        "Managed Flink",
        "running application storage",
        storage,
        "GB-months",
        storage * p.flink_storage_gb_month,
    )
    series = cloudwatch_series(
        rates.client_platforms, len(rt.channels), rates.renditions, rt.legacy_metrics
    )
    windows = HOURS_PER_MONTH * 60  # 60 s windows
    rows = series * windows
    for name, records in (("metric rows", rows), ("views", v.views)):
        est.add(
            "Kinesis",
            f"{name} stream hours (on-demand)",
            HOURS_PER_MONTH,
            "hours",
            HOURS_PER_MONTH * p.kinesis_on_demand_stream_hour,
        )
        gb = _units(records, KINESIS_RECORD_UNIT, KINESIS_RECORD_UNIT) / GB
        est.add("Kinesis", f"{name} stream writes", gb, "GB", gb * p.kinesis_on_demand_write_per_gb)
    _lambda(est, "publisher", windows, PUBLISHER_MS_PER_WINDOW, rt.publisher_memory_mib, p)
    est.add(
        "CloudWatch", "custom metrics", series, "metrics", tiered(series, p.cloudwatch_metric_month)
    )
    calls = windows * math.ceil(series / DATUMS_PER_CALL)
    est.add(
        "CloudWatch",
        "PutMetricData calls",
        calls,
        "requests",
        calls * p.cloudwatch_put_metric_data_per_request,
    )
    est.add(
        "CloudWatch",
        "alarms and dashboard",
        alarms + DASHBOARDS,
        "items",
        alarms * p.cloudwatch_alarm_month + DASHBOARDS * p.cloudwatch_dashboard_month,
    )

    # Lake: Firehose (Parquet, partitioned by hour), S3, Athena.
    lake = settings.lake
    json_gb = v.events * rates.json_bytes_per_event / GB
    billed = _units(v.events, rates.json_bytes_per_event, FIREHOSE_RECORD_UNIT) / GB
    est.add("Firehose", "ingestion (5 KB records)", billed, "GB", billed * p.firehose_ingest_per_gb)
    est.add(
        "Firehose", "Parquet conversion", billed, "GB", billed * p.firehose_format_conversion_per_gb
    )
    est.add(
        "Firehose",
        "dynamic partitioning",
        json_gb,
        "GB",
        json_gb * p.firehose_dynamic_partitioning_per_gb,
    )
    parquet_month = v.events * rates.parquet_bytes_per_event
    per_flush = lake.buffer_size_mib * 1024**2
    objects = max(
        HOURS_PER_MONTH * 3600 / max(lake.buffer_interval_seconds, 60), parquet_month / per_flush
    )
    est.add(
        "Firehose",
        "objects delivered",
        objects,
        "objects",
        objects * p.firehose_dynamic_partitioning_per_object,
    )
    est.add("S3", "PUT requests", objects, "requests", objects * p.s3_put_per_request)
    months = audience.lake_age_months
    if lake.expire_data_days is not None:
        months = min(months, max(1, math.ceil(lake.expire_data_days / DAYS_PER_MONTH)))
    hot_months = (
        months
        if lake.transition_to_ia_days is None
        else min(months, max(1, round(lake.transition_to_ia_days / DAYS_PER_MONTH)))
    )
    hot = parquet_month * hot_months / GB
    cold = parquet_month * (months - hot_months) / GB
    est.add(
        "S3",
        f"Standard storage ({hot_months} month(s) of Parquet)",
        hot,
        "GB-months",
        hot * p.s3_standard_gb_month,
    )
    if cold:
        est.add(
            "S3",
            f"Standard-IA storage ({months - hot_months} months)",
            cold,
            "GB-months",
            cold * p.s3_standard_ia_gb_month,
        )
    runs = audience.dashboard_loads_per_day * DAYS_PER_MONTH
    events_in_range = v.events / DAYS_PER_MONTH * audience.query_days
    scanned = (
        sum(
            max(p.athena_min_bytes_per_query, per_event * events_in_range)
            for per_event in rates.query_bytes_per_event.values()
        )
        * runs
    )
    queries = runs * len(rates.query_bytes_per_event)
    est.add(
        "Athena",
        f"{queries:,.0f} named queries",
        scanned / 1024**4,
        "TB",
        scanned / 1024**4 * p.athena_per_tb,
    )

    # Search: the indexer function and the OpenSearch domain.
    search = settings.search
    per_second = max(shards / 5.0, v.events_per_second / SHARD_RECORDS_PER_SECOND)
    batches = per_second * HOURS_PER_MONTH * 3600
    per_batch_ms = v.events_per_second / per_second * rates.indexer_cpu_ms_per_record
    _lambda(est, "indexer", batches, per_batch_ms + INDEXER_BULK_MS, search.indexer_memory_mib, p)
    docs_per_day = (v.events + v.views) / DAYS_PER_MONTH
    need_gib = (
        docs_per_day
        * rates.json_bytes_per_event
        * search.delete_after_days
        * (1 + search.effective_replicas)
        * OPENSEARCH_STORAGE_FACTOR
        / GB
    )
    kind, nodes, volume = _domain(search, need_gib)
    if (kind, nodes) != (
        search.instance_type,
        search.instance_count,
    ) or volume > search.volume_size_gib:
        est.changes.append(
            f"qos:search-indexer:instanceType {kind}, instanceCount {nodes}, volumeSizeGiB {volume}"
            f" ({need_gib:,.0f} GiB for {search.delete_after_days} days of documents)"
        )
    instance_hours = nodes * HOURS_PER_MONTH
    est.add(
        "OpenSearch",
        f"{nodes} x {kind}",
        instance_hours,
        "instance-hours",
        instance_hours * p.opensearch_hourly(kind),
    )
    est.add(
        "OpenSearch",
        "gp3 storage",
        nodes * volume,
        "GB-months",
        nodes * volume * p.opensearch_gp3_gb_month,
    )

    est.add("Secrets Manager", "secrets", SECRETS, "secrets", SECRETS * p.secret_month)
    return est


def _lambda(
    est: Estimate, name: str, invocations: float, duration_ms: float, memory_mib: int, p: Prices
) -> None:
    est.add(
        "Lambda", f"{name} requests", invocations, "requests", invocations * p.lambda_per_request
    )
    gb_s = invocations * duration_ms / 1000 * memory_mib / 1024
    est.add(
        "Lambda",
        f"{name} compute ({duration_ms:g} ms x {memory_mib} MB)",
        gb_s,
        "GB-s",
        gb_s * p.lambda_per_gb_second,
    )
    logs = invocations * LAMBDA_LOG_BYTES / GB
    est.add(
        "CloudWatch Logs",
        f"{name} function logs",
        logs,
        "GB",
        logs * p.cloudwatch_logs_ingest_per_gb,
    )


def _domain(search: SearchScaling, need_gib: float) -> tuple[str, int, int]:
    """(instance type, data nodes, GiB per node) that hold `need_gib`, from the configured type
    up the ladder; never smaller than configured."""
    kinds = [search.instance_type, *(k for k in OPENSEARCH_LADDER if k != search.instance_type)]
    for kind in kinds:
        per_node = OPENSEARCH_MAX_VOLUME_GIB.get(kind)
        if per_node is None:
            continue
        nodes = max(search.instance_count, math.ceil(need_gib / per_node))
        if nodes % 2 and nodes > 1:
            nodes += 1  # two zones: an even count
        if nodes <= MAX_DATA_NODES or kind == kinds[-1]:
            volume = max(search.volume_size_gib, math.ceil(need_gib / nodes))
            return kind, nodes, min(volume, per_node) if nodes > MAX_DATA_NODES else volume
    raise CostError(f"no priced OpenSearch instance type for {search.instance_type!r}")


# --- the original sample on the same audience -------------------------------------------------

# The sample's player posts each metric on its own (one record a request, `{"Records": [...]}`
# with one entry), API Gateway hands it to Firehose (PutRecord, no Lambda), Firehose writes JSON
# to S3 (5 KB records billed), Kinesis Data Analytics (SQL, priced per KPU like Flink) windows it
# into a Lambda that calls PutMetricData, and Athena scans the JSON whole.
SAMPLE_METRICS = 5  # its five metric names, per client platform


def original_sample(
    audience: Audience,
    rates: Rates,
    settings: Settings,
    *,
    prices: Prices = US_EAST_1,
) -> Estimate:
    audience.check()
    v = Volumes.of(audience, rates)
    p = prices
    est = Estimate("the original sample", audience)
    requests = v.events  # one event a request
    est.add(
        "API Gateway",
        "REST requests (one event each)",
        requests,
        "requests",
        tiered(requests, p.apigw_rest_per_request),
    )
    billed = _units(v.events, rates.json_bytes_per_event, FIREHOSE_RECORD_UNIT) / GB
    est.add(
        "Firehose",
        "Direct PUT ingestion (5 KB records)",
        billed,
        "GB",
        billed * p.firehose_ingest_per_gb,
    )
    kpus = max(1, math.ceil(v.events_per_second / FLINK_EVENTS_PER_KPU))
    est.add(
        "Kinesis Data Analytics",
        "KPU hours",
        kpus * HOURS_PER_MONTH,
        "KPU-hours",
        kpus * HOURS_PER_MONTH * p.flink_kpu_hour,
    )
    windows = HOURS_PER_MONTH * 60
    _lambda(est, "metrics", windows, PUBLISHER_MS_PER_WINDOW, 128, p)
    series = SAMPLE_METRICS * rates.client_platforms
    est.add(
        "CloudWatch", "custom metrics", series, "metrics", tiered(series, p.cloudwatch_metric_month)
    )
    calls = windows * math.ceil(series / 20)  # its PutMetricData sends 20 datums a call
    est.add(
        "CloudWatch",
        "PutMetricData calls",
        calls,
        "requests",
        calls * p.cloudwatch_put_metric_data_per_request,
    )
    json_month = v.events * rates.json_bytes_per_event
    objects = HOURS_PER_MONTH * 3600 / 300
    est.add("S3", "PUT requests", objects, "requests", objects * p.s3_put_per_request)
    stored = json_month * audience.lake_age_months / GB
    est.add(
        "S3",
        f"Standard storage ({audience.lake_age_months} months of JSON)",
        stored,
        "GB-months",
        stored * p.s3_standard_gb_month,
    )
    runs = audience.dashboard_loads_per_day * DAYS_PER_MONTH
    per_query = max(p.athena_min_bytes_per_query, json_month / DAYS_PER_MONTH * audience.query_days)
    scanned = per_query * len(rates.query_bytes_per_event) * runs
    est.add(
        "Athena",
        "the same queries over JSON (full scans)",
        scanned / 1024**4,
        "TB",
        scanned / 1024**4 * p.athena_per_tb,
    )
    search = settings.search
    docs_per_day = v.events / DAYS_PER_MONTH
    need_gib = (
        docs_per_day
        * rates.json_bytes_per_event
        * search.delete_after_days
        * (1 + search.effective_replicas)
        * OPENSEARCH_STORAGE_FACTOR
        / GB
    )
    kind, nodes, volume = _domain(search, need_gib)
    est.add(
        "Elasticsearch",
        f"{nodes} x {kind} (optional in the sample)",
        nodes * HOURS_PER_MONTH,
        "instance-hours",
        nodes * HOURS_PER_MONTH * p.opensearch_hourly(kind),
    )
    est.add(
        "Elasticsearch",
        "gp3 storage",
        nodes * volume,
        "GB-months",
        nodes * volume * p.opensearch_gp3_gb_month,
    )
    est.add(
        "Firehose",
        "delivery to Elasticsearch (5 KB records)",
        billed,
        "GB",
        billed * p.firehose_ingest_per_gb,
    )
    return est


# --- levers: what halves the dominant cost --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lever:
    name: str
    how: str
    total: float


def levers(
    audience: Audience,
    rates: Rates,
    settings: Settings,
    base: Estimate,
    run: Callable[..., Estimate],
) -> list[Lever]:
    """The total under each single change, cheapest first."""
    out = [
        Lever(
            "half the requests",
            "twice the events per request: the SDK's batch timer 5 s -> 2 min (late records"
            " then revise their windows, ADR 17)",
            run(audience, rates, settings, events_per_request_factor=2.0).total,
        ),
        Lever(
            "search retention 30 -> 7 days",
            "qos:search-indexer:deleteAfterDays 7 (the lake keeps the history)",
            run(
                audience,
                rates,
                replace(settings, search=replace(settings.search, delete_after_days=7)),
            ).total,
        ),
        Lever(
            "no per-channel CloudWatch metrics",
            "qos:realtime:channels [] (channels stay in search and the lake)",
            run(
                audience, rates, replace(settings, realtime=replace(settings.realtime, channels=()))
            ).total,
        ),
        Lever(
            "no legacy metric names",
            "qos:realtime:legacyMetrics false (once the old dashboards are retired)",
            run(
                audience,
                rates,
                replace(settings, realtime=replace(settings.realtime, legacy_metrics=False)),
            ).total,
        ),
    ]
    # Only what saves at least 1 %.
    kept = [lever for lever in out if lever.total < 0.99 * base.total]
    return sorted(kept, key=lambda lever: lever.total)
