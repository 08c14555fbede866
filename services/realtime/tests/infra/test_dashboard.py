"""The CloudWatch dashboard and default alarms draw every catalogue KPI as its entry presents it.

The dashboard is synthesized alone (one small stack) and read back as CloudFormation gives it;
the expected CloudWatch names are derived here by a rule of this test's own, and the KPIs come
from iterating the catalogue, so a new entry is checked with no edit here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk.assertions import Template

from qos_realtime_infra.dashboard import (
    DEFAULT_ALARM_THRESHOLDS,
    check_alarm_thresholds,
    comparison,
    dashboard_widgets,
)
from qos_shared.catalogue import CATALOGUE, ORIGINAL_WIDGETS, Metric

pytestmark = pytest.mark.infra

NAMESPACE = "IVS/QoS"
PLATFORMS = ("web", "ios", "android", "other")


@pytest.fixture(scope="module")
def widgets() -> list[dict[str, Any]]:
    stack = Stack(App(), "DashboardOnly")
    cw.Dashboard(stack, "Dashboard", widgets=dashboard_widgets(NAMESPACE))
    resources = Template.from_stack(stack).to_json()["Resources"]
    [body] = [
        r["Properties"]["DashboardBody"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    if isinstance(body, dict):  # Fn::Join around the region reference
        body = "".join(p if isinstance(p, str) else "REGION" for p in body["Fn::Join"][1])
    found: list[dict[str, Any]] = json.loads(body)["widgets"]
    return [w for w in found if w["type"] == "metric"]


def cloudwatch_names(metric: Metric) -> set[str]:
    """The names the metric may be published under: its words title-cased without a
    percentile suffix, and for a mean the same with `Mean` (when a distribution took the name)."""
    base = "".join(word.title() for word in re.sub(r"_p\d+$", "", metric.name).split("_"))
    return {base, f"{base}Mean"} if metric.kind == "mean" else {base}


def drawn(widget: dict[str, Any]) -> set[str]:
    """The metric names a widget's lines read, plain or in a SEARCH expression."""
    names: set[str] = set()
    for line in widget["properties"]["metrics"]:
        options = line[-1] if isinstance(line[-1], dict) else {}
        if "expression" in options:
            names.update(re.findall(r'MetricName="(\w+)"', options["expression"]))
        else:
            names.add(line[1])
    return names


def test_every_catalogue_kpi_has_a_widget(widgets: list[dict[str, Any]]) -> None:
    on_dashboard = set().union(*(drawn(w) for w in widgets))
    for metric in CATALOGUE:
        assert cloudwatch_names(metric) & on_dashboard, f"{metric.name} has no CloudWatch widget"


def test_the_original_widgets_come_first_in_the_original_order(
    widgets: list[dict[str, Any]],
) -> None:
    titles = [w["properties"]["title"] for w in widgets]
    originals = [t for t in titles if t.split(" - ")[0] in ORIGINAL_WIDGETS]
    assert titles[: len(originals)] == originals, "the original widgets come first"
    # Widgets drawn once, then distributions once per platform, each in the original's order.
    once = [t for t in ORIGINAL_WIDGETS if t in titles]
    per_platform = [t for t in ORIGINAL_WIDGETS if f"{t} - {PLATFORMS[0]}" in titles]
    assert sorted(once + per_platform) == sorted(ORIGINAL_WIDGETS)
    assert [t.split(" - ")[0] for t in originals] == once + [
        t for t in per_platform for _ in PLATFORMS
    ]
    by_title = {w["properties"]["title"]: w for w in widgets}
    for metric in CATALOGUE:
        title = metric.presentation.original_widget
        if title is None:
            continue
        shown = [by_title[title]] if title in by_title else []
        shown += [by_title[f"{title} - {p}"] for p in PLATFORMS if f"{title} - {p}" in by_title]
        assert shown, f"{metric.name}: no widget titled {title!r}"
        for widget in shown:
            assert cloudwatch_names(metric) & drawn(widget), (metric.name, title)


def test_default_alarms_are_the_catalogue_thresholds() -> None:
    expected = {
        m.name: m.presentation.alarm_threshold
        for m in CATALOGUE
        if m.presentation.alarm_threshold is not None
    }
    assert expected, "the catalogue names some alarms"
    assert expected == DEFAULT_ALARM_THRESHOLDS
    assert check_alarm_thresholds(DEFAULT_ALARM_THRESHOLDS) == expected
    for name in expected:
        bad_side_is_low = next(m for m in CATALOGUE if m.name == name).higher_is_better
        assert comparison(name) == (
            cw.ComparisonOperator.LESS_THAN_THRESHOLD
            if bad_side_is_low
            else cw.ComparisonOperator.GREATER_THAN_THRESHOLD
        )
