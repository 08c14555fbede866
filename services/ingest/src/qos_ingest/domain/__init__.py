"""Ingest's domain: from a request's bytes to validated, enriched records and per-event rejections.

Pure functions and small value objects; nothing here knows about HTTP frameworks, Lambda or boto3.
"""

from qos_ingest.domain.ingest import (
    AcceptedEvent,
    BodyTooLarge,
    ClockCorrection,
    IngestConfig,
    IngestRequest,
    IngestResult,
    Rejection,
    clock_correction,
    ingest,
)

__all__ = [
    "AcceptedEvent",
    "BodyTooLarge",
    "ClockCorrection",
    "IngestConfig",
    "IngestRequest",
    "IngestResult",
    "Rejection",
    "clock_correction",
    "ingest",
]
