"""The one bootstrap: the local engine wired from its settings; the process refuses bad ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from qos_realtime.bootstrap import build_consumer
from qos_realtime.entrypoints import local_engine
from qos_realtime.settings import RealtimeSettings
from qos_shared.eventlog import EventLog, LogRecord

W_S = 10
T0 = 1_800_000_000_000 - 1_800_000_000_000 % (W_S * 1000)


def test_the_consumer_is_wired_from_every_local_setting(tmp_path: Path) -> None:
    settings = RealtimeSettings(
        log_path=tmp_path / "events.sqlite",
        store_path=tmp_path / "metrics.sqlite",
        window_s=W_S,
        allowed_lateness_s=2.5,
        top_n_channels=3,
        idle_after_s=7.0,
        flush_interval_s=0.5,
        poll_interval_s=0.3,
        batch_size=123,
    )
    consumer = build_consumer(settings)
    try:
        config, timing = consumer.config, consumer.timing
        assert (config.window_s, config.allowed_lateness_s, config.top_n_channels) == (W_S, 2.5, 3)
        assert (timing.batch_size, timing.idle_after_s) == (123, 7.0)
        assert (timing.flush_interval_s, timing.poll_interval_s) == (0.5, 0.3)
        assert (consumer.log.path, consumer.store.path) == (settings.log_path, settings.store_path)

        # Two sessions playing in the first window; two sessions' records 2.5 s past its end
        # close it (one session alone cannot move the watermark).
        def play(session: str, event_time: int) -> LogRecord:
            record = {
                "metric_type": "PLAY",
                "session_id": session,
                "event_id": session,
                "event_time": event_time,
                "channel_watched": "news",
            }
            return LogRecord(session, session, orjson.dumps(record))

        consumer.log.append(
            [
                play("a", T0 + 1000),
                play("b", T0 + 1000),
                play("c", T0 + W_S * 1000 + 2500),
                play("d", T0 + W_S * 1000 + 2500),
            ]
        )
        consumer.poll()
        assert consumer.store.windows(final_only=True) == [T0]
        (plays_row,) = consumer.store.series("plays", final_only=True)
        assert plays_row.value == 2
    finally:
        consumer.log.close()
        consumer.store.close()


def test_the_process_refuses_bad_settings_and_unopenable_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "events.sqlite"
    EventLog(log).close()
    store = tmp_path / "metrics.sqlite"
    assert (
        local_engine.main(["--log-path", str(log), "--store-path", str(store), "--window-s", "1"])
        == 2
    )
    assert "qos-realtime: cannot start:" in capsys.readouterr().err
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert (
        local_engine.main(["--log-path", str(log), "--store-path", str(blocked / "m.sqlite")]) == 2
    )
    assert "qos-realtime: cannot start:" in capsys.readouterr().err


def _import_without_duckdb(module: str) -> subprocess.CompletedProcess[str]:
    code = f"import sys; sys.modules['duckdb'] = None; import {module}"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_the_publisher_lambda_imports_without_duckdb() -> None:
    """The Lambda's bundle has no DuckDB, and its handler imports the bootstrap the local engine
    shares: that must not reach the window engine."""
    done = _import_without_duckdb("qos_realtime.entrypoints.publisher_lambda")
    assert done.returncode == 0, done.stderr
    # The guard bites: the engine itself does need DuckDB.
    assert (
        "import of duckdb halted"
        in _import_without_duckdb("qos_realtime.adapters.window_engine").stderr
    )
