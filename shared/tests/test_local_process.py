"""The local processes: a stop signal's action; a consumer of the local event log (its settings from
the command line, its refusal to start, its run until a signal and its close); an HTTP server run
until a signal."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from qos_shared.eventlog import EventLogError
from qos_shared.local_process import (
    Consumer,
    consumer_parser,
    on_stop_signals,
    run_consumer,
    serve_until_stopped,
)


class _Settings(BaseModel):
    log_path: Path = Path("events.sqlite")
    batch: int = Field(default=10, ge=1)


@pytest.fixture(autouse=True)
def _restore_signal_handlers() -> Iterator[None]:
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


class _Resource:
    def __init__(self, name: str, closed: list[str]) -> None:
        self.name, self.closed = name, closed

    def close(self) -> None:
        self.closed.append(self.name)


def _parser() -> Any:
    parser = consumer_parser("qos-test", "`qos-test`: a consumer.\n\nMore.")
    parser.add_argument("--batch", type=int)
    return parser


def test_the_options_given_override_the_settings_and_a_signal_stops_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: list[_Settings] = []
    closed: list[str] = []

    def run(stop: threading.Event) -> None:
        signal.raise_signal(signal.SIGTERM)
        assert stop.wait(5)

    def start(given: dict[str, Any]) -> Consumer:
        seen.append(_Settings(**given))
        opened = (_Resource("writer", closed), _Resource("log", closed))
        return Consumer(describe="the log into nowhere", run=run, opened=opened)

    assert run_consumer(_parser(), ["--batch", "3"], start) == 0
    assert seen == [_Settings(batch=3)]
    assert closed == ["writer", "log"]
    assert capsys.readouterr().out == "qos-test consuming the log into nowhere\nqos-test stopped\n"


def test_the_parser_describes_the_process_by_its_docstring_first_line() -> None:
    assert _parser().description == "`qos-test`: a consumer."


def test_the_consumer_is_closed_when_its_run_fails() -> None:
    closed: list[str] = []

    def run(stop: threading.Event) -> None:
        raise RuntimeError("broken")

    def start(given: dict[str, Any]) -> Consumer:
        return Consumer(describe="x", run=run, opened=(_Resource("log", closed),))

    with pytest.raises(RuntimeError, match="broken"):
        run_consumer(_parser(), [], start)
    assert closed == ["log"]


class _Busy(RuntimeError):
    pass


@pytest.mark.parametrize(
    ("error", "start_errors"),
    [
        (None, ()),
        (EventLogError("not an\n event log"), ()),
        (OSError("no such\n file"), ()),
        (_Busy("held by\n another"), (_Busy,)),
    ],
)
def test_a_consumer_that_cannot_start_says_so_in_one_line(
    error: BaseException | None,
    start_errors: tuple[type[BaseException], ...],
    capsys: pytest.CaptureFixture[str],
) -> None:
    def start(given: dict[str, Any]) -> Consumer:
        _Settings(**given)
        assert error is not None
        raise error

    argv = ["--batch", "0"] if error is None else []
    assert run_consumer(_parser(), argv, start, start_errors) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("qos-test: cannot start: ")
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_both_stop_signals_call_the_action(signum: signal.Signals) -> None:
    calls: list[str] = []
    on_stop_signals(lambda: calls.append("stop"))
    signal.raise_signal(signum)
    assert calls == ["stop"]


def test_a_server_says_it_is_ready_serves_until_a_stop_signal_and_is_closed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    closed: list[bool] = []
    server_close = server.server_close

    def close() -> None:
        closed.append(True)
        server_close()

    server.server_close = close  # type: ignore[method-assign]
    timer = threading.Timer(0.3, signal.raise_signal, args=(signal.SIGTERM,))
    timer.start()
    try:
        serve_until_stopped(server, "ready")
    finally:
        timer.cancel()
    assert closed == [True]
    assert capsys.readouterr().out == "ready\n"
