"""AWS list prices the cost model uses: one dated table, us-east-1, on-demand, USD.

Every figure is a public list price of us-east-1 (no free tier, no savings plan, no reserved
instances, no negotiated discount). Prices change: re-check them on the AWS pricing pages before
quoting a figure, and update `PRICES_AS_OF` with the table. Tiered prices are lists of
(units up to, price per unit) with the last tier open-ended.

Other regions: `REGION_MULTIPLIERS` holds the regions whose list prices for these services are
us-east-1's; any other region is refused with "not priced" rather than guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PRICES_AS_OF = "2025-06-01"
PRICE_SOURCE = "AWS public pricing pages, us-east-1, on-demand list prices (no free tier)"

Tiers = tuple[tuple[float, float], ...]  # (cumulative units up to, USD per unit)


@dataclass(frozen=True, slots=True)
class Prices:
    # CloudFront (North America, Europe): HTTPS requests, bytes to the origin and to viewers.
    cloudfront_https_per_request: float = 0.0100 / 10_000
    cloudfront_to_origin_per_gb: float = 0.020
    cloudfront_to_viewer_per_gb: float = 0.085
    # AWS WAF
    waf_web_acl_month: float = 5.00
    waf_rule_month: float = 1.00
    waf_per_request: float = 0.60 / 1e6
    # API Gateway REST API, per request, tiered per month
    apigw_rest_per_request: Tiers = (
        (333e6, 3.50 / 1e6),
        (1_000e6, 2.80 / 1e6),
        (20_000e6, 2.38 / 1e6),
        (math.inf, 1.51 / 1e6),
    )
    # Lambda, x86_64
    lambda_per_request: float = 0.20 / 1e6
    lambda_per_gb_second: float = 0.0000166667
    # Kinesis Data Streams. On-demand: per stream-hour, per GB written (each record rounded up
    # to 1 KB), per GB read by each standard consumer. Provisioned: per shard-hour and per
    # million PUT payload units (25 KB each, a record at least one).
    kinesis_on_demand_stream_hour: float = 0.04
    kinesis_on_demand_write_per_gb: float = 0.08
    kinesis_on_demand_read_per_gb: float = 0.04
    kinesis_shard_hour: float = 0.015
    kinesis_put_payload_unit: float = 0.014 / 1e6
    # Data Firehose: ingestion per GB (each record rounded up to 5 KB), format conversion per GB,
    # dynamic partitioning per GB and per 1,000 objects delivered
    firehose_ingest_per_gb: float = 0.029
    firehose_format_conversion_per_gb: float = 0.018
    firehose_dynamic_partitioning_per_gb: float = 0.020
    firehose_dynamic_partitioning_per_object: float = 0.005 / 1000
    # S3
    s3_standard_gb_month: float = 0.023
    s3_standard_ia_gb_month: float = 0.0125
    s3_put_per_request: float = 0.005 / 1000
    # Athena (engine v3, per TB scanned, 10 MB minimum per query)
    athena_per_tb: float = 5.00
    athena_min_bytes_per_query: int = 10 * 1024**2
    # Managed Service for Apache Flink: per KPU-hour, plus one KPU per application for
    # orchestration; running storage 50 GB per KPU
    flink_kpu_hour: float = 0.11
    flink_storage_gb_month: float = 0.10
    # Amazon OpenSearch Service: per instance-hour by type, gp3 storage per GB-month
    opensearch_instance_hour: tuple[tuple[str, float], ...] = (
        ("t3.small.search", 0.036),
        ("t3.medium.search", 0.073),
        ("m6g.large.search", 0.128),
        ("r6g.large.search", 0.167),
        ("r6g.xlarge.search", 0.335),
        ("r6g.2xlarge.search", 0.670),
        ("r6g.4xlarge.search", 1.340),
    )
    opensearch_gp3_gb_month: float = 0.122
    # CloudWatch: custom metrics per month, tiered; PutMetricData per request; alarms;
    # dashboards; log ingestion per GB
    cloudwatch_metric_month: Tiers = (
        (10_000, 0.30),
        (250_000, 0.10),
        (1_000_000, 0.05),
        (math.inf, 0.02),
    )
    cloudwatch_put_metric_data_per_request: float = 0.01 / 1000
    cloudwatch_alarm_month: float = 0.10
    cloudwatch_dashboard_month: float = 3.00
    cloudwatch_logs_ingest_per_gb: float = 0.50
    # Secrets Manager
    secret_month: float = 0.40
    # X-Ray: traces recorded
    xray_per_trace: float = 5.00 / 1e6

    def opensearch_hourly(self, instance_type: str) -> float:
        for name, price in self.opensearch_instance_hour:
            if name == instance_type:
                return price
        known = ", ".join(name for name, _ in self.opensearch_instance_hour)
        raise NotPriced(
            f"OpenSearch instance type {instance_type!r} is not priced (known: {known})"
        )


# The data volume an OpenSearch data node of each type may carry (gp3, GiB): the ceiling of
# the domain's per-node `volumeSizeGiB`.
OPENSEARCH_MAX_VOLUME_GIB: dict[str, int] = {
    "t3.small.search": 100,
    "t3.medium.search": 200,
    "m6g.large.search": 512,
    "r6g.large.search": 1024,
    "r6g.xlarge.search": 1536,
    "r6g.2xlarge.search": 3072,
    "r6g.4xlarge.search": 6144,
}
# Types tried in turn when a domain needs more nodes than `MAX_DATA_NODES` of its type.
OPENSEARCH_LADDER = (
    "r6g.large.search",
    "r6g.xlarge.search",
    "r6g.2xlarge.search",
    "r6g.4xlarge.search",
)
MAX_DATA_NODES = 10

# Regions whose list prices for every service above equal us-east-1's.
REGION_MULTIPLIERS: dict[str, float] = {"us-east-1": 1.0, "us-east-2": 1.0, "us-west-2": 1.0}

US_EAST_1 = Prices()


class NotPriced(ValueError):
    """A region or resource the price table does not cover."""


def region_multiplier(region: str) -> float:
    try:
        return REGION_MULTIPLIERS[region]
    except KeyError:
        known = ", ".join(sorted(REGION_MULTIPLIERS))
        raise NotPriced(
            f"region {region!r} is not priced: the table holds us-east-1's list prices of"
            f" {PRICES_AS_OF}, valid for {known}"
        ) from None


def tiered(units: float, tiers: Tiers) -> float:
    """The price of `units` under cumulative tiers."""
    cost = 0.0
    below = 0.0
    for upto, price in tiers:
        if units <= below:
            break
        cost += (min(units, upto) - below) * price
        below = upto
    return cost
