"""The lake table as data: its columns and their kinds, its partition keys, how files lay rows out.

One column per known field of the shared record schema (`qos_shared.record_schema.column_types()`),
in that order; `extra_fields` (a JSON object) is stored as JSON text. `dt` and `hour` are not
columns in the files: they are the Hive partition path (`events/dt=YYYY-MM-DD/hour=HH/`), from
`event_time` in UTC. The Arrow schema and the Parquet options made of these are
`adapters.arrow`'s (they need pyarrow's types).
"""

from __future__ import annotations

from qos_shared.record_schema import ColumnType, column_types

PARTITION_KEYS = ("dt", "hour")
TIME_COLUMN = "event_time"

# How the files lay out their rows and columns: within a file, the rows of a metric type, then of
# a session, together (in log order within a session). A session's records share most of their
# columns (platform, channel, place, device, user), so those become long runs, and a query's
# per-type and per-session work reads them in order.
SORT_COLUMNS = ("metric_type", "session_id")
# About one value per record: a dictionary would only overflow and fall back on every file. The
# times are delta-encoded (records arrive roughly in time order), the ids stored plain.
DELTA_COLUMNS = ("event_time", "received_at")
PLAIN_COLUMNS = ("event_id",)
# Min/max statistics: every number, time and flag, but of the text columns only those queries
# filter on (the others' ranges span every file, prune nothing, and cost a fifth of the writing).
FILTERED_TEXT_COLUMNS = ("metric_type", "client_platform", "channel_watched", "viewer_country")
COMPRESSION = "zstd"


def lake_columns() -> dict[str, ColumnType]:
    """Every column of a lake file and its kind, in file order (partition keys excluded)."""
    return column_types()
