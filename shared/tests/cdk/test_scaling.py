"""The scaling settings read from context: defaults, CLI-style strings, derived shards, errors."""

from __future__ import annotations

import math
from typing import Any

import pytest

from qos_shared_cdk import scaling


def _lookup(**context: Any) -> scaling.Lookup:
    return scaling.lookup_from(context)


def test_defaults_match_the_stacks_documented_defaults() -> None:
    assert scaling.ingest_scaling(_lookup()) == scaling.IngestScaling()
    ingest = scaling.ingest_scaling(_lookup())
    assert (ingest.stream_mode, ingest.stream_shards, ingest.reserved_concurrency) == (
        "on-demand",
        None,
        50,
    )
    realtime = scaling.realtime_scaling(_lookup())
    assert (realtime.flink_parallelism, realtime.kpus, realtime.flink_auto_scaling) == (1, 1, True)
    search = scaling.search_scaling(_lookup())
    assert (search.instance_type, search.instance_count, search.effective_replicas) == (
        "t3.small.search",
        1,
        0,
    )
    assert scaling.lake_scaling(_lookup()).transition_to_ia_days == 30


@pytest.mark.parametrize(("rate", "size"), [(1.0, 100), (999.0, 1_000), (3_500.0, 200)])
def test_shards_cover_both_shard_limits_with_headroom(rate: float, size: int) -> None:
    shards = scaling.shards_for(rate, size)
    assert shards >= 1
    # Per shard after headroom: at most half of 1 MB/s and of 1,000 records/s.
    assert rate * size / shards <= 500_000 and rate / shards <= 500
    assert shards == max(1, math.ceil(2 * max(rate * size / 1e6, rate / 1000)))


def test_cli_strings_are_parsed() -> None:
    realtime = scaling.realtime_scaling(
        _lookup(
            **{
                "qos:realtime:flinkParallelism": "6",
                "qos:realtime:flinkParallelismPerKpu": "4",
                "qos:realtime:flinkAutoScaling": "false",
                "qos:realtime:channels": "a, b",
            }
        )
    )
    assert (realtime.kpus, realtime.flink_auto_scaling, realtime.channels) == (2, False, ("a", "b"))
    ingest = scaling.ingest_scaling(_lookup(**{"qos:ingest:reservedConcurrency": "none"}))
    assert ingest.reserved_concurrency is None


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"qos:realtime:flinkParallelism": "x"}, "flinkParallelism: expected a whole number"),
        ({"qos:realtime:flinkAutoScaling": "maybe"}, "flinkAutoScaling: expected true or false"),
        ({"qos:realtime:flinkParallelism": "0"}, "flinkParallelism: 1-1024, got 0"),
    ],
)
def test_bad_values_name_their_key(context: dict[str, str], message: str) -> None:
    with pytest.raises(scaling.ScalingError, match=message):
        scaling.realtime_scaling(_lookup(**context))
