"""A real Trino (the engine of Athena v3) on this machine, without Docker, for the lake's tests.

Dev tooling, not runtime code of the lake: Java 25 and Maven assemble Trino 483 from Maven Central
once, then a JVM runs one coordinator on 127.0.0.1 with the Hive connector over local files.

    classpath = prepare()                    # Maven once; instant afterwards
    with start(Path("/tmp/trino")) as trino:
        client = TrinoClient(trino.url)      # catalog hive, schema default, time zone UTC
        client.execute("SHOW SCHEMAS")

CLI: ``python -m qos_lake_trino prepare`` warms the cache;
``python -m qos_lake_trino run --data-dir D [--port P]`` runs a coordinator in the foreground.
"""

from __future__ import annotations

from qos_lake_trino.client import TrinoClient, TrinoQueryError, TrinoResult, literal
from qos_lake_trino.launcher import (
    CATALOG,
    HOST,
    MIN_JAVA,
    START_TIMEOUT,
    Classpath,
    RunningTrino,
    TrinoUnavailable,
    available,
    default_cache_dir,
    find_java_home,
    log_tail,
    prepare,
    start,
)

__all__ = [
    "CATALOG",
    "HOST",
    "MIN_JAVA",
    "START_TIMEOUT",
    "Classpath",
    "RunningTrino",
    "TrinoClient",
    "TrinoQueryError",
    "TrinoResult",
    "TrinoUnavailable",
    "available",
    "default_cache_dir",
    "find_java_home",
    "literal",
    "log_tail",
    "prepare",
    "start",
]
