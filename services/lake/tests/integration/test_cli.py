"""The command lines: one-line errors and non-zero exits on bad input, a clean stop flushes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from qos_lake.entrypoints import cli, local_writer
from qos_shared.eventlog import EventLog
from qos_shared.testing.views_oracle import views

from ..lake import append, event_ids, summary, writer_argv


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_compact_missing_root_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["compact", "--lake-root", str(tmp_path / "nope")]) == 2
    assert "does not exist" in one_line_error(capsys)


@pytest.mark.parametrize("day", ["2026-13-01", "yesterday", "2026-2-01", "2026-02-30"])
def test_compact_bad_date_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], day: str
) -> None:
    assert cli.main(["compact", "--lake-root", str(tmp_path), "--dt", day]) == 2
    assert "not a date" in one_line_error(capsys)


@pytest.mark.parametrize("argv", [[], ["compact"], ["vacuum"]])
def test_bad_usage_is_a_one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    one_line_error(capsys)


def test_compact_of_an_empty_root_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["compact", "--lake-root", str(tmp_path), "--dt", "2026-11-01"]) == 0
    assert capsys.readouterr().out.startswith("compacted 0 of 0 partition(s)")


def test_writer_bad_setting_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--log-path", str(tmp_path / "e.sqlite"), "--lake-root", str(tmp_path / "lake")]
    assert local_writer.main([*argv, "--flush-records", "0"]) == 2
    assert "flush_records" in one_line_error(capsys)


def test_sigterm_flushes_what_is_buffered(tmp_path: Path) -> None:
    log_path, root = tmp_path / "events.sqlite", tmp_path / "lake"
    with EventLog(log_path) as log:
        events = [summary() for _ in range(25)]
        append(log, events)
    # The realtime engine's views log beside it (the default path): its views, of these events.
    view_records = views(events)
    with EventLog(tmp_path / "views.sqlite") as views_log:
        append(views_log, view_records)
    process = subprocess.Popen(
        writer_argv(log_path, root, "--flush-seconds", "3600"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Each flush's line is a DEBUG one (the interval's summary is the INFO one).
        env={**os.environ, "QOS_LAKE_POLL_INTERVAL_S": "0.05", "QOS_LOG_LEVEL": "DEBUG"},
    )
    assert process.stdout is not None
    ready = process.stdout.readline()
    assert ready.startswith(f"qos-lake-writer consuming {log_path} into {root}"), ready
    time.sleep(0.5)  # the first poll reads them (the next flush would be in an hour)
    assert not list(root.glob("events/*/*/*.parquet"))
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    assert "flushed 25 records (1-25) into 1 file(s)" in out
    assert sorted(event_ids(root)) == sorted(e["event_id"] for e in events)
    assert f"flushed {len(view_records)} view records (1-{len(view_records)})" in out
    # The stop logs what the unfinished interval holds.
    assert "wrote 25 records (" in out and f"and {len(view_records)} views in 2 flushes" in out
    written = sorted(root.glob("views/dt=*/hour=*/*.parquet"))
    ids = [i for path in written for i in pq.read_table(path).column("event_id").to_pylist()]
    assert written and sorted(ids) == sorted(v["event_id"] for v in view_records)
