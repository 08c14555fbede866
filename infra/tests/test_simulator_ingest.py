"""The simulator against the real local ingest: a backfill lands in the event log exactly once,
and the KPIs of the stored records (oracle.py) are the truth file's."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from qos_infra.simulator import (
    HttpSender,
    Reply,
    SimulationConfig,
    compute_truth,
    main,
    parse_incident,
    read_events,
    simulate,
    stored_record,
)
from qos_ingest.api import start_local_server
from qos_shared.eventlog import EventLog


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    log_path = tmp_path / "events.sqlite"
    process, url = start_local_server(
        log_path,
        host="127.0.0.1",
        # The simulator sets the viewer headers CloudFront would: it is the trusted edge here.
        env={"QOS_INGEST_SINK": "local", "QOS_INGEST_TRUSTED_PROXIES": "127.0.0.1"},
        stderr=(tmp_path / "ingest.log").open("w"),  # only the ready line is read from stdout
    )
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        yield url, log_path
    finally:
        process.terminate()
        process.wait(timeout=30)


def log_records(path: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    with EventLog(path) as log:
        position = 0
        while batch := log.read(after=position, limit=5000):
            records += [orjson.loads(entry.data) for entry in batch]
            position = batch[-1].position
    return records


def pseudonym(log_path: Path, user_id: str) -> str:
    """The user id as ingest stores it: HMAC-SHA256 with the key it made beside the log."""
    key = (log_path.parent / "pseudonym.key").read_bytes().strip()
    return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()[:32]


def same(a: Any, b: Any) -> bool:
    """Equal, floats to rounding (sums may add up in another order)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def test_a_backfill_is_stored_once_and_its_kpis_are_the_truth(
    ingest: tuple[str, Path], tmp_path: Path
) -> None:
    url, log_path = ingest
    now_ms = int(time.time() * 1000)
    config = SimulationConfig(
        start_ms=now_ms - 4 * 60_000,
        viewers=80,
        minutes=4,
        seed=21,
        incidents=(parse_incident("country=BR,start=1m,duration=2m,rebuffer=+8%"),),
    )
    truth_path = tmp_path / "run.truth.json"
    result = simulate(config, url, truth_path=truth_path)
    assert result.delivery is not None
    assert (result.delivery.rejected, result.delivery.failed) == (0, 0)
    assert result.complete

    truth = orjson.loads(truth_path.read_bytes())
    assert truth["delivery"]["accepted"] == truth["event_count"]
    sent = read_events(tmp_path / truth["events_file"])
    records = log_records(log_path)
    ids = [r["event_id"] for r in records]
    assert len(ids) == len(set(ids)) == truth["event_count"]  # each exactly once
    assert set(ids) == {e["event_id"] for e in sent}

    # Ingest derived the viewer's country, device and browser from the simulated headers, and
    # stored the user id pseudonymised with the key it made beside the log on first run.
    viewers = {pseudonym(log_path, v["user_id"]): v for v in truth["viewers"]}
    for record in records:
        viewer = viewers[record["user_id"]]
        assert record["viewer_country"] == viewer["country"]
        assert record["device_class"] == viewer["device_class"]
        assert record["browser_family"]
        assert record["event_time_source"] == "client"

    computed = compute_truth(
        records, window_s=truth["window_s"], top_n_channels=truth["top_n_channels"]
    )
    assert same(computed["run"], truth["kpis"])
    assert same(computed["windows"], truth["windows"])


def test_the_command_line_backfills_and_a_rerun_adds_no_duplicate(
    ingest: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, log_path = ingest
    start = str(int(time.time() * 1000) - 3 * 60_000)
    argv = ["--endpoint", url, "--viewers", "30", "--minutes", "2", "--seed", "8", "--start", start]
    argv += ["--truth", str(tmp_path / "t.truth.json"), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(r"accepted [\d,]+, rejected 0, failed 0, unsent 0", out)
    count = len(log_records(log_path))
    truth = orjson.loads((tmp_path / "t.truth.json").read_bytes())
    assert count == truth["event_count"]
    # The same seed and start again: the same event ids, which the log already holds.
    assert main(argv) == 0
    assert len(log_records(log_path)) == count


def test_a_fast_live_run_reaches_ingest(ingest: tuple[str, Path], tmp_path: Path) -> None:
    url, log_path = ingest
    config = SimulationConfig(
        start_ms=int(time.time() * 1000), viewers=20, minutes=1, seed=3, speed=30
    )
    started = time.monotonic()
    result = simulate(config, url)
    assert result.complete
    assert 1.5 <= time.monotonic() - started < 30  # 60 simulated seconds in about 2 s
    assert len(log_records(log_path)) == result.simulation.event_count


class TimedSender:
    """Sends over HTTP and keeps, per event, each attempt's sent_at and when its reply came."""

    def __init__(self, inner: HttpSender) -> None:
        self.inner = inner
        self.attempts: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.lock = threading.Lock()

    def send(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        reply = self.inner.send(body, headers)
        replied_ms = time.time() * 1000
        document = orjson.loads(body)
        with self.lock:
            for event in document["events"]:
                self.attempts[event["event_id"]].append((document.get("sent_at"), replied_ms))
        return reply


def test_skewed_clocks_are_stored_as_the_truth_says(
    ingest: tuple[str, Path], tmp_path: Path
) -> None:
    """Half the viewers' clocks are 10 minutes fast or slow. The truth holds what ingest stores
    when it receives a request the moment it was sent; the local server receives it a little
    later, so each stored event_time may be later than the truth's by that request's latency, and
    clock_offset_ms larger by as much. Exactly: stored = sent + received_at - sent_at. The KPIs of
    the whole run are the truth's; per window too, except a window that a record left or entered
    by being stamped within one request's latency of its boundary (none, nearly always)."""
    url, log_path = ingest
    now_ms = int(time.time() * 1000)
    skews = (600_000, -600_000)
    config = SimulationConfig(
        start_ms=now_ms - 4 * 60_000,
        viewers=60,
        minutes=4,
        seed=33,
        clock_skew_share=0.5,
        clock_skews_ms=skews,
    )
    sender = TimedSender(HttpSender(url))
    try:
        result = simulate(config, sender=sender, truth_path=tmp_path / "skew.truth.json")
    finally:
        sender.inner.close()
    assert result.complete
    truth = result.truth
    simulation = result.simulation
    expected = {e["event_id"]: stored_record(v, e) for v, e in simulation.event_pairs()}
    skew_of = {e["event_id"]: v.clock_skew_ms for v, e in simulation.event_pairs()}
    assert {k for k in skew_of.values() if k} == set(skews)

    records = log_records(log_path)
    assert sorted(r["event_id"] for r in records) == sorted(expected)
    window_ms = truth["window_s"] * 1000
    crossed: set[int] = set()
    corrected = 0
    for record in records:
        want = expected[record["event_id"]]
        skew = skew_of[record["event_id"]]
        late = record["event_time"] - want["event_time"]
        if not skew:
            assert late == 0 and record["event_time_source"] == "client"
            assert "clock_offset_ms" not in record
        else:
            corrected += 1
            assert record["event_time_source"] == "corrected"
            offset = record["clock_offset_ms"]
            sent_at = record["received_at"] - offset
            attempt = [a for a in sender.attempts[record["event_id"]] if a[0] == sent_at]
            assert attempt, "the stored offset is received_at - the sent_at of an attempt"
            (_, replied_ms), *_ = attempt
            # stored = as sent + (received_at - sent_at), and as sent = truth + skew
            assert record["event_time"] == want["event_time"] + skew + offset
            # the latency: from the moment of sending (sent_at - skew) to the reception
            assert 0 <= late == offset + skew <= replied_ms - (sent_at - skew) + 1
        rest = {k: v for k, v in record.items() if k not in ("event_time", "clock_offset_ms")}
        assert rest["user_id"] == pseudonym(log_path, want["user_id"])
        for key, value in want.items():
            if key not in ("event_time", "clock_offset_ms", "user_id"):
                assert rest[key] == value, key
        if record["event_time"] // window_ms != want["event_time"] // window_ms:
            crossed |= {record["event_time"] // window_ms, want["event_time"] // window_ms}
    assert corrected > len(records) // 4
    assert len(crossed) <= 4

    computed = compute_truth(
        records, window_s=truth["window_s"], top_n_channels=truth["top_n_channels"]
    )
    assert same(computed["run"], truth["kpis"])
    windows = {w["window_start"]: w for w in computed["windows"]}
    compared = 0
    for window in truth["windows"]:
        if window["window_start"] // window_ms in crossed:
            continue
        assert same(windows[window["window_start"]], window), window["window_start"]
        compared += 1
    assert len(truth["windows"]) >= 4
    assert compared >= len(truth["windows"]) - len(crossed)
