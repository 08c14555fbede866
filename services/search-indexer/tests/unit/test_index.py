"""The index design follows the shared models: every stored field mapped, with the right type."""

from __future__ import annotations

import orjson

from qos_search_indexer.domain import index
from qos_search_indexer.domain.documents import documents
from qos_shared.eventlog import LogEntry
from qos_shared.record_schema import column_types
from qos_shared.views import VIEW_FIELDS


def test_every_stored_field_is_mapped_by_its_column_type() -> None:
    properties = index.mappings()["properties"]
    expected = {"string": "keyword", "int": "long", "float": "double", "bool": "boolean"}
    for name, kind in column_types().items():
        mapped = properties[name]["type"]
        if name in ("event_time", "received_at"):
            assert (mapped, properties[name]["format"]) == ("date", "epoch_millis")
        elif name == "error_message":
            assert mapped == "text" and properties[name]["fields"]["keyword"]["type"] == "keyword"
        elif kind == "json":
            assert properties[name] == {"type": "object", "enabled": False}
        elif name == "page_url":
            assert properties[name] == {"type": "keyword", "ignore_above": 1024}
        else:
            assert mapped == expected[kind], name
    assert properties["viewer_location"] == {"type": "geo_point"}
    for name in ("playback_id", "referrer_host", "sdk_version", "player_version"):
        assert properties[name] == {"type": "keyword", "ignore_above": 256}, name
    assert properties["bandwidth_estimate_bps"] == {"type": "long"}
    assert set(properties) == set(column_types()) | {"viewer_location"}


def test_the_template_covers_both_daily_index_names() -> None:
    template = index.index_template(replicas=1)
    assert template["index_patterns"] == ["qos-events-*"]
    settings = template["template"]["settings"]["index"]
    assert settings["default_pipeline"] == index.PIPELINE_NAME
    assert settings["number_of_replicas"] == 1
    # Locally by event time; on AWS, Firehose's daily rotation by arrival: both match.
    assert index.index_for(1_795_000_000_000) == "qos-events-2026.11.18"
    assert "qos-events-2026-11-18".startswith(index.INDEX_PATTERN.rstrip("*"))


def test_field_types_include_subfields() -> None:
    types = index.field_types()
    assert types["error_message.keyword"] == "keyword"
    assert types["viewer_location"] == "geo_point"
    assert types["client_platform"] == "keyword"


def test_the_retention_policy_targets_the_daily_indices() -> None:
    policy = index.ism_policy(delete_after_days=7)["policy"]
    assert policy["ism_template"][0]["index_patterns"] == ["qos-events-*", "qos-views-*"]
    [hot, delete] = policy["states"]
    assert hot["transitions"][0]["conditions"] == {"min_index_age": "7d"}
    assert delete["actions"] == [{"delete": {}}]


def test_every_view_field_is_mapped_by_its_type_and_times_are_dates() -> None:
    template = index.views_index_template(replicas=1)
    assert template["index_patterns"] == ["qos-views-*"]
    settings = template["template"]["settings"]["index"]
    assert "default_pipeline" not in settings and settings["number_of_replicas"] == 1
    mapping = template["template"]["mappings"]
    assert mapping["dynamic"] is False
    properties = mapping["properties"]
    expected = {"STRING": "keyword", "BIGINT": "long", "DOUBLE": "double", "BOOLEAN": "boolean"}
    times = {"event_time", "view_start", "view_end", "attempt_time", "first_frame_time"}
    for name, kind in VIEW_FIELDS.items():
        if name in times | {"fatal_time"}:
            assert properties[name] == {"type": "date", "format": "epoch_millis"}, name
        else:
            assert properties[name]["type"] == expected[kind], name
    assert set(properties) == set(VIEW_FIELDS)
    assert index.view_index_for(1_795_000_000_000) == "qos-views-2026.11.18"


def test_a_view_record_goes_to_the_views_index_and_an_event_to_the_events() -> None:
    at = 1_795_000_000_000
    view = {"metric_type": "VIEW", "event_id": "view:s:1", "event_time": at}
    event = {"metric_type": "PLAY", "event_id": "e1", "event_time": at}
    entries = [
        LogEntry(1, "view:s:1", "s", orjson.dumps(view), 0),
        LogEntry(2, "e1", "s", orjson.dumps(event), 0),
    ]
    docs, letters = documents(entries)
    assert letters == []
    assert [(d.entry.event_id, d.index) for d in docs] == [
        ("view:s:1", "qos-views-2026.11.18"),
        ("e1", "qos-events-2026.11.18"),
    ]
