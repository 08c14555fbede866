"""The views table: the views log into `views/dt=/hour=` beside the events, restart-safe, with
its own markers and checkpoint, and compacted like the events."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from qos_lake.adapters.files import committed_through, live_dataset_files
from qos_lake.domain.errors import LakeBusy
from qos_lake.domain.layout import EVENTS, VIEWS
from qos_lake.service import CONSUMER, LakeWriter, WriterConfig, compact
from qos_shared.eventlog import EventLog
from qos_shared.testing.views_oracle import views

from ..lake import BASE_MS, HOUR_MS, append, event_ids, summary
from .test_writer import Crash, crash_on_call


def sessions(count: int, start_ms: int, step_ms: int = 20 * 60_000) -> list[dict[str, Any]]:
    """`count` sessions of three summaries a minute apart, one every `step_ms`."""
    out: list[dict[str, Any]] = []
    for n in range(count):
        sid = f"s-{start_ms}-{n}"
        at = start_ms + n * step_ms
        out += [summary(at + i * 60_000, session_id=sid) for i in range(3)]
    return out


def view_ids(root: Path) -> list[str]:
    files = live_dataset_files(root, table=VIEWS)
    return [i for f in files for i in pq.read_table(f).column("event_id").to_pylist()]


def views_writer(log: EventLog, root: Path, **config: Any) -> LakeWriter:
    settings = WriterConfig(**{"flush_records": 1_000, **config})
    return LakeWriter(log, root, settings, table=VIEWS)


@pytest.fixture
def views_log(tmp_path: Path) -> EventLog:
    return EventLog(tmp_path / "views.sqlite", synchronous="NORMAL")


def test_views_land_in_the_partition_of_their_close_time_beside_the_events(
    tmp_path: Path, views_log: EventLog
) -> None:
    events = sessions(8, BASE_MS)  # over midnight: some views close on the next day
    records = views(events)
    root = tmp_path / "lake"
    with EventLog(tmp_path / "events.sqlite") as log:
        append(log, events)
        append(views_log, records)
        # Both writers on one root at once: each holds its own lock, markers and checkpoint.
        events_writer = LakeWriter(log, root)
        writer = views_writer(views_log, root)
        try:
            events_writer.drain()
            writer.drain()
            with pytest.raises(LakeBusy):
                views_writer(views_log, root)
        finally:
            events_writer.close()
            writer.close()
        assert log.checkpoint(CONSUMER) == len(events)
    assert views_log.checkpoint(CONSUMER) == len(records)
    assert committed_through(root, EVENTS) == len(events)
    assert committed_through(root, VIEWS) == len(records)
    assert sorted(event_ids(root)) == sorted(e["event_id"] for e in events)
    for path in live_dataset_files(root, table=VIEWS):
        rows = pq.read_table(path).to_pylist()
        partition = "dt={}/hour={}".format
        for row in rows:
            closed = datetime.fromtimestamp(row["event_time"] / 1000, UTC)
            want = partition(closed.date().isoformat(), closed.strftime("%H"))
            assert path.parent.relative_to(root / "views").as_posix() == want
    assert sorted(view_ids(root)) == sorted(v["event_id"] for v in records)
    days = {p.parent.parent.name for p in live_dataset_files(root, table=VIEWS)}
    assert len(days) == 2, "the views cross midnight"


@pytest.mark.parametrize(
    ("part", "step", "call"),
    [
        ("_files", "_write_file", 2),  # one partition file renamed into place, the next not
        ("_files", "write_marker", 1),  # every partition file in place, no marker
        ("log", "commit", 1),  # marker written, log checkpoint not moved
    ],
)
def test_a_crash_at_any_step_of_a_views_flush_gives_each_view_exactly_once(
    tmp_path: Path,
    views_log: EventLog,
    monkeypatch: pytest.MonkeyPatch,
    part: str,
    step: str,
    call: int,
) -> None:
    root = tmp_path / "lake"
    committed = views(sessions(4, BASE_MS - 6 * HOUR_MS))
    append(views_log, committed)
    w = views_writer(views_log, root)
    w.drain()
    in_flight = views(sessions(6, BASE_MS, step_ms=HOUR_MS // 2))  # over three hours
    append(views_log, in_flight)
    w.poll()
    target = getattr(w, part)
    monkeypatch.setattr(target, step, crash_on_call(getattr(target, step), call))
    with pytest.raises(Crash):
        w.flush()
    monkeypatch.undo()
    w.close()
    seen = sorted(view_ids(root))
    if step == "commit":
        assert seen == sorted(v["event_id"] for v in committed + in_flight)
    else:  # readers do not see a flush without its marker
        assert seen == sorted(v["event_id"] for v in committed)
    later = views(sessions(2, BASE_MS + 9 * HOUR_MS))
    append(views_log, later)
    restarted = views_writer(views_log, root)
    if step != "commit":
        assert restarted.recovery.removed
    restarted.drain()
    restarted.close()
    counts = Counter(view_ids(root))
    assert set(counts) == {v["event_id"] for v in committed + in_flight + later}
    assert max(counts.values()) == 1
    assert views_log.checkpoint(CONSUMER) == views_log.last_position()
    assert not list(root.rglob(".tmp-*"))
    assert not (root / "events").exists(), "the views writer touches only its table"


def test_compaction_merges_the_views_partitions_too(tmp_path: Path, views_log: EventLog) -> None:
    root = tmp_path / "lake"
    records = views(sessions(12, BASE_MS - 3 * HOUR_MS, step_ms=5 * 60_000))
    append(views_log, records)
    w = views_writer(views_log, root, flush_records=3)
    w.drain()
    w.close()
    before = live_dataset_files(root, table=VIEWS)
    assert len(before) > len({p.parent for p in before}), "several files in some partition"
    done = compact(root)
    assert any(c.merged is not None for c in done)
    after = live_dataset_files(root, table=VIEWS)
    assert len(after) == len({p.parent for p in after})
    assert sorted(view_ids(root)) == sorted(v["event_id"] for v in records)
