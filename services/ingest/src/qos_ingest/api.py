"""Ingest's public surface: the only module of `qos_ingest` that other packages import.

Two things are offered. In process, the domain function and its values (`ingest` on an
`IngestRequest` under an `IngestConfig`), for the simulator's checks and the benchmark. As a
process, the local server: the command that starts it, the line it prints once it listens, and a
way to start it and wait for that line (`qos up`, the benchmarks and the end-to-end tests). And
the Lambda handler behind API Gateway, for a harness that invokes it as API Gateway would
(`lambda_handler()`, imported on call: it needs Powertools).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from qos_ingest.domain import IngestConfig, IngestRequest, IngestResult, ingest

__all__ = [
    "LOCAL_SERVER_MODULE",
    "READY_PATTERN",
    "IngestConfig",
    "IngestRequest",
    "IngestResult",
    "ingest",
    "lambda_handler",
    "local_server_argv",
    "ready_url",
    "start_local_server",
]

LOCAL_SERVER_MODULE = "qos_ingest.entrypoints.local_server"
# What the local server prints once it accepts connections: "qos-ingest listening on URL ...".
READY_PATTERN = re.compile(r"listening on (?P<url>https?://\S+)")


def local_server_argv(
    log_path: Path, *, port: int = 0, host: str | None = None, python: str = sys.executable
) -> list[str]:
    """The command that runs the local server on `log_path` (port 0: a free one, printed)."""
    argv = [python, "-m", LOCAL_SERVER_MODULE]
    if host is not None:
        argv += ["--host", host]
    return [*argv, "--port", str(port), "--log-path", str(log_path)]


def ready_url(line: str) -> str:
    """The URL the local server's ready line names; ValueError for any other line."""
    match = READY_PATTERN.search(line)
    if match is None:
        raise ValueError(f"not the ingest server's ready line: {line!r}")
    return match["url"]


def start_local_server(
    log_path: Path,
    *,
    host: str | None = None,
    env: Mapping[str, str] | None = None,
    stderr: int | IO[Any] | None = None,
) -> tuple[subprocess.Popen[str], str]:
    """Start the local server on a free port and wait for its ready line: (process, its URL).

    `env` is added to this process's environment (e.g. `QOS_INGEST_LOG_SYNCHRONOUS`); stderr is
    this process's unless given. Only the ready line is read from stdout, so a caller that sends
    stderr there must not let the server log much. The caller terminates the process. Any other
    first line: the process is killed and ValueError raised.
    """
    process = subprocess.Popen(  # noqa: S603 - this interpreter, an argv built above
        local_server_argv(log_path, host=host),
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        return process, ready_url(line)
    except ValueError:
        process.kill()
        process.wait()
        raise


def lambda_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The API Gateway (REST, proxy) Lambda handler, configured from `QOS_INGEST_*` on its
    first invocation."""
    from qos_ingest.entrypoints.lambda_handler import handler

    return handler
