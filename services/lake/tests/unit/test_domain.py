"""The domain is pure (no engine is imported with it) and its partition arithmetic is the UTC
calendar's."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from qos_lake.domain.layout import overlaps, partition_dir, partition_start_ms
from qos_lake.domain.queries import QueryParams


def test_the_domain_imports_no_engine() -> None:
    code = (
        "import sys, qos_lake.domain.layout, qos_lake.domain.schema, qos_lake.domain.queries,"
        " qos_lake.domain.errors; print(sorted(m for m in ('pyarrow', 'duckdb', 'sqlglot',"
        " 'orjson', 'boto3') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_partition_starts_at_its_utc_hour_and_covers_one_hour(tmp_path: Path) -> None:
    start = datetime(2026, 11, 1, 23, tzinfo=UTC)
    start_ms = int(start.timestamp() * 1000)
    partition = partition_dir(tmp_path, int(start.timestamp()) // 3600)
    assert partition == tmp_path / "events/dt=2026-11-01/hour=23"
    assert partition_start_ms(partition) == start_ms
    assert overlaps(partition, start_ms + 3_599_999, None)
    assert not overlaps(partition, start_ms + 3_600_000, None)
    assert overlaps(partition, None, start_ms + 1) and not overlaps(partition, None, start_ms)
    assert overlaps(partition, None, None)


def test_the_days_of_a_range_are_its_dt_names() -> None:
    params = QueryParams(date(2026, 12, 30), date(2027, 1, 2))
    assert params.days() == {"2026-12-30", "2026-12-31", "2027-01-01", "2027-01-02"}
    assert QueryParams(date(2026, 1, 1), date(2026, 1, 1)).days() == {"2026-01-01"}
