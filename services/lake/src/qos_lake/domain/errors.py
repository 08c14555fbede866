"""What goes wrong on a lake, as the lake says it (entrypoints turn these into exit codes)."""

from __future__ import annotations


class LakeBusy(RuntimeError):
    """Another writer holds the lake root."""


class CompactBusy(RuntimeError):
    """Another compaction is running on the same lake root."""


class LakeQueryError(Exception):
    """A query that cannot run on this lake (reported to people as one line)."""


class EmptyLake(LakeQueryError):
    """The lake holds no committed data."""


class NoDataInRange(LakeQueryError):
    """The lake holds no data in the days asked for."""


class LakeChanged(RuntimeError):
    """A lake file went away during a read (a compaction): the caller may retry."""
