"""Tests marked `trino` run the lake's named queries on a real Trino 483 (Athena engine v3).

They are opt-in: the coordinator needs Java 25 and Maven (the first build downloads Trino from
Maven Central), and a run takes a minute or more. `nox -s lake_trino` sets QOS_LAKE_TRINO=1,
which runs them and turns anything missing into an error; without it they skip with the reason.

One coordinator serves the whole session (`trino`), with its file metastore under pytest's
temporary folder; the server is stopped (its process group) at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from qos_lake_trino import RunningTrino, TrinoClient, available, prepare, start

REQUIRED = os.environ.get("QOS_LAKE_TRINO") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    trino_items = [item for item in items if item.get_closest_marker("trino")]
    if not trino_items:
        return
    if not REQUIRED:
        reason = "runs on a local Trino: `nox -s lake_trino` (or QOS_LAKE_TRINO=1)"
    else:
        missing = available()
        if missing is None:
            return
        raise pytest.UsageError(f"QOS_LAKE_TRINO=1 but {missing}")
    for item in trino_items:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def trino(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTrino]:
    classpath = prepare()
    with start(tmp_path_factory.mktemp("trino"), classpath=classpath) as server:
        yield server


@pytest.fixture(scope="session")
def client(trino: RunningTrino) -> TrinoClient:
    return TrinoClient(trino.url)


def lake_location(root: Path) -> str:
    """A local folder as the Hive connector's local file system names it (rooted at /)."""
    return f"local://{root.resolve().as_posix()}"
