"""The local QoS dashboard: a web page and JSON APIs over a `qos up` data directory.

Run: `python -m qos_infra.dashboard --data-dir .qos-data --host 127.0.0.1 --port 8800`; it prints
`qos-dashboard listening on http://HOST:PORT (data DIR)` once it serves. The page is `GET /`
(static files of this package, plain ES modules; plotly.js from the `plotly` Python package).

Sources: the metric store (`metrics.sqlite`, realtime windows), the Parquet lake (`lake/`, named
queries on DuckDB) and the event log (`events.sqlite`, for sessions not yet in the lake). A
missing source (the stack just started) gives an empty state, never an error.

API (every reply JSON; bad input: 400 `{"error": "<one sentence>"}`; unknown path or session:
404; times are epoch milliseconds or ISO 8601 date-times, UTC; days are YYYY-MM-DD, UTC; a blank
parameter counts as not given; unknown or repeated parameters are refused):

- `GET /api/health`: which sources are present, the newest window, the lake's commit, the log,
  and each component's state, pid, restarts and last exit under `qos up` (`stack`).
- `GET /api/metrics`: the catalogue (name, title, description, unit, kind, higher_is_better),
  the KPI tiles and the lake panels the page shows.
- `GET /api/dimensions`: the platforms and channels the data has (metric store and lake).
- `GET /api/realtime?metric=M&from=&to=&platform=&channel=&by=all|platform|channel`: one
  series per group (the aggregate, one platform, one channel, or one per platform/channel with
  `by=`), each point a window (`window_start`, `window_end`, `value`, `final`: false while the
  window is open and its value provisional), windows starting in [from, to) (default: the last
  hour); `latest` per series and `latest_window`. platform= and channel= together are refused:
  the store groups by one dimension at a time.
- `GET /api/realtime/summary?platform=&channel=`: every KPI of one window, for the tiles: the
  newest final window, or while none has closed yet the newest (open) one, `window.final` saying
  which; `newest_window` is the newest window of all; share metrics as {split: value}.
- `GET /api/lake`: the named lake queries. `GET /api/lake/<query>?from=&to=&platform=&channel=`
  `&limit=&offset=`: a page of its rows over the days [from, to] (default the last 7 days), top
  groups first; an empty lake or range is a 200 with `empty: true` and a `message`.
- `GET /api/sessions?from=&to=&platform=&channel=&limit=`: sessions with an event in [from, to)
  (default the last hour), newest first, at most `limit` (1..1000, default 50), and `total`.
- `GET /api/sessions/<session_id>?from=&to=&limit=&offset=`: a page of one viewer's events,
  oldest first, from the hours of the range (default the last 24 hours), each with its `source`
  (lake or log).

Every list is bounded by `limit` (1..1000, default 50; anything else a 400); paged replies say
`offset`, `total`, `truncated` and `next_offset` (None on the last page). Requests whose Host
header is not a loopback name, the bound host, an IP address or a name given with `--allow-host`
get a 403 (DNS rebinding).

Platform and channel filters are checked against the values the data has: an unknown one is a 400
that lists the known ones. More in docs/dashboard.md.
"""

from qos_infra.dashboard.server import main

__all__ = ["main"]
