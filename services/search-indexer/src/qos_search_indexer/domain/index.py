"""The index design as data: daily index names, the template, mappings and ingest pipeline.

Everything here is derived from the `shared/` models (`record_schema.column_types()`), so a field
added to an event gets its mapping with no edit here. The same three objects are applied locally
(`service.set_up_indices`) and on OpenSearch Service (`service.apply_domain_setup`, the stack's
setup function), and Firehose's documents are the same flat records the local log holds, so one
template serves both paths:

- locally the indexer names the index by the record's event time, `qos-events-2026.11.28`;
- Firehose, rotating daily, names it by arrival, `qos-events-2026-11-28`.

Both match `qos-events-*`, the template's pattern and the Dashboards index pattern.

**Views** (`qos_shared.views`: one record per viewer's playback, `metric_type` VIEW, built by the
realtime layer) go to their own daily indices, `qos-views-2026.11.28`, by the view's close time
(its `event_time`), with a template of their own made from `VIEW_FIELDS` (the view's times as
dates) and no pipeline (a view has no coordinates). A view's document id is its `event_id`, as
an event's is. `ism_policy` retires both kinds of daily index.
"""

from __future__ import annotations

import functools
from typing import Any, cast

from qos_shared.catalogue import VIEW
from qos_shared.eventtime import DAY_MS, utc_day
from qos_shared.limits import MAX_URL_CHARS
from qos_shared.record_schema import ColumnType, column_types
from qos_shared.views import view_column_types

INDEX_PREFIX = "qos-events"
INDEX_PATTERN = f"{INDEX_PREFIX}-*"
TEMPLATE_NAME = "qos-events"
PIPELINE_NAME = "qos-events"
TIME_FIELD = "event_time"
LOCATION_FIELD = "viewer_location"  # geo_point made by the pipeline from latitude/longitude

VIEWS_INDEX_PREFIX = "qos-views"
VIEWS_INDEX_PATTERN = f"{VIEWS_INDEX_PREFIX}-*"
VIEWS_TEMPLATE_NAME = "qos-views"
#: The `metric_type` of a view's record: such a record goes to the views' indices.
VIEW_TYPE = VIEW
#: Every daily index this design makes (events and views).
ALL_PATTERNS = (INDEX_PATTERN, VIEWS_INDEX_PATTERN)

# Fields that hold times as epoch milliseconds: mapped as dates so Dashboards can use them.
DATE_FIELDS = frozenset({"event_time", "received_at"})
# A view's times (its close time is its `event_time`).
VIEW_DATE_FIELDS = frozenset(
    {"event_time", "view_start", "view_end", "attempt_time", "first_frame_time", "fatal_time"}
)
# Free text, searched by words; every other string is a keyword (exact, aggregatable).
TEXT_FIELDS = frozenset({"error_message"})
# Keywords longer than the others: a page URL (path only by default) runs past 256 characters
# often enough; up to the contract's limit it stays exact and aggregatable.
LONG_KEYWORD_FIELDS = frozenset({"page_url"})

_BY_COLUMN_TYPE: dict[ColumnType, dict[str, Any]] = {
    "string": {"type": "keyword", "ignore_above": 256},
    "int": {"type": "long"},
    "float": {"type": "double"},
    "bool": {"type": "boolean"},
    # Unknown client fields: kept in _source for people to read, not indexed (their keys are
    # the client's choice, so indexing them would grow the mapping without bound).
    "json": {"type": "object", "enabled": False},
}


def field_mapping(name: str, kind: ColumnType) -> dict[str, Any]:
    if name in DATE_FIELDS:
        return {"type": "date", "format": "epoch_millis"}
    if name in TEXT_FIELDS:
        return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    if name in LONG_KEYWORD_FIELDS:
        return {"type": "keyword", "ignore_above": MAX_URL_CHARS}
    return dict(_BY_COLUMN_TYPE[kind])


def mappings() -> dict[str, Any]:
    properties = {name: field_mapping(name, kind) for name, kind in column_types().items()}
    properties[LOCATION_FIELD] = {"type": "geo_point"}
    return {
        # A record's fields are known; anything else is kept in _source but not mapped, so an
        # older index never rejects a newer client's extra field.
        "dynamic": False,
        "properties": properties,
    }


def view_mappings() -> dict[str, Any]:
    """The views' mapping: every field of `VIEW_FIELDS`, its times as dates, nothing dynamic."""
    properties: dict[str, Any] = {}
    for name, kind in view_column_types().items():
        if name in VIEW_DATE_FIELDS:
            properties[name] = {"type": "date", "format": "epoch_millis"}
        else:
            properties[name] = dict(_BY_COLUMN_TYPE[cast(ColumnType, kind)])
    return {"dynamic": False, "properties": properties}


def field_types(*, views: bool = False) -> dict[str, str]:
    """Field name -> mapped type (of the events' index, or the views' with `views`), for checks
    that panels only name fields that exist."""
    types: dict[str, str] = {}
    chosen = view_mappings() if views else mappings()
    for name, spec in chosen["properties"].items():
        types[name] = spec["type"]
        for sub, sub_spec in spec.get("fields", {}).items():
            types[f"{name}.{sub}"] = sub_spec["type"]
    return types


# What the slow logs record (OpenSearch Service publishes them to CloudWatch): without
# thresholds an index logs nothing. A panel's search over a day takes milliseconds.
SLOW_LOG_THRESHOLDS = {
    "search.slowlog.threshold.query.warn": "5s",
    "search.slowlog.threshold.query.info": "1s",
    "search.slowlog.threshold.fetch.warn": "1s",
    "indexing.slowlog.threshold.index.warn": "5s",
    "indexing.slowlog.threshold.index.info": "1s",
}


def index_template(*, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """The composable index template (`PUT _index_template/qos-events`).

    One primary shard: a day of a busy channel is a few GB, well under the 10 to 50 GB a shard
    handles well, and fewer shards make aggregations cheaper. Replicas: 0 on a single local
    node (a replica could never be allocated, leaving the cluster yellow), 1 or more on a
    multi-AZ OpenSearch Service domain (the stack passes its own value).
    """
    return {
        "index_patterns": [INDEX_PATTERN],
        "priority": 100,
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": shards,
                    "number_of_replicas": replicas,
                    "refresh_interval": "5s",
                    "default_pipeline": PIPELINE_NAME,
                    **SLOW_LOG_THRESHOLDS,
                }
            },
            "mappings": mappings(),
        },
        "_meta": {"description": "QoS event records, one index per UTC day"},
    }


def views_index_template(*, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """The views' composable index template (`PUT _index_template/qos-views`): the events'
    settings (a day of views is a small fraction of a day of events: one shard) without the
    pipeline."""
    return {
        "index_patterns": [VIEWS_INDEX_PATTERN],
        "priority": 100,
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": shards,
                    "number_of_replicas": replicas,
                    "refresh_interval": "5s",
                    **SLOW_LOG_THRESHOLDS,
                }
            },
            "mappings": view_mappings(),
        },
        "_meta": {"description": "QoS views (one per viewer's playback), one index per UTC day"},
    }


def ingest_pipeline() -> dict[str, Any]:
    """`PUT _ingest/pipeline/qos-events`: a geo_point from the viewer's latitude and longitude.

    A pipeline rather than indexer code, so documents Firehose delivers get the point too.
    """
    return {
        "description": "QoS events: viewer_location from viewer_latitude / viewer_longitude",
        "processors": [
            {
                "script": {
                    "lang": "painless",
                    "if": (
                        "ctx.viewer_latitude instanceof Number"
                        " && ctx.viewer_longitude instanceof Number"
                    ),
                    "source": (
                        f"ctx.{LOCATION_FIELD} = "
                        "['lat': ctx.viewer_latitude, 'lon': ctx.viewer_longitude]"
                    ),
                }
            }
        ],
    }


def geo_point(record: dict[str, Any]) -> dict[str, float] | None:
    """What the pipeline makes of a record: its viewer's point, when both coordinates are
    numbers (the local indexer applies the same rule itself; a test holds the two equal)."""
    lat, lon = record.get("viewer_latitude"), record.get("viewer_longitude")
    # Inline rather than a helper per coordinate: this runs once per record the indexer sends.
    if (
        isinstance(lat, _NUMBERS)
        and not isinstance(lat, bool)
        and isinstance(lon, _NUMBERS)
        and not isinstance(lon, bool)
    ):
        return {"lat": lat, "lon": lon}
    return None


_NUMBERS = (int, float)


def ism_policy(*, delete_after_days: int = 30) -> dict[str, Any]:
    """An Index State Management policy for OpenSearch Service: delete a daily index after N days.

    ISM is a plugin of OpenSearch Service (not of the local node, whose bare core has no ISM);
    the stack applies it there. Locally `qos reset` clears the data directory instead.
    """
    return {
        "policy": {
            "description": (
                f"Delete QoS event and view indices {delete_after_days} days after creation"
            ),
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [],
                    "transitions": [
                        {
                            "state_name": "delete",
                            "conditions": {"min_index_age": f"{delete_after_days}d"},
                        }
                    ],
                },
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
            "ism_template": [{"index_patterns": list(ALL_PATTERNS), "priority": 100}],
        }
    }


def index_for(event_time_ms: int) -> str:
    """The daily index of a record, by its event time (UTC)."""
    return f"{INDEX_PREFIX}-{utc_day(event_time_ms):%Y.%m.%d}"


def view_index_for(close_time_ms: int) -> str:
    """The daily index of a view's record, by its close time (its `event_time`, UTC)."""
    return f"{VIEWS_INDEX_PREFIX}-{utc_day(close_time_ms):%Y.%m.%d}"


@functools.lru_cache(maxsize=64)
def daily_index(day: int) -> str:
    """`index_for` of a UTC day (`eventtime.day_bucket`): computed once per day, not per record."""
    return index_for(day * DAY_MS)


@functools.lru_cache(maxsize=64)
def daily_view_index(day: int) -> str:
    """`view_index_for` of a UTC day, computed once per day."""
    return view_index_for(day * DAY_MS)
