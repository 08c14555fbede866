"""A real local OpenSearch node, without Docker, for integration tests, benchmarks and `qos up`.

Dev tooling, not runtime code of the search indexer (never in its Lambda bundle): Java 17 and
Maven assemble OpenSearch 2.19 from Maven Central once, then a JVM runs it on 127.0.0.1.

    classpath = prepare()                 # Maven once; instant afterwards
    with start(Path("/tmp/os-data")) as node:
        print(node.url)                   # http://127.0.0.1:<free port>

CLI: ``python -m qos_search_node prepare`` warms the cache (CI does this);
``python -m qos_search_node run --data-dir D [--port P]`` runs a node in the foreground.
"""

from __future__ import annotations

from qos_search_node.launcher import (
    HOST,
    START_TIMEOUT,
    Classpath,
    NodeUnavailable,
    RunningNode,
    available,
    default_cache_dir,
    free_port,
    log_tail,
    prepare,
    start,
)

#: The module that `python -m` runs as a node process (`qos up` starts it so).
MODULE = __name__

__all__ = [
    "HOST",
    "MODULE",
    "START_TIMEOUT",
    "Classpath",
    "NodeUnavailable",
    "RunningNode",
    "available",
    "default_cache_dir",
    "free_port",
    "log_tail",
    "prepare",
    "start",
]
