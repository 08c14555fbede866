"""The one place the lake is wired: settings in, a ready writer or reader out."""

from __future__ import annotations

from qos_lake.domain.layout import VIEWS
from qos_lake.service import LakeReader, LakeWriter, WriterConfig
from qos_lake.settings import LakeSettings
from qos_shared.eventlog import EventLog


def writer_config(settings: LakeSettings) -> WriterConfig:
    return WriterConfig(
        flush_records=settings.flush_records,
        flush_seconds=settings.flush_seconds,
        read_batch=settings.read_batch,
        poll_interval_s=settings.poll_interval_s,
        keep_markers=settings.keep_markers,
    )


def open_log(settings: LakeSettings) -> EventLog:
    """The event log the writer consumes (raises `EventLogError` / `OSError` if it cannot)."""
    return EventLog(settings.log_path)


def open_views_log(settings: LakeSettings) -> EventLog:
    """The views log the views writer consumes (created if the realtime engine has not yet)."""
    settings.views_log.parent.mkdir(parents=True, exist_ok=True)
    return EventLog(settings.views_log)


def build_writer(settings: LakeSettings, event_log: EventLog) -> LakeWriter:
    """A writer of `event_log` into the settings' lake root (raises `LakeBusy` when another
    writer holds it)."""
    return LakeWriter(event_log, settings.lake_root, writer_config(settings))


def build_views_writer(settings: LakeSettings, views_log: EventLog) -> LakeWriter:
    """A writer of the views log into the lake's `views` table (raises `LakeBusy` when another
    views writer holds the root)."""
    return LakeWriter(views_log, settings.lake_root, writer_config(settings), table=VIEWS)


def build_reader(settings: LakeSettings | None = None) -> LakeReader:
    settings = settings or LakeSettings()
    return LakeReader(settings.lake_root, settings.log_path)
