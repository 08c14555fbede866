"""`qos-lake queries` and `qos-lake query`: the outputs, and one-line errors on bad input."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
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
        (["kpis", "--from", "2026-11-01", "--to", "2026-11-01", "--limit", "3"], "--limit"),
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


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ((None, None), ("2026-12-01", "2026-12-07")),
        (("2026-11-03", None), ("2026-11-03", "2026-11-09")),
        ((None, "2026-11-03"), ("2026-10-28", "2026-11-03")),
        (("2026-11-03", "2026-11-04"), ("2026-11-03", "2026-11-04")),
    ],
)
def test_the_days_default_to_seven(
    given: tuple[str | None, str | None], expected: tuple[str, str]
) -> None:
    def day(text: str | None) -> date | None:
        return None if text is None else date.fromisoformat(text)

    got = cli.default_days(day(given[0]), day(given[1]), date(2026, 12, 7))
    assert got == (date.fromisoformat(expected[0]), date.fromisoformat(expected[1]))


def test_without_dates_a_query_answers_the_last_seven_days(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Today's data (a fresh demo's) answers `qos lake query popular-channels` as written."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    log = EventLog(tmp_path / "events.sqlite", synchronous="NORMAL")
    append(log, [summary(now_ms - 60_000)])
    write_lake([], tmp_path / "lake", tmp_path / "events.sqlite")
    assert cli.main([*query(tmp_path / "lake", "popular-platforms"), "--format", "json"]) == 0
    captured = capsys.readouterr()
    [row] = json.loads(captured.out)
    assert row["client_platform"] == "web"
    today = datetime.now(UTC).date()
    said = f"popular-platforms from {today - timedelta(days=6)} to {today} (UTC)"
    assert said in captured.err


def test_the_prog_name_is_the_caller_s(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(query(lake, "nope"), prog="qos lake") == 2
    assert one_line_error(capsys).startswith("qos lake: ")
    with pytest.raises(SystemExit):
        cli.main(["--help"], prog="qos lake")
    assert capsys.readouterr().out.startswith("usage: qos lake ")


def test_compaction_says_how_far_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path
    write_lake(generate(sessions=10), base / "lake", base / "events.sqlite")
    assert cli.main(["compact", "--lake-root", str(base / "lake")]) == 0
    captured = capsys.readouterr()
    progress = [line for line in captured.err.splitlines() if "compacting:" in line]
    assert progress, captured.err
    total = len(sorted((base / "lake").glob("*/dt=*/hour=*")))
    assert progress[-1].startswith(f"qos-lake: compacting: {total} of {total} partition(s)")
