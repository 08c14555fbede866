"""The dashboard page in headless Chromium (Debian's), driven by playwright: tiles show the oracle's
values, charts one point per window, a session click shows its timeline, bad filter combinations
a clear message; a screenshot is saved under the test's directory (and in `QOS_SCREENSHOT_OUT`).

playwright only drives the browser: it never downloads one (`executable_path` is Debian's
chromium). A missing chromium fails the test with the command that installs it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from qos_up_support import (
    LATENESS_S,
    WINDOW_MS,
    WINDOW_S,
    chromium,
    dashboard_fixtures,
    keep_screenshot,
    with_closed_views,
)

from qos_infra.dashboard.app import TILES
from qos_infra.dashboard.sample import Seeded, generate, seed
from qos_infra.dashboard.screenshot import layout_problems
from qos_infra.dashboard.server import DashboardHTTPServer, serving
from qos_realtime.api import MetricStore, RealtimeConsumer, WindowConfig
from qos_shared.catalogue import CATALOGUE
from qos_shared.eventlog import EventLog, LogRecord
from qos_shared.testing.oracle import ORACLE, Record
from qos_shared.testing.views_oracle import views

TIMEOUT_MS = 30_000


seeded, server = dashboard_fixtures(
    "dashboard-browser-data", seed_number=3, sessions=60, span_s=300
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium("the dashboard's browser test") as launched:
        yield launched


# -- expected values ---------------------------------------------------------------------------


def by_window(records: list[Record], **where: str) -> dict[int, list[Record]]:
    grouped: dict[int, list[Record]] = defaultdict(list)
    for r in records:
        if all(r.get(k) == v for k, v in where.items()):
            grouped[int(r["event_time"]) // WINDOW_MS * WINDOW_MS].append(r)
    return dict(sorted(grouped.items()))


def newest_final_window(records: list[Record]) -> int:
    watermark = max(int(r["event_time"]) for r in records) - int(LATENESS_S * 1000)
    return max(w for w in by_window(records) if w + WINDOW_MS <= watermark)


def assert_tiles(page: Any, records: list[Record]) -> None:
    for name in TILES:
        tile = page.locator(f'[data-testid="tile-{name}"]')
        raw = tile.get_attribute("data-value")
        expected = ORACLE[name](records)
        if expected is None:
            assert raw == "", name
            assert tile.locator(".number").inner_text() == "—"
        else:
            assert raw is not None and float(raw) == pytest.approx(expected, rel=1e-12), name
        assert tile.get_attribute("data-final") == "true", name


def wait_ready(page: Any, filter_key: str = "") -> None:
    selector = f'[data-testid="tiles"][data-filter="{filter_key}"]'
    page.wait_for_selector(f'{selector}[data-state="ready"]', timeout=TIMEOUT_MS)
    for name in TILES:
        page.wait_for_selector(
            f'[data-testid="panel-{name}"][data-filter="{filter_key}"][data-state="ready"]',
            timeout=TIMEOUT_MS,
        )


def test_the_page_draws_a_tile_and_a_chart_for_every_metric_the_catalogue_tiles(
    server: DashboardHTTPServer, browser: Any
) -> None:
    tiled = sorted(
        (m for m in CATALOGUE if m.presentation.tile is not None),
        key=lambda m: m.presentation.tile or 0,
    )
    page = browser.new_page()
    try:
        page.goto(server.url + "/", timeout=TIMEOUT_MS)
        page.wait_for_selector(f'[data-testid="chart-{tiled[-1].name}"]', timeout=TIMEOUT_MS)
        drawn = page.eval_on_selector_all(
            "#tiles .tile", "tiles => tiles.map((t) => t.dataset.testid)"
        )
        assert drawn == [f"tile-{m.name}" for m in tiled]
        charts = page.eval_on_selector_all(
            "#charts .panel", "panels => panels.map((p) => p.dataset.testid)"
        )
        assert charts == [f"panel-{m.name}" for m in tiled]
        for metric in tiled:
            tile = page.locator(f'[data-testid="tile-{metric.name}"]')
            assert tile.locator(".title").inner_text() == metric.title
            assert tile.get_attribute("title") == metric.description
        lake = page.eval_on_selector_all(
            "#lake .panel", "panels => panels.map((p) => p.dataset.testid)"
        )
        layout = orjson.loads(page.request.get(server.url + "/api/layout").body())
        assert lake == [f"lake-{p['query']}" for p in layout["lake_panels"]]
    finally:
        page.close()


def test_dashboard_in_chromium(
    server: DashboardHTTPServer, seeded: tuple[Path, Seeded], browser: Any, tmp_path: Path
) -> None:
    data = seeded[1]
    records = data.records
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    problems: list[str] = []
    foreign: list[str] = []
    # The browser logs each 400 answer; the test asks for some on purpose (both filters).
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" and "status of 400" not in m.text else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(server.url) else foreign.append(r.url))
    try:
        started = time.monotonic()
        page.goto(server.url + "/", timeout=TIMEOUT_MS)
        wait_ready(page)
        for query in ("popular-channels", "popular-platforms", "startup-latency", "kpis"):
            page.wait_for_selector(
                f'[data-testid="lake-{query}"][data-state="ready"]', timeout=TIMEOUT_MS
            )
        page.wait_for_selector(
            '[data-testid="sessions-table"][data-state="ready"]', timeout=TIMEOUT_MS
        )
        assert time.monotonic() - started < WINDOW_S + 5, "panels must show within window + 5 s"

        # Tiles: the newest final window, exactly the oracle's numbers.
        window = newest_final_window(records)
        assert_tiles(page, by_window(with_closed_views(records, window + WINDOW_MS))[window])
        titles = page.locator('[data-testid="tile-startup_time_p95"] .title').inner_text()
        assert titles == "Video startup time p95"  # the catalogue's title

        # Charts: one point per window in the last hour, the open window included.
        windows = by_window(records)
        chart = page.locator('[data-testid="chart-concurrent_viewers"]')
        assert chart.get_attribute("data-points") == str(len(windows))
        plotted = chart.evaluate("el => el.data.map(t => t.y.length)")
        assert plotted == [len(windows)]
        ys = chart.evaluate("el => el.data[0].y")
        assert ys == [ORACLE["concurrent_viewers"](rs) for rs in windows.values()]

        # Lake: the popular-channels bars, one per channel in the lake.
        lake_channels = {r["channel_watched"] for r in data.lake_records}
        lake_panel = page.locator('[data-testid="lake-popular-channels"]')
        assert lake_panel.get_attribute("data-rows") == str(len(lake_channels))

        # Auto-refresh off from here, so the page changes only when the test acts.
        page.locator('[data-testid="auto-refresh"]').uncheck()

        # A platform filter: tiles of that platform's group.
        counts: dict[str, int] = defaultdict(int)
        for r in by_window(records)[window]:
            counts[r["client_platform"]] += 1
        platform = max(counts, key=lambda k: counts[k])
        page.select_option('[data-testid="filter-platform"]', platform)
        wait_ready(page, f"platform={platform}")
        counted = with_closed_views(records, window + WINDOW_MS)
        assert_tiles(page, by_window(counted, client_platform=platform)[window])

        # Platform and channel together: realtime panels say why they cannot, no crash.
        channel = records[-1]["channel_watched"]
        page.select_option('[data-testid="filter-channel"]', channel)
        key = f"platform={platform}&channel={channel}"
        page.wait_for_selector(
            f'[data-testid="tiles"][data-filter="{key}"][data-state="error"]', timeout=TIMEOUT_MS
        )
        error = page.locator('[data-testid="error"]')
        error.wait_for(state="visible", timeout=TIMEOUT_MS)
        assert "not both" in error.inner_text()
        stale = page.locator('[data-testid="tile-concurrent_viewers"]').get_attribute("data-value")
        assert stale == "", "a refused request must not leave the previous numbers on the tiles"
        panel = page.locator(
            f'[data-testid="panel-errors"][data-filter="{key}"][data-state="error"]'
        )
        panel.wait_for(timeout=TIMEOUT_MS)
        assert "not both" in panel.inner_text()
        page.select_option('[data-testid="filter-platform"]', "")
        page.select_option('[data-testid="filter-channel"]', "")
        wait_ready(page)
        assert error.is_hidden()

        # Session drill-down: a session whose events are partly in the lake, partly in the log.
        in_lake = {r["event_id"] for r in data.lake_records}
        sessions: dict[str, list[Record]] = defaultdict(list)
        for r in records:
            sessions[r["session_id"]].append(r)
        listed = page.locator('[data-testid="session-row"]').evaluate_all(
            "rows => rows.map(r => r.dataset.sessionId)"
        )
        split = [
            s for s in listed if {r["event_id"] in in_lake for r in sessions[s]} == {True, False}
        ]
        session_id = split[0] if split else listed[0]
        page.locator(f'[data-testid="session-row"][data-session-id="{session_id}"]').click()
        timeline = page.locator(
            f'[data-testid="timeline"][data-session-id="{session_id}"][data-state="ready"]'
        )
        timeline.wait_for(timeout=TIMEOUT_MS)
        assert timeline.get_attribute("data-events") == str(len(sessions[session_id]))
        shown = page.locator('[data-testid="timeline-event"]').evaluate_all(
            "rows => rows.map(r => r.dataset.eventId)"
        )
        expected = sorted(sessions[session_id], key=lambda r: (r["event_time"], r["event_id"]))
        assert shown == [r["event_id"] for r in expected]

        # View drill-down: the Views table (the engine's closed views, the oracle's), and a
        # view's timeline, its records only.
        page.wait_for_selector(
            '[data-testid="views-table"][data-state="ready"]', timeout=TIMEOUT_MS
        )
        want = {v["view_id"]: v for v in views(records)}
        view_ids = page.locator('[data-testid="view-row"]').evaluate_all(
            "rows => rows.map(r => r.dataset.viewId)"
        )
        assert view_ids and set(view_ids) <= set(want)
        scores = [want[v]["score"] for v in view_ids]
        scored = [x for x in scores if x is not None]
        assert scored == sorted(scored), "lowest experience score first"
        view = want[view_ids[0]]
        page.locator(f'[data-testid="view-row"][data-view-id="{view["view_id"]}"]').click()
        view_timeline = page.locator(
            f'[data-testid="timeline"][data-view-id="{view["view_id"]}"][data-state="ready"]'
        )
        view_timeline.wait_for(timeout=TIMEOUT_MS)
        assert view_timeline.get_attribute("data-events") == str(view["records"])

        shot = keep_screenshot(page, tmp_path, "dashboard.png")
        assert shot.stat().st_size > 10_000
        assert layout_problems(page) == []
        assert problems == [], problems
        assert foreign == [], f"the page loaded something from elsewhere: {foreign}"
    finally:
        page.close()


def test_realtime_panels_show_within_window_plus_5_s(browser: Any, tmp_path: Path) -> None:
    """From an empty stack: the page shows its empty state, then events arrive and the real
    engine runs; the tiles and charts show data within the window length + 5 s."""
    window_s = 10
    data_dir = tmp_path / "live"
    data_dir.mkdir()
    with serving(data_dir) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        stop = threading.Event()
        engine: threading.Thread | None = None
        try:
            page.goto(server.url + "/", timeout=TIMEOUT_MS)
            page.wait_for_selector('[data-testid="tiles"][data-state="empty"]', timeout=TIMEOUT_MS)
            assert "no window yet" in page.locator('[data-testid="tiles-window"]').inner_text()

            log = EventLog(data_dir / "events.sqlite")
            store = MetricStore(data_dir / "metrics.sqlite")
            consumer = RealtimeConsumer(
                log, store, WindowConfig(window_s=window_s, allowed_lateness_s=1.0)
            )
            engine = threading.Thread(target=consumer.run, args=(stop,))
            engine.start()
            records = generate(int(time.time() * 1000), seed=9, sessions=12, span_s=30)
            started = time.monotonic()
            log.append(
                [LogRecord(r["event_id"], r["session_id"], orjson.dumps(r)) for r in records]
            )
            page.wait_for_selector(
                '[data-testid="tiles"][data-state="ready"]', timeout=(window_s + 5) * 1000
            )
            page.wait_for_selector(
                '[data-testid="panel-concurrent_viewers"][data-state="ready"]',
                timeout=(window_s + 5) * 1000,
            )
            # The newest window may show 0 viewers for a moment (its first records are not
            # summaries yet): the tile must show viewers within the same bound.
            remaining_ms = max(1, int((window_s + 5 - (time.monotonic() - started)) * 1000))
            page.wait_for_function(
                """() => {
                    const tile = document.querySelector('[data-testid="tile-concurrent_viewers"]');
                    const value = tile && tile.getAttribute("data-value");
                    return value !== null && Number(value) > 0;
                }""",
                timeout=remaining_ms,
            )
            elapsed = time.monotonic() - started
            assert elapsed <= window_s + 5, f"panels showed data after {elapsed:.1f} s"
        finally:
            stop.set()
            if engine is not None:
                engine.join(10)
            page.close()


def long_names(records: list[Record]) -> list[Record]:
    """The records with a player's 32-character session ids and long channel names (the layout's
    hard case: the names a real catalogue has)."""
    sessions: dict[str, str] = {}
    out = []
    for r in records:
        sid = sessions.setdefault(
            r["session_id"], hashlib.md5(r["session_id"].encode()).hexdigest()
        )
        channel = (
            f"{r['channel_watched']}-live-channel-with-a-very-long-name-{len(r['channel_watched'])}"
        )
        out.append({**r, "session_id": sid, "channel_watched": channel})
    return out


@pytest.mark.parametrize("width", [1440, 1280, 1100])
def test_long_names_keep_the_layout(browser: Any, tmp_path: Path, width: int) -> None:
    """Long channel names and session ids: the lake charts' labels do not overlap (nor leave
    their chart), and the sessions table's outcome column is within the panel's visible width."""
    data_dir = tmp_path / "long-names"
    now_ms = int(time.time() * 1000)
    records = long_names(generate(now_ms, seed=4, sessions=40, span_s=240, summary_every_s=10))
    records += long_names(generate(now_ms, seed=6, sessions=30, span_s=200, summary_every_s=10))
    records.sort(key=lambda r: r["event_time"])
    seed(data_dir, records, window_s=WINDOW_S, allowed_lateness_s=LATENESS_S, lake_share=0.9)
    with serving(data_dir) as running:
        page = browser.new_page(viewport={"width": width, "height": 1000})
        try:
            page.goto(running.url + "/", timeout=TIMEOUT_MS)
            wait_ready(page)
            for query in ("popular-channels", "popular-platforms"):
                page.wait_for_selector(
                    f'[data-testid="lake-{query}"][data-state="ready"]', timeout=TIMEOUT_MS
                )
            page.wait_for_selector(
                '[data-testid="sessions-table"][data-state="ready"]', timeout=TIMEOUT_MS
            )
            keep_screenshot(page, tmp_path, f"long-names-{width}.png")
            assert layout_problems(page) == []
            channels = {r["channel_watched"] for r in records[: int(len(records) * 0.9)]}
            panel = page.locator('[data-testid="lake-popular-channels"]')
            assert panel.get_attribute("data-rows") == str(len(channels))
            labels = panel.locator("g.ytick text").evaluate_all("ts => ts.map(t => t.textContent)")
            assert len(labels) == len(channels), labels
        finally:
            page.close()


def test_a_long_timeline_comes_a_page_at_a_time(browser: Any, tmp_path: Path) -> None:
    """A session of 1,200 events: the timeline shows the first 500 and a button for the next
    page; following it shows every event once, in order, and the button goes away."""
    data_dir = tmp_path / "long-session"
    now_ms = int(time.time() * 1000)
    records = generate(now_ms, seed=8, sessions=6, span_s=120, summary_every_s=10)
    template = next(r for r in records if r["metric_type"] == "PLAYBACK_SUMMARY")
    long_id = "a-long-session"
    events = 1_200
    for i in range(events):
        t = now_ms - 60_000 + i * 40 - i % 3 * 40  # some events share a time
        records.append(
            {**template, "session_id": long_id, "event_id": f"long-{i:05d}", "event_time": t}
        )
    records.sort(key=lambda r: r["event_time"])
    seed(data_dir, records, window_s=WINDOW_S, allowed_lateness_s=LATENESS_S, lake_share=0.8)
    want = [
        r["event_id"]
        for r in sorted(
            (r for r in records if r["session_id"] == long_id),
            key=lambda r: (r["event_time"], r["event_id"]),
        )
    ]
    with serving(data_dir) as running:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        try:
            page.goto(running.url + "/", timeout=TIMEOUT_MS)
            page.wait_for_selector(
                '[data-testid="sessions-table"][data-state="ready"]', timeout=TIMEOUT_MS
            )
            page.locator('[data-testid="auto-refresh"]').uncheck()
            page.locator(f'[data-testid="session-row"][data-session-id="{long_id}"]').click()
            timeline = f'[data-testid="timeline"][data-session-id="{long_id}"]'
            more = page.locator('[data-testid="timeline-more"]')
            for shown in (500, 1000, 1200):
                page.wait_for_selector(
                    f'{timeline}[data-state="ready"][data-events="{shown}"]', timeout=TIMEOUT_MS
                )
                assert page.locator(timeline).get_attribute("data-total") == str(events)
                rows = page.locator('[data-testid="timeline-event"]').count()
                assert rows == shown
                if shown < events:
                    assert more.is_visible()
                    more.click()
            assert more.is_hidden()
            ids = page.locator('[data-testid="timeline-event"]').evaluate_all(
                "rows => rows.map(r => r.dataset.eventId)"
            )
            assert ids == want
            assert f"{events} events" in page.locator("#timeline-title").inner_text()
        finally:
            page.close()
