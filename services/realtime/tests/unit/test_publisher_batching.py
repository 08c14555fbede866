"""PutMetricData calls within CloudWatch's limits: 1,000 datums, 1 MB, one namespace per call.

Request sizes are checked against botocore's own query-protocol serializer (the most verbose
encoding CloudWatch accepts), not against the planner's estimate.
"""

from __future__ import annotations

import math
import random
from urllib.parse import urlencode

import botocore.session
import pytest
from botocore.serialize import create_serializer

from qos_realtime.domain.batching import (
    MAX_REQUEST_BYTES,
    PutMetricDataCall,
    encoded_size,
    envelope_size,
    plan_calls,
)
from qos_realtime.domain.datums import MetricDatum, StatisticSet

START = 1_750_000_000_000
_MODEL = botocore.session.get_session().get_service_model("cloudwatch")
_OPERATION = _MODEL.operation_model("PutMetricData")
_QUERY = create_serializer("query")


def query_body_size(call: PutMetricDataCall[int]) -> int:
    body = _QUERY.serialize_to_request(call.request(), _OPERATION)["body"]
    # What botocore's AWSRequest does with a dict body before sending it.
    return len(urlencode(body, doseq=True))


def single(i: int, namespace: str = "IVS/QoS") -> MetricDatum:
    return MetricDatum(
        namespace, "Errors", "Count", START, (("ClientPlatform", "web"),), value=float(i)
    )


def histogram(seed: int) -> MetricDatum:
    rng = random.Random(seed)
    values = tuple(sorted(rng.uniform(0.1, 30.0) for _ in range(150)))
    counts = tuple(float(rng.randint(1, 10_000)) for _ in range(150))
    return MetricDatum(
        "IVS/QoS",
        "StartupTime",
        "Seconds",
        START,
        (("ClientPlatform", "android"), ("Channel", "x" * 100)),
        values=values,
        counts=counts,
    )


def test_2500_datums_make_three_calls_of_at_most_1000() -> None:
    items = [(i, single(i)) for i in range(2500)]
    calls = plan_calls(items)
    assert [len(c.items) for c in calls] == [1000, 1000, 500]
    assert [tag for c in calls for tag in c.tags] == list(range(2500))
    assert all(c.namespace == "IVS/QoS" for c in calls)


def test_big_distributions_are_split_by_bytes_and_each_request_fits_1_mb() -> None:
    items = [(i, histogram(i)) for i in range(300)]
    calls = plan_calls(items)

    real = [query_body_size(c) for c in calls]
    assert all(size <= MAX_REQUEST_BYTES for size in real), real
    # Well under 1,000 datums per call: bytes were the limit. Not needlessly small either.
    assert all(len(c.items) < 1000 for c in calls)
    assert all(size >= 0.6 * MAX_REQUEST_BYTES for size in real[:-1]), real
    total = sum(query_body_size(PutMetricDataCall("IVS/QoS", (item,))) for item in items)
    assert len(calls) >= math.ceil(total / MAX_REQUEST_BYTES)
    assert [tag for c in calls for tag in c.tags] == list(range(300))


def statistic_set() -> MetricDatum:
    stats = StatisticSet(sample_count=123456.789, sum=-9.87654321e42, minimum=-0.1, maximum=1e-3)
    return MetricDatum("IVS/QoS", "RebufferingRatio", "Percent", START, statistics=stats)


@pytest.mark.parametrize("datum", [single(123456789), histogram(1), histogram(2), statistic_set()])
def test_estimate_bounds_the_real_encoding(datum: MetricDatum) -> None:
    call: PutMetricDataCall[int] = PutMetricDataCall(datum.namespace, ((0, datum),))
    assert query_body_size(call) <= envelope_size(datum.namespace) + encoded_size(datum)


def test_namespaces_never_share_a_call() -> None:
    items = [
        (0, single(0, "IVS/QoS")),
        (1, single(1, "old-QoS/PlayerSummary")),
        (2, single(2, "IVS/QoS")),
        (3, single(3, "old-QoS/PlayerSummary")),
    ]
    calls = plan_calls(items)
    assert [(c.namespace, c.tags) for c in calls] == [
        ("IVS/QoS", (0, 2)),
        ("old-QoS/PlayerSummary", (1, 3)),
    ]


def test_request_is_what_boto3_takes() -> None:
    call = plan_calls([(0, single(5))])[0]
    request = call.request()
    assert request["Namespace"] == "IVS/QoS"
    assert request["MetricData"] == [single(5).to_api()]
    # botocore validates it against the service model without complaint.
    from botocore.validate import validate_parameters

    validate_parameters(request, _OPERATION.input_shape)


def test_no_datums_no_calls() -> None:
    assert plan_calls([]) == []
