"""The lake's use cases: write what the event log holds into the lake and compact it
(`service.writer`), and read it back (`service.reader`).

Two modules because the two sides share nothing but the lake's layout: the writer is the log's
consumer and owns the files, the reader only lists and queries what is committed.
"""

from qos_lake.service.reader import (
    TAIL_CAP,
    LakeAnswer,
    LakeReader,
    Sessions,
    Timeline,
    run_query,
)
from qos_lake.service.writer import (
    CONSUMER,
    LOCK_FILE,
    WORKERS,
    FlushResult,
    LakeWriter,
    Recovery,
    WriterConfig,
    compact,
    write_log,
)

__all__ = [
    "CONSUMER",
    "LOCK_FILE",
    "TAIL_CAP",
    "WORKERS",
    "FlushResult",
    "LakeAnswer",
    "LakeReader",
    "LakeWriter",
    "Recovery",
    "Sessions",
    "Timeline",
    "WriterConfig",
    "compact",
    "run_query",
    "write_log",
]
