"""The lake table as data: its columns and their kinds, its partition keys, how files lay rows out.

The `events` table: one column per known field of the shared record schema
(`qos_shared.record_schema.column_types()`), in that order; `extra_fields` (a JSON object) is
stored as JSON text. `dt` and `hour` are not columns in the files: they are the Hive partition
path (`events/dt=YYYY-MM-DD/hour=HH/`), from `event_time` in UTC. The `views` table: one column
per field of a view's record (`qos_shared.views.VIEW_FIELDS`), partitioned the same way by its
`event_time` (the view's close time). The Arrow schemas and the Parquet options made of these
are `adapters.arrow`'s (they need pyarrow's types).
"""

from __future__ import annotations

from qos_lake.domain.layout import EVENTS, VIEWS, Table
from qos_shared.record_schema import ColumnType, column_types
from qos_shared.views import view_column_types

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
    """Every column of an `events` file and its kind, in file order (partition keys excluded)."""
    return column_types()


def view_columns() -> dict[str, ColumnType]:
    """Every column of a `views` file and its kind: a view record's fields
    (`qos_shared.views.VIEW_FIELDS`), in their order (partition keys excluded)."""
    kinds: dict[str, ColumnType] = {}
    for name, kind in view_column_types().items():
        if kind not in ("string", "int", "float", "bool"):
            raise ValueError(f"a view field of an unknown kind: {name} {kind}")
        kinds[name] = kind  # type: ignore[assignment]
    return kinds


def table_columns(table: Table) -> dict[str, ColumnType]:
    """The columns of a table's files."""
    if table == EVENTS:
        return lake_columns()
    if table == VIEWS:
        return view_columns()
    raise ValueError(f"no such table: {table.name}")
