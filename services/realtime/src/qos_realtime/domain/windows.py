"""Event-time windows: their configuration, and what loading a batch of records into them gives.

Pure data and arithmetic; the engines (DuckDB locally, Flink on AWS) do the windowing itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qos_shared.views import DEFAULT_RULES, ViewRules


@dataclass(frozen=True, slots=True)
class WindowConfig:
    window_s: int = 60
    allowed_lateness_s: float = 5.0
    top_n_channels: int = 10
    views: ViewRules = DEFAULT_RULES
    # The share of active sessions whose event time moves the watermark (the k-th latest, k at
    # least 2): a single client cannot.
    watermark_quorum: float = 0.01
    # A closed window keeps its records until the watermark is this far past its end: a record
    # for it that comes until then revises it (its rows are computed again, over every record);
    # later, the record is late (counted, never aggregated). 0: a closed window is final.
    revision_horizon_s: float = 600.0

    def __post_init__(self) -> None:
        if not 1 <= self.window_s <= 3600:
            raise ValueError("window_s must be between 1 and 3600 seconds")
        if self.allowed_lateness_s < 0:
            raise ValueError("allowed_lateness_s must be >= 0")
        if self.revision_horizon_s < 0:
            raise ValueError("revision_horizon_s must be >= 0")
        if not 0 < self.watermark_quorum <= 1:
            raise ValueError("watermark_quorum is a share of sessions, in (0, 1]")
        if self.top_n_channels < 1:
            raise ValueError("top_n_channels must be >= 1")

    @property
    def window_ms(self) -> int:
        return self.window_s * 1000

    @property
    def horizon_ms(self) -> int:
        return int(self.revision_horizon_s * 1000)


@dataclass(slots=True)
class BatchResult:
    added: int = 0
    late: dict[int, int] = field(default_factory=dict)  # window_start -> late records
    # window_start -> records that came after their window closed, within the revision horizon
    revising: dict[int, int] = field(default_factory=dict)
    skipped: int = 0  # replayed records already accounted for before a restart
