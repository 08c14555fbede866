"""The catalogue's presentation metadata: what one entry may say, and what the entries together
must agree on (tiles numbered once each, each original widget drawn by one metric)."""

from __future__ import annotations

import dataclasses

import pytest

from qos_shared import catalogue
from qos_shared.catalogue import (
    CATALOGUE,
    ORIGINAL_WIDGETS,
    SECTIONS,
    Presentation,
    alarm_thresholds,
    metric,
    original_widgets,
    tiles,
)


def test_every_metric_is_in_a_known_section() -> None:
    names = [s.name for s in SECTIONS]
    assert len(names) == len(set(names))
    for m in CATALOGUE:
        assert m.presentation.section in names, m.name


def test_tiles_are_the_numbered_metrics_in_their_order() -> None:
    numbered = {m.presentation.tile: m.name for m in CATALOGUE if m.presentation.tile is not None}
    assert [m.name for m in tiles()] == [numbered[i] for i in range(1, len(numbered) + 1)]
    assert tiles()[0].name == "concurrent_viewers"


def test_original_widgets_in_the_original_order() -> None:
    assert [title for title, _ in original_widgets()] == list(ORIGINAL_WIDGETS)
    for title, m in original_widgets():
        assert m.presentation.original_widget == title
        # The original sample's widgets drew its five metrics, which keep their old names.
        assert m.legacy_name is not None


def test_alarm_thresholds_are_the_entries() -> None:
    expected = {
        m.name: m.presentation.alarm_threshold
        for m in CATALOGUE
        if m.presentation.alarm_threshold is not None
    }
    assert alarm_thresholds() == expected
    assert alarm_thresholds()["startup_time_p95"] == 5.0


def test_a_pie_is_a_share() -> None:
    assert metric("rendition_share").presentation.chart == "pie"
    with pytest.raises(ValueError, match="pie"):
        dataclasses.replace(metric("errors"), presentation=Presentation("Audience", chart="pie"))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_an_alarm_threshold_is_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        dataclasses.replace(
            metric("errors"), presentation=Presentation("Audience", alarm_threshold=bad)
        )


def test_an_original_widget_is_one_of_the_originals() -> None:
    with pytest.raises(ValueError, match="original dashboard has no"):
        dataclasses.replace(
            metric("errors"), presentation=Presentation("Audience", original_widget="Errorz")
        )


def _with(name: str, presentation: Presentation) -> tuple[catalogue.Metric, ...]:
    return tuple(
        dataclasses.replace(m, presentation=presentation) if m.name == name else m
        for m in CATALOGUE
    )


def test_the_entries_together(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two tiles at 7.
    monkeypatch.setattr(catalogue, "CATALOGUE", _with("plays", Presentation("Startup", tile=7)))
    with pytest.raises(ValueError, match="tile positions"):
        catalogue._check_presentation()
    # "Errors" drawn twice.
    twice = Presentation("Startup", original_widget="Errors")
    monkeypatch.setattr(catalogue, "CATALOGUE", _with("plays", twice))
    with pytest.raises(ValueError, match="original widget"):
        catalogue._check_presentation()
    # "Errors" drawn by none.
    monkeypatch.setattr(
        catalogue, "CATALOGUE", _with("errors", Presentation("Playback quality", tile=7))
    )
    with pytest.raises(ValueError, match="original widget"):
        catalogue._check_presentation()
    monkeypatch.undo()
    catalogue._check_presentation()
