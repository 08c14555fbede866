"""The dashboard's API: each route a function from query parameters to a JSON reply.

HTTP lives in `server.py`; here a request is a path and a query string, and a reply is a status
and a JSON object. Bad input raises `BadRequest` (400) or `NotFound` (404) with one sentence; the
server turns any other exception into a 500 without a traceback in the body.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

from qos_infra.dashboard import params as p
from qos_infra.dashboard.params import BadRequest, NotFound
from qos_infra.dashboard.sources import DataPaths, LakeSource, RealtimeSource, SessionSource
from qos_infra.stack_state import read_state
from qos_lake.api import QUERIES, LakeChanged, QueryParams
from qos_realtime.api import MetricRow
from qos_shared.catalogue import BY_NAME, CATALOGUE, Metric, tiles
from qos_shared.views import OUTCOMES

# The KPI tiles, in page order: the catalogue's (`Presentation.tile`), each with its chart.
TILES: tuple[str, ...] = tuple(m.name for m in tiles())


@dataclass(frozen=True, slots=True)
class LakePanel:
    """A chart of one lake query: `bar`, a value per group (`x`) labelled with `text`; `trend`,
    bars per day (`x`) of each column in `ys` (catalogue metrics)."""

    query: str
    kind: Literal["bar", "trend"]
    x: str
    y: str | None = None
    text: str | None = None
    by: str | None = None
    ys: tuple[str, ...] = ()

    def layout(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"query": self.query, "kind": self.kind, "x": self.x}
        if self.kind == "bar":
            spec |= {"y": self.y, "text": self.text, "by": self.by}
        else:
            spec["ys"] = list(self.ys)
        return spec


# The lake panels the page shows, in order.
LAKE_LAYOUT: tuple[LakePanel, ...] = (
    LakePanel(
        "popular-channels", "bar", "channel_watched", "viewer_minutes", "sessions", "channel"
    ),
    LakePanel(
        "popular-platforms", "bar", "client_platform", "viewer_minutes", "sessions", "platform"
    ),
    LakePanel(
        "startup-latency",
        "trend",
        "day",
        ys=("startup_time_p50", "startup_time_p95", "startup_time"),
    ),
    LakePanel("average-buffer-time", "trend", "day", ys=("rebuffering_ratio",)),
    LakePanel("live-latency", "trend", "day", ys=("live_latency_p50", "live_latency_p95")),
    LakePanel(
        "kpis",
        "trend",
        "day",
        ys=("video_start_failure", "exits_before_video_start", "playback_failure"),
    ),
)
# Their queries' names.
LAKE_PANELS: tuple[str, ...] = tuple(panel.query for panel in LAKE_LAYOUT)
SPLITS = {"all": "all", "platform": "client_platform", "channel": "channel_watched"}
_FILTER_DIMENSION = {"platform": "client_platform", "channel": "channel_watched"}
_SESSION_ID_MAX = 200


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any]


def metric_info(m: Metric) -> dict[str, Any]:
    return {
        "name": m.name,
        "title": m.title,
        "description": m.description,
        "unit": m.unit,
        "kind": m.kind,
        "higher_is_better": m.higher_is_better,
        "split_by": m.split_by,
    }


def tile_info(m: Metric) -> dict[str, Any]:
    """A tile of the page: the metric, and where and how the catalogue presents it."""
    shown = m.presentation
    return metric_info(m) | {"section": shown.section, "chart": shown.chart, "tile": shown.tile}


def _point(row: MetricRow, revisions: dict[int, int]) -> dict[str, Any]:
    """A window's value; `revision`: how often records that came after it closed revised it
    (0: never)."""
    return {
        "window_start": row.window_start,
        "window_end": row.window_end,
        "value": row.value,
        "final": row.final,
        "revision": revisions.get(row.window_start, 0),
    }


class Dashboard:
    """The API over one data directory."""

    def __init__(self, data_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.paths = DataPaths(data_dir)
        self.clock = clock
        self.realtime = RealtimeSource(self.paths.store_path)
        self.lake = LakeSource(self.paths.lake_root)
        self.sessions = SessionSource(self.paths.log_path, self.lake)
        self._routes: dict[str, Callable[[str], dict[str, Any]]] = {
            "/api/health": self.health,
            "/api/metrics": self.metrics,
            "/api/layout": self.layout,
            "/api/dimensions": self.dimensions,
            "/api/realtime": self.realtime_series,
            "/api/realtime/summary": self.realtime_summary,
            "/api/lake": self.lake_queries,
            "/api/sessions": self.session_list,
            "/api/views": self.view_list,
        }

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def handle(self, path: str, query: str) -> Reply:
        """Route one GET of the API (paths under /api/)."""
        path = path.rstrip("/") or "/"
        try:
            route = self._routes.get(path)
            if route is not None:
                return Reply(200, route(query))
            if path.startswith("/api/lake/"):
                return Reply(200, self.lake_query(unquote(path.removeprefix("/api/lake/")), query))
            if path.startswith("/api/views/"):
                return Reply(
                    200, self.view_timeline(unquote(path.removeprefix("/api/views/")), query)
                )
            if path.startswith("/api/sessions/"):
                return Reply(
                    200, self.timeline(unquote(path.removeprefix("/api/sessions/")), query)
                )
            raise NotFound(f"no route GET {path}; GET /api/health lists the API")
        except BadRequest as exc:
            return Reply(400, {"error": str(exc)})
        except NotFound as exc:
            return Reply(404, {"error": str(exc)})
        except LakeChanged as exc:
            return Reply(503, {"error": f"{exc}; retry in a moment"})

    # -- validation against the data ---------------------------------------------------------

    def _known(self, name: str) -> list[str]:
        dimension = _FILTER_DIMENSION[name]
        values = set(self.realtime.known(dimension))
        platforms, channels = self.lake.known()
        values.update(platforms if name == "platform" else channels)
        return sorted(values)

    def _filter(self, params: dict[str, str], name: str) -> str | None:
        """A platform/channel filter, checked against the values the data has (when it has any:
        on an empty stack nothing can match, and the reply is an empty state)."""
        value = params.get(name)
        if value is None:
            return None
        known = self._known(name)
        if known and value not in known:
            shown = ", ".join(known[:20]) + (" …" if len(known) > 20 else "")
            raise BadRequest(f"unknown {name} {value!r}; the data has: {shown}")
        return value

    def _metric(self, params: dict[str, str]) -> Metric:
        name = params.get("metric")
        if name is None:
            raise BadRequest(
                "metric= is required, e.g. metric=concurrent_viewers (see /api/metrics)"
            )
        metric = BY_NAME.get(name)
        if metric is None:
            raise BadRequest(f"unknown metric {name!r}; GET /api/metrics lists the known ones")
        return metric

    # -- routes ------------------------------------------------------------------------------

    def health(self, query: str) -> dict[str, Any]:
        p.query_params(query, ())
        latest = self.realtime.latest_window()
        return {
            "status": "ok",
            "data_dir": str(self.paths.data_dir),
            "metric_store": {
                "present": self.realtime.present,
                "latest_window": None if latest is None else {"start": latest[0], "end": latest[1]},
            },
            "lake": {"present": self.lake.present, "committed_through": self.lake.committed()},
            "event_log": {
                "present": self.sessions.present,
                "last_position": self.sessions.last_position(),
            },
            # What `qos up`'s supervisor says of each component (None: not run by `qos up`).
            "stack": read_state(self.paths.data_dir),
            "api": [
                "GET /api/health",
                "GET /api/metrics",
                "GET /api/layout",
                "GET /api/dimensions",
                "GET /api/realtime?metric=&from=&to=&platform=&channel=&by=",
                "GET /api/realtime/summary?platform=&channel=",
                "GET /api/lake",
                "GET /api/lake/<query>?from=&to=&platform=&channel=",
                "GET /api/sessions?from=&to=&platform=&channel=&limit=",
                "GET /api/sessions/<session_id>?from=&to=",
                "GET /api/views?from=&to=&platform=&channel=&outcome=&order=recent|worst&limit=",
                "GET /api/views/<view_id>",
            ],
        }

    def metrics(self, query: str) -> dict[str, Any]:
        p.query_params(query, ())
        return {
            "metrics": [metric_info(m) for m in CATALOGUE],
            "tiles": list(TILES),
            "lake_panels": list(LAKE_PANELS),
        }

    def layout(self, query: str) -> dict[str, Any]:
        """What the page draws, in order: the catalogue's tiles (each also a chart of its
        windows) and the lake panels."""
        p.query_params(query, ())
        return {
            "tiles": [tile_info(BY_NAME[name]) for name in TILES],
            "lake_panels": [panel.layout() for panel in LAKE_LAYOUT],
        }

    def dimensions(self, query: str) -> dict[str, Any]:
        p.query_params(query, ())
        return {"platforms": self._known("platform"), "channels": self._known("channel")}

    def realtime_series(self, query: str) -> dict[str, Any]:
        params = p.query_params(query, ("metric", "from", "to", "platform", "channel", "by"))
        metric = self._metric(params)
        start, end = p.time_range(params, now_ms=self.now_ms())
        by = p.choice("by", params.get("by"), SPLITS, "all")
        platform = self._filter(params, "platform")
        channel = self._filter(params, "channel")
        if platform is not None and channel is not None:
            raise BadRequest(
                "the metric store groups windows by platform or by channel, not both: "
                "give platform= or channel=, not both"
            )
        picked = "platform" if platform is not None else "channel" if channel else None
        if picked is not None and by not in ("all", picked):
            raise BadRequest(f"{picked}= already picks one {picked}'s series; drop by={by}")
        if platform is not None:
            groups = [("client_platform", platform)]
        elif channel is not None:
            groups = [("channel_watched", channel)]
        elif by == "all":
            groups = [("all", "")]
        else:
            dimension = SPLITS[by]
            groups = [(dimension, v) for v in self.realtime.groups(dimension, start, end)]
        series: list[dict[str, Any]] = []
        revisions = self.realtime.revisions(start, end)
        for dimension, value in groups:
            rows = self.realtime.series(metric.name, dimension, value, start, end)
            splits = sorted({r.split for r in rows}) or [""]
            for split in splits:
                points = [_point(r, revisions) for r in rows if r.split == split]
                label = value or "all"
                series.append(
                    {
                        "dimension": dimension,
                        "value": value,
                        "split": split,
                        "label": f"{label} · {split}" if split else label,
                        "points": points,
                        "latest": points[-1] if points else None,
                    }
                )
        newest = max(
            (s["latest"] for s in series if s["latest"] is not None),
            key=lambda pt: pt["window_start"],
            default=None,
        )
        reply: dict[str, Any] = {
            "metric": metric_info(metric),
            "from": start,
            "to": end,
            "by": by,
            "platform": platform,
            "channel": channel,
            "window_ms": None if newest is None else newest["window_end"] - newest["window_start"],
            "series": series,
            "latest_window": None
            if newest is None
            else {
                "start": newest["window_start"],
                "end": newest["window_end"],
                "final": newest["final"],
            },
            "empty": not any(s["points"] for s in series),
        }
        if reply["empty"]:
            reply["message"] = self._realtime_empty_message(start, end)
        return reply

    def _realtime_empty_message(self, start: int, end: int) -> str:
        if not self.realtime.present or self.realtime.latest_window() is None:
            return (
                "The metric store has no window yet: the realtime engine writes the open "
                "window within a second of the first event."
            )
        return f"No window in {p.iso_ms(start)} to {p.iso_ms(end)} for these filters."

    def realtime_summary(self, query: str) -> dict[str, Any]:
        params = p.query_params(query, ("platform", "channel"))
        platform = self._filter(params, "platform")
        channel = self._filter(params, "channel")
        if platform is not None and channel is not None:
            raise BadRequest(
                "the metric store groups windows by platform or by channel, not both: "
                "give platform= or channel=, not both"
            )
        dimension, value = (
            ("client_platform", platform)
            if platform is not None
            else ("channel_watched", channel)
            if channel is not None
            else ("all", "")
        )
        newest = self.realtime.latest_window()
        chosen = self.realtime.tile_window()
        reply: dict[str, Any] = {
            "dimension": dimension,
            "value": value,
            "tiles": list(TILES),
            "window": None,
            "newest_window": None,
            "values": {},
            "empty": True,
        }
        if newest is None or chosen is None:
            reply["message"] = self._realtime_empty_message(0, 0)
            return reply
        (start, end), final = chosen
        reply["newest_window"] = {
            "start": newest[0],
            "end": newest[1],
            "final": final and newest[0] == start,
        }
        rows = [
            r
            for r in self.realtime.window(start)
            if r.dimension == dimension and r.dimension_value == value and r.metric in BY_NAME
        ]
        values: dict[str, Any] = {}
        for row in rows:
            if BY_NAME[row.metric].kind == "share":
                values.setdefault(row.metric, {})[row.split] = row.value
            else:
                values[row.metric] = row.value
        revision = self.realtime.revisions(start, start + 1).get(start, 0)
        reply["window"] = {"start": start, "end": end, "final": final, "revision": revision}
        reply["values"] = values
        reply["empty"] = not values
        if not values:
            reply["message"] = f"No data for {value or 'all'} in the window {p.iso_ms(start)}."
        return reply

    def lake_queries(self, query: str) -> dict[str, Any]:
        p.query_params(query, ())
        return {
            "queries": [
                {
                    "name": q.name,
                    "description": q.description,
                    "group_columns": list(q.group_columns),
                    "metric_columns": {c: m for c, m in q.metric_columns},
                }
                for q in QUERIES.values()
            ]
        }

    def lake_query(self, name: str, query: str) -> dict[str, Any]:
        named = QUERIES.get(name)
        if named is None:
            close = difflib.get_close_matches(name, QUERIES, n=3, cutoff=0.5)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise BadRequest(f"unknown lake query {name[:60]!r}{hint}; GET /api/lake lists them")
        params = p.query_params(query, ("from", "to", "platform", "channel", "limit", "offset"))
        limit, offset = p.limit(params), p.offset(params)
        today = datetime.fromtimestamp(self.clock(), UTC).date()
        from_day, to_day = p.day_range(params, today=today)
        platform = self._filter(params, "platform")
        channel = self._filter(params, "channel")
        answer = self.lake.query(named, QueryParams(from_day, to_day, platform, channel))
        shown = answer.rows[offset : offset + limit]  # the query's order: top groups first
        reply: dict[str, Any] = {
            "query": named.name,
            "description": named.description,
            "from": from_day.isoformat(),
            "to": to_day.isoformat(),
            "platform": platform,
            "channel": channel,
            "columns": list(answer.columns)
            or [*named.group_columns, *(c for c, _ in named.metric_columns)],
            "group_columns": list(named.group_columns),
            "metric_columns": {c: m for c, m in named.metric_columns},
            "limit": limit,
            "rows": shown,
            "empty": not answer.rows,
        } | p.page(len(answer.rows), offset, len(shown))
        if answer.empty_reason is not None:
            reply["message"] = answer.empty_reason
        return reply

    def session_list(self, query: str) -> dict[str, Any]:
        params = p.query_params(query, ("from", "to", "platform", "channel", "limit"))
        start, end = p.time_range(params, now_ms=self.now_ms())
        limit = p.limit(params)
        platform = self._filter(params, "platform")
        channel = self._filter(params, "channel")
        rows, total, truncated = self.sessions.sessions(start, end, platform, channel, limit)
        reply: dict[str, Any] = {
            "from": start,
            "to": end,
            "platform": platform,
            "channel": channel,
            "limit": limit,
            "total": total,
            "sessions": rows,
            "tail_truncated": truncated,
            "empty": not rows,
        }
        if not rows:
            reply["message"] = (
                "No session yet: the event log is empty."
                if not self.sessions.present or self.sessions.last_position() == 0
                else f"No session with an event in {p.iso_ms(start)} to {p.iso_ms(end)}."
            )
        return reply

    def view_list(self, query: str) -> dict[str, Any]:
        """Closed views (the realtime engine's) whose close time is in range: newest first, or
        `order=worst` (lowest experience score first)."""
        params = p.query_params(
            query, ("from", "to", "platform", "channel", "outcome", "order", "limit")
        )
        start, end = p.time_range(params, now_ms=self.now_ms())
        limit = p.limit(params)
        platform = self._filter(params, "platform")
        channel = self._filter(params, "channel")
        outcome = params.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise BadRequest(f"unknown outcome {outcome!r}; one of: {', '.join(OUTCOMES)}")
        order = p.choice("order", params.get("order"), ("recent", "worst"), "recent")
        rows, total = self.realtime.views(
            start,
            end,
            platform=platform,
            channel=channel,
            outcome=outcome,
            worst_first=order == "worst",
            limit=limit,
        )
        reply: dict[str, Any] = {
            "from": start,
            "to": end,
            "order": order,
            "limit": limit,
            "total": total,
            "views": rows,
            "empty": not rows,
        }
        if not rows:
            reply["message"] = (
                "No view yet: a view is listed once it closes, "
                "a few minutes after its viewer's last event."
                if not self.realtime.present
                else f"No view closed in {p.iso_ms(start)} to {p.iso_ms(end)}."
            )
        return reply

    def view_timeline(self, view_id: str, query: str) -> dict[str, Any]:
        """One view's record and a page of its session's events from its first to its last."""
        if not view_id or len(view_id) > _SESSION_ID_MAX + 21 or "/" in view_id:
            raise BadRequest(f"a view id is 1 to {_SESSION_ID_MAX + 21} characters, without '/'")
        params = p.query_params(query, ("limit", "offset"))
        limit, offset = p.limit(params), p.offset(params)
        view = self.realtime.view(view_id)
        if view is None:
            raise NotFound(f"no closed view {view_id!r}; GET /api/views lists them")
        events, total, truncated = self.sessions.timeline(
            view["session_id"],
            view["view_start"],
            view["view_end"] + 1,
            limit=limit,
            offset=offset,
            since_ms=view["view_start"],
            until_ms=view["view_end"],
        )
        return {
            "view": view,
            "limit": limit,
            "events": events,
            "count": len(events),
            "tail_truncated": truncated,
        } | p.page(total, offset, len(events))

    def timeline(self, session_id: str, query: str) -> dict[str, Any]:
        """A page of one session's events, oldest first: at most `limit` from `offset`, with
        `total` and `next_offset` (None on the last page)."""
        if not session_id or len(session_id) > _SESSION_ID_MAX or "/" in session_id:
            raise BadRequest(f"a session id is 1 to {_SESSION_ID_MAX} characters, without '/'")
        if any(ord(c) < 32 for c in session_id):
            raise BadRequest("a session id has no control characters")
        params = p.query_params(query, ("from", "to", "limit", "offset"))
        start, end = p.time_range(params, now_ms=self.now_ms(), default_span_ms=24 * 3_600_000)
        limit, offset = p.limit(params), p.offset(params)
        events, total, truncated = self.sessions.timeline(
            session_id, start, end, limit=limit, offset=offset
        )
        if total == 0:
            raise NotFound(
                f"no event of session {session_id!r} in the hours of {p.iso_ms(start)} to "
                f"{p.iso_ms(end)}; pass from= and to= around the session"
            )
        first = events[0] if events else {}
        return {
            "session_id": session_id,
            "from": start,
            "to": end,
            "client_platform": first.get("client_platform"),
            "channel_watched": first.get("channel_watched"),
            "user_id": first.get("user_id"),
            "first_event_ms": events[0].get("event_time") if events else None,
            "last_event_ms": events[-1].get("event_time") if events else None,
            "limit": limit,
            "count": len(events),
            "events": events,
            "tail_truncated": truncated,
        } | p.page(total, offset, len(events))

    def close(self) -> None:
        self.realtime.close()
        self.sessions.close()
