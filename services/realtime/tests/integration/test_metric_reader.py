"""The metric store's read side: `MetricReader` over a real SQLite file the store wrote.

Every expected answer is computed here from the rows the test writes (which windows exist, which
are final, which groups appear in a range), never read back from the code under test.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from qos_realtime.api import MetricReader, MetricRow, MetricStore, UnknownMetric
from qos_shared.catalogue import CATALOGUE

GROUP_METRICS = [m for m in CATALOGUE if m.kind != "share"]

W = 60_000
T0 = 1_800_000_000_000 - 1_800_000_000_000 % W
PLATFORMS = {0: ("web", "ios"), 1: ("web", ""), 2: ("android",)}  # "" is a null platform
CHANNELS = {0: ("sports", "news"), 1: ("news",), 2: ("news", "music")}
FINAL = {0: True, 1: True, 2: False}  # the newest window still open


def rows_of(window: int) -> list[MetricRow]:
    start = T0 + window * W

    def row(metric: str, dimension: str, value_of: str, value: float, split: str = "") -> MetricRow:
        return MetricRow(
            window_start=start,
            window_end=start + W,
            metric=metric,
            dimension=dimension,  # type: ignore[arg-type]
            dimension_value=value_of,
            value=value,
            split=split,
            final=FINAL[window],
        )

    # As an engine writes them: every group of a window has a row of every non-share metric.
    groups = [("all", ""), *(("client_platform", p) for p in PLATFORMS[window])]
    groups += [("channel_watched", c) for c in CHANNELS[window]]
    out = [
        row(m.name, dimension, value_of, float(i + window))
        for dimension, value_of in groups
        for i, m in enumerate(GROUP_METRICS)
    ]
    out += [
        row("rendition_share", "all", "", 25.0, split="480p"),
        row("rendition_share", "all", "", 75.0, split="1080p"),
    ]
    return out


ALL_ROWS = [r for w in FINAL for r in rows_of(w)]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    store = MetricStore(tmp_path / "metrics.sqlite")
    for window in FINAL:
        store.write(rows_of(window), finalised=[T0 + window * W] if FINAL[window] else [])
    store.close()
    return tmp_path / "metrics.sqlite"


@pytest.fixture
def reader(path: Path) -> MetricReader:
    return MetricReader(path)


def test_windows_newest_previous_and_final(reader: MetricReader) -> None:
    starts = [T0 + w * W for w in sorted(FINAL)]
    assert reader.present
    assert reader.windows() == starts
    assert reader.windows(final_only=True) == [T0 + w * W for w in sorted(FINAL) if FINAL[w]]
    assert reader.latest_window() == (starts[-1], starts[-1] + W)
    assert reader.previous_window(starts[-1]) == (starts[-2], starts[-2] + W)
    assert reader.previous_window(starts[0]) is None
    assert [reader.is_final(s) for s in starts] == [FINAL[w] for w in sorted(FINAL)]
    assert reader.is_final(T0 - W) is False  # no such window


def test_the_tile_window_is_the_newest_final_one_else_the_newest(
    reader: MetricReader, tmp_path: Path
) -> None:
    newest_final = max(w for w in FINAL if FINAL[w])
    start = T0 + newest_final * W
    assert reader.tile_window() == ((start, start + W), True)

    only_open = MetricStore(tmp_path / "open.sqlite")
    only_open.write([replace(r, final=False) for r in rows_of(0)])
    assert MetricReader(only_open.path).tile_window() == ((T0, T0 + W), False)
    only_open.close()


def test_groups_of_a_dimension_in_a_range_sorted_without_the_null_group(
    reader: MetricReader,
) -> None:
    def expected(groups: dict[int, tuple[str, ...]], windows: range) -> list[str]:
        return sorted({g for w in windows for g in groups[w] if g})

    assert reader.groups("client_platform") == expected(PLATFORMS, range(3))
    assert reader.groups("channel_watched") == expected(CHANNELS, range(3))
    assert reader.groups("channel_watched", T0 + W, T0 + 3 * W) == expected(CHANNELS, range(1, 3))
    assert reader.groups("client_platform", T0, T0 + 2 * W) == expected(PLATFORMS, range(2))
    assert reader.groups("client_platform", T0 + W) == expected(PLATFORMS, range(1, 3))
    assert reader.groups("client_platform", None, T0 + W) == expected(PLATFORMS, range(1))
    assert reader.groups("all") == []  # the "all" group has no value to list


def test_series_filters_by_group_split_range_and_finality(reader: MetricReader) -> None:
    def expected(**match: object) -> list[MetricRow]:
        found = [r for r in ALL_ROWS if all(getattr(r, k) == v for k, v in match.items())]
        return sorted(found, key=lambda r: (r.window_start, r.split))

    assert reader.series("plays") == expected(metric="plays", dimension="all")
    assert reader.series("plays", dimension="channel_watched", dimension_value="news") == expected(
        metric="plays", dimension="channel_watched", dimension_value="news"
    )
    shares = expected(metric="rendition_share", dimension="all")
    assert reader.series("rendition_share") == shares
    assert reader.series("rendition_share", split="480p") == [
        r for r in shares if r.split == "480p"
    ]
    in_range = [
        r
        for r in expected(metric="errors", dimension="all")
        if T0 + W <= r.window_start < T0 + 2 * W
    ]
    assert reader.series("errors", start_ms=T0 + W, end_ms=T0 + 2 * W) == in_range
    assert reader.series("errors", final_only=True) == [
        r for r in expected(metric="errors", dimension="all") if r.final
    ]
    assert reader.series("late_events") == []


def test_a_window_is_every_row_of_it_in_a_stable_order(reader: MetricReader) -> None:
    start = T0 + W
    mine = [r for r in ALL_ROWS if r.window_start == start]
    assert reader.window(start) == sorted(
        mine, key=lambda r: (r.metric, r.dimension, r.dimension_value, r.split)
    )
    assert reader.window(T0 + 10 * W) == []


def test_bad_arguments_are_explained(reader: MetricReader) -> None:
    with pytest.raises(UnknownMetric, match="unknown metric 'startup'"):
        reader.series("startup")
    with pytest.raises(ValueError, match="after end"):
        reader.series("plays", start_ms=2, end_ms=1)


def test_nothing_yet_until_the_engine_has_made_the_store(tmp_path: Path) -> None:
    path = tmp_path / "metrics.sqlite"
    reader = MetricReader(path)
    assert not reader.present
    assert (reader.latest_window(), reader.tile_window()) == (None, None)
    assert (reader.windows(), reader.groups("client_platform"), reader.window(T0)) == ([], [], [])
    assert reader.series("plays") == []

    sqlite3.connect(path).close()  # the file, not yet the table
    assert reader.present
    assert (reader.latest_window(), reader.series("plays"), reader.windows()) == (None, [], [])
    with sqlite3.connect(path) as db:  # the reader never writes, not even the schema
        assert db.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)

    store = MetricStore(path)
    store.write(rows_of(0), finalised=[T0])
    assert reader.latest_window() == (T0, T0 + W)
    assert reader.groups("client_platform") == sorted(PLATFORMS[0])
    store.write(rows_of(1), finalised=[T0 + W])  # later writes show at the next read
    assert reader.latest_window() == (T0 + W, T0 + 2 * W)
    reader.close()
    store.close()
