"""moto's server with one request at a time: `python serial_moto.py HOST PORT`.

moto's Kinesis is not safe for concurrent writers: a shard numbers a record one past its largest
sequence number, unlocked, so two PutRecords on one shard at once can give two records the same
number, and the second replaces the first. The Flink Kinesis sink keeps many PutRecords in
flight, and so lost about one row in a thousand to it (and 16,176 of 160,000 records from 16
concurrent writers in a test of moto 5 alone). AWS numbers every record. This server is moto's
own (its dispatcher and request handler, threaded for its keep-alive connections) with every
request's handling under one lock; the twin's harness only, never the product."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serialized(app: WsgiApp) -> WsgiApp:
    """`app` with one request at a time, its body read to the end under the lock."""
    lock = threading.Lock()

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            return list(app(environ, start_response))

    return handle


def main(host: str, port: int) -> None:
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, serialized(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
