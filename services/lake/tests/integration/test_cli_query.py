"""`qos-lake queries` and `qos-lake query`: the outputs, and one-line errors on bad input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from qos_lake.domain.queries import QUERIES
from qos_lake.entrypoints import cli
from qos_shared.eventlog import EventLog

from ..golden import generate, write_lake
from ..lake import BASE_MS, append, summary
from .test_cli import one_line_error


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("cli")
    write_lake(generate(sessions=60), base / "lake", base / "events.sqlite")
    return base / "lake"


def query(lake: Path, *args: str) -> list[str]:
    return ["query", *args, "--lake-root", str(lake)]


def test_queries_lists_every_name_with_its_description(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["queries"]) == 0
    out = capsys.readouterr().out
    for name, q in QUERIES.items():
        assert f"{name}  " in out and q.description in out
    assert "--from" in out and "--country" in out


def test_json_output(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = query(lake, "startup-latency", "--from", "2026-11-01", "--to", "2026-11-03")
    assert cli.main([*argv, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["day"] for r in rows] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert all(0.3 <= r["startup_time_p50"] <= 6 for r in rows)


def test_csv_output(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = query(lake, "popular-channels", "--from", "2026-11-01", "--to", "2026-11-03")
    assert cli.main([*argv, "--format", "csv", "--platform", "web"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["channel_watched", "sessions", "viewer_minutes"]
    assert len(rows) > 1 and all(len(r) == 3 for r in rows)
    minutes = [float(r[2]) for r in rows[1:]]
    assert minutes == sorted(minutes, reverse=True)


def test_table_output(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = query(lake, "live-latency", "--from", "2026-11-02", "--to", "2026-11-02")
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["day", "live_latency_p50", "live_latency_p95"]
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 3 and lines[2].startswith("2026-11-02")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["popular-channel", "--from", "2026-11-01", "--to", "2026-11-02"], "did you mean"),
        (["kpis", "--from", "2026-11-31", "--to", "2026-12-01"], "--from: not a date"),
        (["kpis", "--from", "2026-11-01", "--to", "tomorrow"], "--to: not a date"),
        (["kpis", "--from", "2026-11-03", "--to", "2026-11-01"], "reversed"),
        (["kpis", "--from", "2026-11-01"], "--to"),
        (["kpis", "--from", "2026-11-01", "--to", "2026-11-02", "--format", "xml"], "format"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    lake: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert cli.main(query(lake, *args)) == 2
    assert message in one_line_error(capsys)


def test_no_data_in_the_range_is_a_one_line_error(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(query(lake, "kpis", "--from", "2027-01-01", "--to", "2027-01-31")) == 1
    assert "no data" in one_line_error(capsys)


def test_an_empty_lake_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["kpis", "--from", "2026-11-01", "--to", "2026-11-02"]
    assert cli.main(query(tmp_path, *argv)) == 1
    assert "holds no committed data" in one_line_error(capsys)
    assert cli.main(query(tmp_path / "nope", *argv)) == 2
    assert "does not exist" in one_line_error(capsys)


def test_a_lake_of_one_event_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = EventLog(tmp_path / "events.sqlite", synchronous="NORMAL")
    append(log, [summary(BASE_MS + 5)])
    write_lake([], tmp_path / "lake", tmp_path / "events.sqlite")
    argv = query(
        tmp_path / "lake", "popular-platforms", "--from", "2026-11-01", "--to", "2026-11-01"
    )
    assert cli.main([*argv, "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["client_platform"] == "web" and row["sessions"] == 1.0
