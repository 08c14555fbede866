"""What the stack's end-to-end, dashboard and browser tests share: `qos up` as a subprocess,
Debian's Chromium under playwright, a JSON GET, a data directory seeded for the dashboard, and the
end-to-end tests' comparisons of the stack's stores (realtime, lake, search) with the oracle."""

from __future__ import annotations

import http.client
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import pytest

import qos_search_node as search_node
from qos_infra.dashboard.app import LAKE_PANELS
from qos_infra.dashboard.sample import Seeded, generate, seed
from qos_infra.dashboard.screenshot import CHROMIUM_ARGS
from qos_infra.dashboard.server import DashboardHTTPServer, serving
from qos_realtime.api import SEALED_UNTIL, MetricReader
from qos_search_indexer.api import (
    INDEX_PATTERN,
    VIEWS_INDEX_PATTERN,
    catalogue_panels,
    read_rows,
    search_body,
)
from qos_shared.catalogue import BY_NAME, CATALOGUE
from qos_shared.eventlog import EventLog
from qos_shared.testing.oracle import ORACLE, Record, percentile
from qos_shared.testing.views_oracle import views

# The dashboard tests' realtime windows and allowed lateness.
WINDOW_S = 10
LATENESS_S = 2.0
WINDOW_MS = WINDOW_S * 1000


def chromium_path(needed_by: str) -> str:
    candidates = [os.environ.get("QOS_CHROMIUM", ""), "/usr/bin/chromium"]
    found = next((c for c in candidates if c and Path(c).is_file()), None) or shutil.which(
        "chromium"
    )
    if found is None:
        pytest.fail(
            f"Chromium is missing: {needed_by} needs Debian's chromium "
            "(`apt-get install -y chromium`, as root) or QOS_CHROMIUM=/path/to/chromium",
            pytrace=False,
        )
    return found


@contextmanager
def chromium(needed_by: str) -> Iterator[Any]:
    """Headless Debian Chromium driven by playwright (`executable_path`: no browser download)."""
    executable = chromium_path(needed_by)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "playwright is missing: install infra's test extra (pip install -e 'infra[test]')",
            pytrace=False,
        )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def keep_screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot under the test's directory, also copied to `QOS_SCREENSHOT_OUT`
    (a directory, or a .png path) when that is set."""
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    out = os.environ.get("QOS_SCREENSHOT_OUT")
    if out:
        target = Path(out)
        if target.suffix != ".png":
            target.mkdir(parents=True, exist_ok=True)
            target = target / name
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
    return shot


@dataclass
class Stack:
    """`qos up` as a subprocess; every output line is read as it comes (so the stack never
    blocks on a full pipe) and kept with the monotonic time it was read."""

    process: subprocess.Popen[str]
    lines: list[tuple[float, str]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.changed:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, pattern: str, timeout_s: float) -> tuple[float, str]:
        """The first line matching `pattern` and when it was read."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        with self.changed:
            while True:
                for at, line in self.lines[seen:]:
                    if re.search(pattern, line):
                        return at, line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise AssertionError(
                        f"`qos up` printed no line matching {pattern!r}"
                        f" (exit code {self.process.poll()}); its output:\n" + self.output()
                    )
                self.changed.wait(min(left, 0.5))

    def url(self, component: str) -> str:
        _, line = self.wait_for(rf"^\s+{component}\s+http://", 10)
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, line
        return found.group(0)

    def output(self) -> str:
        with self.changed:
            return "\n".join(line for _, line in self.lines[-200:])

    def stop(self) -> None:
        """Ctrl-C, as a developer stops it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("`qos up` did not stop within 60 s of Ctrl-C") from None


def processes_using(path: Path) -> list[str]:
    """Command lines of the processes that name `path` (the stack's components all do)."""
    found: list[str] = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def get_json(base: str, path: str, **params: Any) -> Any:
    """GET base+path?params (None values left out); asserts a 200 and returns the JSON."""
    parts = urlsplit(base)
    query = urlencode({k: v for k, v in params.items() if v is not None})
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        conn.request("GET", path + (f"?{query}" if query else ""))
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 200, (path, params, response.status, body[:500])
    return orjson.loads(body)


def start_qos(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`qos <argv>` as a subprocess: stdout and stderr in one text pipe, no stdin; `env` is added
    to this process's environment. `up` gets `--player-port 0` unless it names a port: a busy
    8790 (another stack on this machine) is an error, never silently another port."""
    if argv[:1] == ["up"] and "--player-port" not in argv:
        argv = [*argv, "--player-port", "0"]
    return subprocess.Popen(
        [sys.executable, "-m", "qos_infra.cli", *argv],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def with_closed_views(records: list[dict[str, Any]], until_ms: int) -> list[dict[str, Any]]:
    """The records and the records of their views (the oracle's) that close before `until_ms`:
    what a window ending there counts, in any engine whose watermark has passed its end."""
    return [*records, *(v for v in views(records) if v["event_time"] < until_ms)]


def dashboard_fixtures(
    name: str, *, seed_number: int, sessions: int, span_s: int
) -> tuple[Any, Any]:
    """The module-scoped fixtures `seeded` (a data directory filled by the real code from
    generated sessions that end now: most records in the lake, the newest in the log's tail,
    all in the metric store in `WINDOW_S` windows, the newest still open) and `server` (the
    dashboard over it). Assign them at a test module's top level: `seeded, server = ...`."""

    @pytest.fixture(scope="module")
    def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
        data_dir = tmp_path_factory.mktemp(name)
        now_ms = int(time.time() * 1000)
        records = generate(
            now_ms, seed=seed_number, sessions=sessions, span_s=span_s, summary_every_s=10
        )
        return data_dir, seed(
            data_dir, records, window_s=WINDOW_S, allowed_lateness_s=LATENESS_S, lake_share=0.85
        )

    @pytest.fixture(scope="module")
    def server(seeded: tuple[Path, Seeded]) -> Iterator[DashboardHTTPServer]:
        with serving(seeded[0]) as running:
            yield running

    return seeded, server


# -- a stack's stores against the oracle (the end-to-end tests') -------------------------------

# Every value, percentiles included, equals the oracle's to float rounding (see test_demo_e2e).
REL = 1e-9
# /api/realtime's splits and the truth's dimensions.
SPLITS = {"all": "all", "platform": "client_platform", "channel": "channel_watched"}
# The lake queries compared: the dashboard's panels, and the KPI table by platform and channel.
LAKE_QUERIES = (*LAKE_PANELS, "kpis-by-platform", "kpis-by-channel")
# The values each percentile KPI ranks (to bound OpenSearch's t-digest estimate).
PERCENTILE_VALUES: dict[str, Callable[[list[Record]], list[float]]] = {
    "startup_time": lambda rs: [r["startup_latency_ms"] for r in rs if r["metric_type"] == "PLAY"],
    "live_latency": lambda rs: [
        r["live_latency_ms"]
        for r in rs
        if r["metric_type"] == "PLAYBACK_SUMMARY"
        and r["is_live"]
        and r.get("live_latency_ms") is not None
    ],
}


def close(got: Any, expected: Any) -> bool:
    if got is None or expected is None:
        return got is None and expected is None
    return math.isclose(got, expected, rel_tol=REL, abs_tol=REL)


def search_wanted() -> bool:
    """Whether a search node can run here (CI must have one)."""
    reason = search_node.available()
    if os.environ.get("CI"):
        assert reason is None, f"CI must run the end-to-end test with search: {reason}"
    return reason is None


def post_json(base: str, path: str, body: Any) -> Any:
    """POST JSON to base+path; asserts a 200 and returns the JSON reply."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        conn.request(
            "POST", path, body=orjson.dumps(body), headers={"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    assert response.status == 200, (path, response.status, data[:500])
    return orjson.loads(data)


def wait_caught_up(data_dir: Path, events: int, consumers: list[str], deadline: float) -> None:
    """Until the log holds `events` records and every consumer's checkpoint is at its end (the
    realtime engine's checkpoint never passes a record of a window still open). Positions are
    not counts: a record appended again (a retry) is skipped, and may leave a gap in them."""
    state: tuple[int, int, dict[str, int]] = (0, 0, {})
    with EventLog(data_dir / "events.sqlite") as log:
        while time.monotonic() < deadline:
            state = (log.count(), log.last_position(), log.consumers())
            count, last, positions = state
            if count == events and all(positions.get(c) == last for c in consumers):
                return
            time.sleep(0.5)
    raise AssertionError(f"the log's consumers did not catch up: {state}, expected {events}")


def wait_views_consumed(data_dir: Path, consumers: list[str], deadline: float) -> int:
    """Until each consumer's checkpoint in the views log is at its end; returns the views."""
    state: tuple[int, dict[str, int]] = (0, {})
    with EventLog(data_dir / "views.sqlite") as log:
        while time.monotonic() < deadline:
            state = (log.last_position(), log.consumers())
            last, positions = state
            if last > 0 and all(positions.get(c) == last for c in consumers):
                return len(log.read(after=0, limit=1_000_000))
            time.sleep(0.5)
    raise AssertionError(f"the views log was not consumed by {consumers}: {state}")


def wait_every_store(
    data_dir: Path,
    dashboard: str,
    search: str | None,
    *,
    events: int,
    last_position: int,
    last_window: int,
    window_ms: int,
    deadline: float,
) -> int:
    """Until every store holds all `events` records of the log (whose last position is
    `last_position`): each consumer caught up, the lake committed through the end, the realtime
    window `last_window` (where the last views count) final and sealed, its views consumed from
    the views log, and the search indices (when `search` runs) holding every record and view.
    Returns the views."""
    consumers = ["realtime", "lake", *(["search-indexer"] if search is not None else [])]
    wait_caught_up(data_dir, events, consumers, deadline)
    while get_json(dashboard, "/api/health")["lake"]["committed_through"] < last_position:
        assert time.monotonic() < deadline, "the lake committed too little"
        time.sleep(0.5)
    reader = MetricReader(data_dir / "metrics.sqlite")
    try:
        while not (
            reader.is_final(last_window) and reader.state(SEALED_UNTIL) >= last_window + window_ms
        ):
            assert time.monotonic() < deadline, "the realtime engine closed too little"
            time.sleep(0.5)
    finally:
        reader.close()
    views = wait_views_consumed(data_dir, consumers[1:], deadline)
    if search is not None:
        post_json(search, f"/{INDEX_PATTERN}/_refresh", {})
        assert get_json(search, f"/{INDEX_PATTERN}/_count")["count"] == events
        post_json(search, f"/{VIEWS_INDEX_PATTERN}/_refresh", {})
        assert get_json(search, f"/{VIEWS_INDEX_PATTERN}/_count")["count"] == views > 0
    return views


def check_realtime_windows(dashboard: str, windows: list[dict[str, Any]], window_ms: int) -> int:
    """/api/realtime, every catalogue KPI, every window of the truth (`compute_truth`'s
    windows), as the aggregate and split by platform and by channel: the truth's values, every
    point final. Returns how many values were compared."""
    first, end = windows[0]["window_start"], windows[-1]["window_end"]
    compared = 0
    for metric in CATALOGUE:
        for by, dimension in SPLITS.items():
            expected: dict[tuple[str, str], dict[int, Any]] = defaultdict(dict)
            for window in windows:
                for value, kpis in window["groups"][dimension].items():
                    if dimension == "client_platform" and not value:
                        continue  # the IVS stream records' group: the API lists no "" platform
                    if metric.kind == "share":
                        for split, share in kpis[metric.name].items():
                            expected[(value, split)][window["window_start"]] = share
                    else:
                        expected[(value, "")][window["window_start"]] = kpis[metric.name]
            reply = get_json(
                dashboard, "/api/realtime", metric=metric.name, by=by, **{"from": first}, to=end
            )
            assert reply["window_ms"] == window_ms
            got = {
                (s["value"], s["split"]): {p["window_start"]: p["value"] for p in s["points"]}
                for s in reply["series"]
                if s["points"]
            }
            assert all(p["final"] for s in reply["series"] for p in s["points"])
            assert got.keys() == expected.keys(), (metric.name, by)
            for key, points in expected.items():
                assert got[key].keys() == points.keys(), (metric.name, by, key)
                for start, value in points.items():
                    assert close(got[key][start], value), (metric.name, key, start, value)
                    compared += 1
    return compared


def utc_day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def check_lake_queries(
    dashboard: str, records: list[Record], view_timeout_s: int, whole_run: dict[str, Any]
) -> None:
    """/api/lake/<query> of the dashboard's lake panels (and the KPI table by platform and by
    channel), over the records' UTC days: each row's metric columns are the oracle's over the
    records (and their views' records, at their close times) of that group, rows in the query's
    order. When the records are in one day, that day's KPIs are `whole_run` (the truth's KPIs of
    everything)."""
    days = sorted({utc_day(r["event_time"]) for r in records})
    # The records and their views' records (at their close times), as the lake holds them.
    everything = [*records, *views(records, timeout_ms=view_timeout_s * 1000)]
    for query in LAKE_QUERIES:
        reply = get_json(dashboard, f"/api/lake/{query}", **{"from": days[0]}, to=days[-1])
        groups = reply["group_columns"]
        expected: dict[tuple[Any, ...], list[Record]] = defaultdict(list)
        for r in everything:
            key = tuple(utc_day(r["event_time"]) if g == "day" else r.get(g) for g in groups)
            expected[key].append(r)
        rows = {
            tuple(str(row[g])[:10] if g == "day" else row[g] for g in groups): row
            for row in reply["rows"]
        }
        assert len(rows) == len(reply["rows"]) and rows.keys() == expected.keys(), query
        for key, row in rows.items():
            for column, metric in reply["metric_columns"].items():
                value = ORACLE[metric](expected[key])
                assert close(row[column], value), (query, key, column, row[column], value)
        if query in ("popular-channels", "popular-platforms"):
            ranked = [(-(r["viewer_minutes"] or 0), -(r["sessions"] or 0)) for r in reply["rows"]]
            assert ranked == sorted(ranked), f"{query}: most watched first"
    if len(days) == 1:
        (row,) = get_json(dashboard, "/api/lake/kpis", **{"from": days[0]}, to=days[0])["rows"]
        for column, metric in BY_NAME.items():
            if metric.kind != "share":
                assert close(row[column], whole_run[column]), column


def check_search_panels(
    search: str,
    windows: list[dict[str, Any]],
    records: list[Record],
    window_s: int,
    platforms: tuple[str | None, ...] = (None, "android"),
) -> dict[str, int]:
    """Every catalogue KPI's OpenSearch panel (standard and Vega; the rendition pie aside) over
    the truth's windows in `window_s` buckets, for everyone (None) and filtered to each platform:
    the truth's values (a percentile within one rank of the exact one, t-digest). Returns the
    buckets with a value compared, by kind of panel."""
    window_ms = window_s * 1000
    start, end = windows[0]["window_start"], windows[-1]["window_end"] - 1
    by_window: dict[int, list[Record]] = defaultdict(list)
    for r in records:
        by_window[r["event_time"] // window_ms * window_ms].append(r)
    checked: dict[str, int] = defaultdict(int)
    for platform in platforms:
        dimension, value = ("all", "") if platform is None else ("client_platform", platform)
        dashboard_filters = (
            [] if platform is None else [{"match_phrase": {"client_platform": platform}}]
        )
        for panel in catalogue_panels():
            if panel.kind == "pie":
                continue
            assert panel.metric is not None
            metric = BY_NAME[panel.metric]
            body = search_body(
                panel,
                start_ms=start,
                end_ms=end,
                interval=f"{window_s}s",
                dashboard_filters=dashboard_filters,
            )
            # The panel's own indices: the events', or the views' for a KPI over views.
            response = post_json(search, f"/{panel.index_pattern}/_search", body)
            rows = {key[0]: values[0] for key, values in read_rows(panel, response)}
            for window in windows:
                ws = window["window_start"]
                expected = window["groups"][dimension].get(value, {}).get(metric.name)
                got = rows.get(ws)
                if ws not in rows or expected is None:
                    # No bucket (no record of the panel's filter) or no value: the metric is
                    # empty there: 0 for counts and sums, no data for the rest.
                    assert got in (None, 0) and expected in (None, 0), (panel.id, ws, got)
                    continue
                if metric.kind == "percentile":
                    assert metric.quantile is not None
                    family = metric.name.rsplit("_p", 1)[0]
                    scope = [
                        r
                        for r in by_window[ws]
                        if platform is None or r.get("client_platform") == platform
                    ]
                    ordered = sorted(PERCENTILE_VALUES[family](scope))
                    assert percentile(ordered, metric.quantile) == pytest.approx(
                        expected / metric.scale
                    )
                    h = (len(ordered) - 1) * metric.quantile
                    low = ordered[max(math.floor(h) - 1, 0)] * metric.scale
                    high = ordered[min(math.ceil(h) + 1, len(ordered) - 1)] * metric.scale
                    assert got is not None and low - 1e-9 <= got <= high + 1e-9, (panel.id, ws, got)
                else:
                    assert close(got, expected), (panel.id, platform, ws, got, expected)
                checked["percentile" if metric.kind == "percentile" else panel.kind] += 1
    return dict(checked)
