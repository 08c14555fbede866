"""`qos cost` on known inputs: a month at 10,000 viewers computed here line by line, by hand."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest

from qos_infra.cost.cli import main
from qos_infra.cost.measure import measure
from qos_lake.api import QUERIES
from qos_shared.catalogue import CATALOGUE

GiB = 2**30
TiB = 2**40

RATES: dict[str, Any] = {
    "measured_on": "2026-01-01",
    "command": "hand-made",
    "traffic": {
        "events_per_viewer_minute": 2.0,
        "requests_per_viewer_minute": 1.0,
        "body_bytes_per_request": 500.0,
        "views_per_viewer_minute": 0.2,
        "client_platforms": 4,
        "renditions": 5,
        "channels": 8,
    },
    "ingest": {"cpu_ms_per_request_mean": 0.5, "kinesis_record_bytes": 700.0},
    "indexer": {"cpu_ms_per_batch_median": 4.0, "records_per_batch": 1000},
    "lake": {
        "json_bytes_per_event": 650.0,
        "parquet_bytes_per_event": 40.0,
        "query_bytes_per_event": {"a": 5.0, "b": 1.0},
    },
}


def _series(platforms: int, renditions: int) -> int:
    """CloudWatch metrics from the catalogue: one name per metric, the percentiles of one field
    sharing one, plus late_events; each alone and per platform (no channels allowed), shares per
    rendition too; the original five names per platform."""
    names = 1  # late_events
    percentile_fields = set()
    for metric in CATALOGUE:
        if metric.kind == "percentile":
            percentile_fields.add(str(metric.numerator.value))
            continue
        names += renditions if metric.kind == "share" else 1
    names += len(percentile_fields)
    legacy = sum(1 for m in CATALOGUE if m.legacy_name)
    return names * (1 + platforms) + legacy * platforms


def _hand_total(series: int, alarms: int) -> float:
    month_h = 730
    days = 730 / 24
    minutes = 10_000 * 24 * 60 * days  # 438,000,000 viewer-minutes
    events, requests, views = 2 * minutes, minutes, 0.2 * minutes
    eps = 10_000 / 60 * 2
    lines = [
        requests * 0.01 / 10_000,  # CloudFront HTTPS requests
        requests * (500 + 600) / GiB * 0.020,  # to the origin: body + headers
        requests * 350 / GiB * 0.085,  # answers to viewers
        5.00 + 3 * 1.00,  # web ACL, three rules
        requests * 0.60 / 1e6,  # WAF requests
        333e6 * 3.50 / 1e6 + (requests - 333e6) * 2.80 / 1e6,  # API Gateway, two tiers
        requests * 700 / GiB * 0.50,  # access logs
        # ingest Lambda: 21 ms (0.5 + 20, rounded up) x 512 MB
        requests * 0.20 / 1e6,
        requests * 0.021 * 0.5 * 0.0000166667,
        requests * 300 / GiB * 0.50,
        # X-Ray's default sampling: one trace a second, then 5 % of the rest
        (month_h * 3600 + 0.05 * (requests - month_h * 3600)) * 5.00 / 1e6,
        # ingest stream, on-demand: hours, writes in 1 KB records, three consumers' reads
        month_h * 0.04,
        events * 1024 / GiB * 0.08,
        events * 700 * 3 / GiB * 0.04,
        # Flink: 1 KPU + 1 orchestration, 50 GB storage
        2 * month_h * 0.11,
        50 * 0.10,
        # metric rows stream (one row per metric per 60 s window) and views stream
        month_h * 0.04,
        series * month_h * 60 * 1024 / GiB * 0.08,
        month_h * 0.04,
        views * 1024 / GiB * 0.08,
        # publisher: one 300 ms run of 256 MB per window
        month_h * 60 * 0.20 / 1e6,
        month_h * 60 * 0.3 * 0.25 * 0.0000166667,
        month_h * 60 * 300 / GiB * 0.50,
        # CloudWatch: metrics (first tier), one PutMetricData call a window, alarms, a dashboard
        series * 0.30,
        month_h * 60 * 0.01 / 1000,
        alarms * 0.10 + 3.00,
        # Firehose: 5 KB records ingested and converted, JSON bytes partitioned, 8,760 objects
        events * 5120 / GiB * 0.029,
        events * 5120 / GiB * 0.018,
        events * 650 / GiB * 0.020,
        8760 * 0.005 / 1000,
        8760 * 0.005 / 1000,  # S3 PUTs
        # S3 after 12 months: 1 month Standard, 11 Standard-IA, 40 B of Parquet an event
        events * 40 / GiB * 0.023,
        11 * events * 40 / GiB * 0.0125,
        # Athena: 10 loads a day, each query over one day's events (both above 10 MB)
        (5 + 1) * (events / days) * 10 * days / TiB * 5.00,
        # indexer: a batch per 1,000 records (above one per 5 s per shard), 512 MB, for
        # 1,000 x 0.004 ms of its own CPU and the 150 ms _bulk round trip
        eps / 1000 * month_h * 3600 * 0.20 / 1e6,
        eps / 1000 * month_h * 3600 * 0.154 * 0.5 * 0.0000166667,
        eps / 1000 * month_h * 3600 * 300 / GiB * 0.50,
    ]
    # OpenSearch: 30 days of events and views, x1.45, no replica, t3.small (100 GiB a node)
    need = (events + views) / days * 650 * 30 * 1.45 / GiB
    nodes = math.ceil(need / 100)
    nodes += nodes % 2
    assert nodes == 10  # 834 GiB: 9 nodes, made even
    lines += [nodes * month_h * 0.036, nodes * math.ceil(need / nodes) * 0.122]
    lines.append(2 * 0.40)  # secrets
    return sum(lines)


def _run(tmp_path: Path, *args: str) -> tuple[int, str]:
    rates = tmp_path / "rates.json"
    rates.write_text(json.dumps(RATES))
    out = io.StringIO()
    code = main(["--rates", str(rates), "--cdk-json", str(tmp_path / "none.json"), *args], out)
    return code, out.getvalue()


def test_a_month_at_ten_thousand_viewers_is_the_hand_computed_total(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "--viewers", "10000", "--dashboard-loads", "10", "--json")
    assert code == 0
    (report,) = json.loads(out)
    alarms = sum(1 for m in CATALOGUE if m.presentation.alarm_threshold is not None)
    expected = _hand_total(_series(4, 5), alarms)
    assert report["total_usd"] == pytest.approx(expected, rel=1e-9)
    assert sum(report["by_service"].values()) == pytest.approx(expected, rel=1e-9)
    # The defaults carry 10,000 viewers but for search: 834 GiB of documents on 100 GiB nodes.
    assert report["changes"] == [
        "qos:search-indexer:instanceType t3.small.search, instanceCount 10, volumeSizeGiB 84"
        " (834 GiB for 30 days of documents)"
    ]
    assert report["original_sample_total_usd"] > 0


def test_an_audience_the_defaults_cannot_carry_names_the_context_to_set(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "--viewers", "1000000", "--json")
    assert code == 0
    (report,) = json.loads(out)
    # 1,000,000 viewers x 1 request a minute: 16,667 requests/s against a 500/s throttle.
    throttle = [c for c in report["changes"] if c.startswith("qos:ingest:throttleRateLimit")]
    assert throttle == [
        f"qos:ingest:throttleRateLimit >= {math.ceil(1e6 / 60 * 1.5)}"
        " (peak 16,667 requests/s, configured 500)"
    ]


def test_a_provisioned_stream_is_priced_by_shard_hours(tmp_path: Path) -> None:
    code, out = _run(
        tmp_path,
        "--viewers",
        "10000",
        "--json",
        "--context",
        "qos:ingest:streamMode=provisioned",
        "--context",
        "qos:ingest:streamShards=3",
    )
    assert code == 0
    (report,) = json.loads(out)
    (shards,) = [x for x in report["lines"] if x["item"] == "ingest stream shard hours"]
    assert shards["usd"] == pytest.approx(3 * 730 * 0.015)
    assert not [x for x in report["lines"] if x["item"].startswith("ingest stream writes")]


def test_the_cheapest_lever_at_scale_is_fewer_requests(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "--viewers", "100000")
    assert code == 0
    assert "Dominant: API Gateway" in out
    assert out.index("Lever: half the requests") < out.index("Lever: search retention")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "eu-west-1"], "region 'eu-west-1' is not priced"),
        (["--viewers", "0"], "--viewers must be at least 1"),
        (["--hours-per-day", "25"], "--hours-per-day must be"),
        (["--context", "qos:realtime:flinkParallelismPerKpu=9"], "flinkParallelismPerKpu: 1-8"),
        (["--context", "flinkParallelism"], "--context takes"),
    ],
)
def test_bad_input_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _ = _run(tmp_path, *args)
    assert code == 2
    assert message in capsys.readouterr().err


def test_measure_counts_what_the_simulator_sends() -> None:
    figures = measure(viewers=40, minutes=5, seed=3)
    traffic = figures["traffic"]
    assert traffic["events_per_viewer_minute"] >= traffic["requests_per_viewer_minute"] > 0
    assert figures["ingest"]["accepted_share"] == 1.0
    assert figures["indexer"]["cpu_ms_per_batch_median"] > 0
    assert figures["indexer"]["bulk_bytes_per_record"] > figures["lake"]["json_bytes_per_event"]
    assert 0 < figures["lake"]["parquet_bytes_per_event"] < figures["lake"]["json_bytes_per_event"]
    queries = figures["lake"]["query_bytes_per_event"]
    assert set(queries) == {name for name, q in QUERIES.items() if "events" in q.tables}
    assert all(0 < read < figures["lake"]["parquet_bytes_per_event"] for read in queries.values())
