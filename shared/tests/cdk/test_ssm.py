"""The SSM names of the cross-stack wiring: one scheme, every name once, the writer's stack."""

from __future__ import annotations

import pytest

from qos_shared_cdk import ssm


def test_names_follow_the_platform_scheme() -> None:
    assert ssm.INGEST_STREAM_ARN.name("dev") == "/qos/dev/ingest/stream-arn"
    assert ssm.SEARCH_DASHBOARDS_URL.name("qa-2") == "/qos/qa-2/search-indexer/dashboards-url"
    assert ssm.parameter_name("prod", "lake", "table") == "/qos/prod/lake/table"


def test_the_writer_is_the_owning_service_s_stack() -> None:
    assert ssm.INGEST_STREAM_ARN.writer("dev") == "qos-dev-ingest"
    assert ssm.REALTIME_ALARM_TOPIC_ARN.writer("ci") == "qos-ci-realtime"
    assert ssm.stack_name("dev", ssm.SEARCH_INDEXER) == "qos-dev-search-indexer"


def test_every_parameter_is_listed_once_and_owned_by_a_known_service() -> None:
    names = [p.name("dev") for p in ssm.PARAMETERS]
    assert len(names) == len(set(names)) == 27
    assert {p.service for p in ssm.PARAMETERS} == set(ssm.SERVICES)
    assert ssm.SERVICES[0] == ssm.INGEST


@pytest.mark.parametrize("name", ["dev", "qa-2", "a", "prod", "x" * 20])
def test_env_names_every_resource_accepts(name: str) -> None:
    ssm.check_env_name(name)


@pytest.mark.parametrize("name", ["Prod", "dev_1", "-dev", "dev-", "2dev", "", "x" * 21])
def test_env_names_some_resource_refuses(name: str) -> None:
    with pytest.raises(ValueError, match="env_name"):
        ssm.check_env_name(name)
