"""The stacks' scaling settings and their CDK context keys, defined once (ADR 0023).

Every setting that sizes a stack for its audience (the ingest stream's capacity mode and shards,
Lambda memory and reserved concurrency, Flink parallelism and autoscaling, the lake's buffering
and storage lifetimes, the OpenSearch domain's nodes and storage) is read here, from the same
context the apps read (cdk.json, or `-c key=value`). The service apps build their stacks from
these objects, and the cost model (`qos cost`) prices the same objects, so a deployment and its
estimate cannot disagree about a setting.

Plain Python: no aws_cdk import, so the cost model reads the context without jsii.

| key | default | meaning |
| --- | --- | --- |
| `qos:ingest:streamMode` | `on-demand` | the event stream: `on-demand` or `provisioned` |
| `qos:ingest:streamShards` | (derived) | shards of a provisioned stream |
| `qos:ingest:expectedEventsPerSecond` | (unset) | peak rate a provisioned stream is sized for |
| `qos:ingest:memoryMiB` | 512 | the ingest function's memory |
| `qos:ingest:reservedConcurrency` | 50 | its reservation; `none` reserves nothing |
| `qos:ingest:throttleRateLimit` | 500 | stage-wide requests per second |
| `qos:ingest:throttleBurstLimit` | 1000 | stage-wide burst |
| `qos:ingest:streamRetentionHours` | 24 | Kinesis retention, 24-8760 |
| `qos:realtime:flinkParallelism` | 1 | the job's parallelism |
| `qos:realtime:flinkParallelismPerKpu` | 1 | parallel tasks per KPU, 1-8 |
| `qos:realtime:flinkAutoScaling` | true | Managed Flink scales parallelism with CPU |
| `qos:realtime:publisherMemoryMiB` | 256 | the CloudWatch publisher's memory |
| `qos:realtime:publisherReservedConcurrency` | (none) | its reservation |
| `qos:realtime:channels` | `[]` | channels published with a `Channel` dimension |
| `qos:realtime:legacyMetrics` | true | also publish the original five names |
| `qos:lake:bufferSizeMiB` | 128 | Firehose file size, 64-128 |
| `qos:lake:bufferIntervalSeconds` | 300 | Firehose file age, 0-900 |
| `qos:lake:transitionToIaDays` | 30 | days before lake data moves to Standard-IA; `null`: never |
| `qos:lake:expireDataDays` | (never) | days before lake data is deleted |
| `qos:search-indexer:instanceType` | `t3.small.search` | data node type |
| `qos:search-indexer:instanceCount` | 1 | data nodes |
| `qos:search-indexer:volumeSizeGiB` | 10 | gp3 volume per node |
| `qos:search-indexer:shards` | 1 | primary shards per daily index |
| `qos:search-indexer:replicas` | 0 on one node, else 1 | replicas per daily index |
| `qos:search-indexer:deleteAfterDays` | 30 | ISM deletes a daily index after this |
| `qos:search-indexer:indexerMemoryMiB` | 512 | the indexer function's memory |
| `qos:search-indexer:indexerReservedConcurrency` | (none) | its reservation |
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

# A context lookup: the full key (`qos:ingest:streamMode`) -> its value, or None when unset.
Lookup = Callable[[str], Any]

StreamMode = Literal["on-demand", "provisioned"]

# A provisioned shard takes 1 MB/s or 1,000 records/s of writes; the derived count keeps this
# much headroom over the expected peak (a big event's audience can double in minutes).
SHARD_BYTES_PER_SECOND = 1_000_000
SHARD_RECORDS_PER_SECOND = 1_000
SHARD_HEADROOM = 2.0
# Bytes of one event's Kinesis record when none is measured (the measured figure, rounded up:
# docs/cost.md).
DEFAULT_RECORD_BYTES = 1_000
MAX_SHARDS = 10_000


class ScalingError(ValueError):
    """A scaling setting out of range; the message names its context key."""


def lookup_from(context: Mapping[str, Any]) -> Lookup:
    """A lookup over a plain mapping (cdk.json's `context`, with overrides)."""
    return context.get


def _get(lookup: Lookup, key: str, default: Any) -> Any:
    value = lookup(key)
    return default if value is None else value


def _int(lookup: Lookup, key: str, default: int, low: int, high: int) -> int:
    raw = _get(lookup, key, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ScalingError(f"{key}: expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ScalingError(f"{key}: {low}-{high}, got {value}")
    return value


def _optional_int(lookup: Lookup, key: str, default: int | None, low: int, high: int) -> int | None:
    raw = lookup(key)
    if raw is None:
        return default
    if isinstance(raw, str) and raw.lower() in ("", "none", "null"):
        return None
    return _int(lookup, key, 0, low, high)


def _flag(lookup: Lookup, key: str, default: bool) -> bool:
    raw = _get(lookup, key, default)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ScalingError(f"{key}: expected true or false, got {raw!r}")


def _strings(lookup: Lookup, key: str) -> tuple[str, ...]:
    raw = _get(lookup, key, [])
    if isinstance(raw, str):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(raw, list) and all(isinstance(part, str) for part in raw):
        return tuple(raw)
    raise ScalingError(f"{key}: expected a list of strings or a comma-separated string")


def shards_for(events_per_second: float, record_bytes: int = DEFAULT_RECORD_BYTES) -> int:
    """Shards for a peak of `events_per_second` records of `record_bytes`, with headroom."""
    if events_per_second <= 0 or record_bytes <= 0:
        raise ScalingError("the expected rate and record size must be more than 0")
    need = max(
        events_per_second * record_bytes / SHARD_BYTES_PER_SECOND,
        events_per_second / SHARD_RECORDS_PER_SECOND,
    )
    return max(1, math.ceil(need * SHARD_HEADROOM))


@dataclass(frozen=True, slots=True)
class IngestScaling:
    stream_mode: StreamMode = "on-demand"
    stream_shards: int | None = None  # set exactly when provisioned
    stream_retention_hours: int = 24
    memory_mib: int = 512
    reserved_concurrency: int | None = 50
    throttle_rate_limit: float = 500.0
    throttle_burst_limit: int = 1000


@dataclass(frozen=True, slots=True)
class RealtimeScaling:
    flink_parallelism: int = 1
    flink_parallelism_per_kpu: int = 1
    flink_auto_scaling: bool = True
    publisher_memory_mib: int = 256
    publisher_reserved_concurrency: int | None = None
    channels: tuple[str, ...] = ()
    legacy_metrics: bool = True

    @property
    def kpus(self) -> int:
        """KPUs of the job at its configured parallelism (before autoscaling)."""
        return math.ceil(self.flink_parallelism / self.flink_parallelism_per_kpu)


@dataclass(frozen=True, slots=True)
class LakeScaling:
    buffer_size_mib: int = 128
    buffer_interval_seconds: int = 300
    transition_to_ia_days: int | None = 30
    expire_data_days: int | None = None


@dataclass(frozen=True, slots=True)
class SearchScaling:
    instance_type: str = "t3.small.search"
    instance_count: int = 1
    volume_size_gib: int = 10
    shards: int = 1
    replicas: int | None = None  # None: 0 on one node, else 1
    delete_after_days: int = 30
    indexer_memory_mib: int = 512
    indexer_reserved_concurrency: int | None = None

    @property
    def effective_replicas(self) -> int:
        if self.replicas is not None:
            return self.replicas
        return 0 if self.instance_count == 1 else 1


def ingest_scaling(lookup: Lookup) -> IngestScaling:
    p = "qos:ingest:"
    mode = str(_get(lookup, f"{p}streamMode", "on-demand")).lower()
    if mode not in ("on-demand", "provisioned"):
        raise ScalingError(f"{p}streamMode: on-demand or provisioned, got {mode!r}")
    shards: int | None = None
    if mode == "provisioned":
        shards = _optional_int(lookup, f"{p}streamShards", None, 1, MAX_SHARDS)
        if shards is None:
            rate = lookup(f"{p}expectedEventsPerSecond")
            if rate is None:
                raise ScalingError(
                    f"{p}streamMode provisioned needs {p}streamShards or {p}expectedEventsPerSecond"
                )
            try:
                shards = min(MAX_SHARDS, shards_for(float(rate)))
            except ValueError as error:
                raise ScalingError(f"{p}expectedEventsPerSecond: {error}") from None
    elif lookup(f"{p}streamShards") is not None:
        raise ScalingError(f"{p}streamShards needs {p}streamMode provisioned")
    rate_limit = float(_get(lookup, f"{p}throttleRateLimit", 500.0))
    if rate_limit <= 0:
        raise ScalingError(f"{p}throttleRateLimit must be more than 0")
    return IngestScaling(
        stream_mode="provisioned" if mode == "provisioned" else "on-demand",
        stream_shards=shards,
        stream_retention_hours=_int(lookup, f"{p}streamRetentionHours", 24, 24, 8760),
        memory_mib=_int(lookup, f"{p}memoryMiB", 512, 128, 10_240),
        reserved_concurrency=_optional_int(lookup, f"{p}reservedConcurrency", 50, 1, 100_000),
        throttle_rate_limit=rate_limit,
        throttle_burst_limit=_int(lookup, f"{p}throttleBurstLimit", 1000, 1, 1_000_000),
    )


def realtime_scaling(lookup: Lookup) -> RealtimeScaling:
    p = "qos:realtime:"
    return RealtimeScaling(
        flink_parallelism=_int(lookup, f"{p}flinkParallelism", 1, 1, 1024),
        flink_parallelism_per_kpu=_int(lookup, f"{p}flinkParallelismPerKpu", 1, 1, 8),
        flink_auto_scaling=_flag(lookup, f"{p}flinkAutoScaling", True),
        publisher_memory_mib=_int(lookup, f"{p}publisherMemoryMiB", 256, 128, 10_240),
        publisher_reserved_concurrency=_optional_int(
            lookup, f"{p}publisherReservedConcurrency", None, 1, 100_000
        ),
        channels=_strings(lookup, f"{p}channels"),
        legacy_metrics=_flag(lookup, f"{p}legacyMetrics", True),
    )


def lake_scaling(lookup: Lookup) -> LakeScaling:
    p = "qos:lake:"
    return LakeScaling(
        buffer_size_mib=_int(lookup, f"{p}bufferSizeMiB", 128, 64, 128),
        buffer_interval_seconds=_int(lookup, f"{p}bufferIntervalSeconds", 300, 0, 900),
        transition_to_ia_days=_optional_int(lookup, f"{p}transitionToIaDays", 30, 30, 36_500),
        expire_data_days=_optional_int(lookup, f"{p}expireDataDays", None, 1, 36_500),
    )


def search_scaling(lookup: Lookup) -> SearchScaling:
    p = "qos:search-indexer:"
    count = _int(lookup, f"{p}instanceCount", 1, 1, 1000)
    return SearchScaling(
        instance_type=str(_get(lookup, f"{p}instanceType", "t3.small.search")),
        instance_count=count,
        volume_size_gib=_int(lookup, f"{p}volumeSizeGiB", 10, 10, 16_384),
        shards=_int(lookup, f"{p}shards", 1, 1, 1024),
        replicas=_optional_int(lookup, f"{p}replicas", None, 0, 16),
        delete_after_days=_int(lookup, f"{p}deleteAfterDays", 30, 1, 36_500),
        indexer_memory_mib=_int(lookup, f"{p}indexerMemoryMiB", 512, 256, 10_240),
        indexer_reserved_concurrency=_optional_int(
            lookup, f"{p}indexerReservedConcurrency", None, 1, 100_000
        ),
    )
