"""Session fixtures: one real local OpenSearch node (no Docker) for the whole test session.

The node is built with Maven and run on Java by `qos_search_node`. Without Java or Maven
the fixture FAILS with the reason rather than skipping: CI requires these tests to run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import qos_search_node as node


@pytest.fixture(scope="session")
def opensearch_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[node.RunningNode]:
    """A started single-node OpenSearch, stopped at the end of the session whatever happens."""
    reason = node.available()
    if reason is not None:
        pytest.fail(f"no local OpenSearch node: {reason}", pytrace=False)
    try:
        classpath = node.prepare()
        running = node.start(tmp_path_factory.mktemp("opensearch"), classpath=classpath)
    except node.NodeUnavailable as error:
        pytest.fail(f"no local OpenSearch node: {error}", pytrace=False)
    with running:
        yield running


@pytest.fixture(scope="session")
def opensearch_url(opensearch_node: node.RunningNode) -> str:
    """The base URL of the session's node, e.g. http://127.0.0.1:41234."""
    return opensearch_node.url
