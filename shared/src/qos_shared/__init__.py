"""The QoS platform's shared contract: event models, request bodies, and the local event log."""

from qos_shared.events import (
    CLIENT_EVENT_ADAPTER,
    METRIC_TYPES,
    SCHEMA_VERSION,
    Attempt,
    ClientEvent,
    Enrichment,
    Error,
    EventBase,
    Play,
    PlaybackSummary,
    QualityChanged,
    Stop,
    StoredEvent,
)

__all__ = [
    "CLIENT_EVENT_ADAPTER",
    "METRIC_TYPES",
    "SCHEMA_VERSION",
    "Attempt",
    "ClientEvent",
    "Enrichment",
    "Error",
    "EventBase",
    "Play",
    "PlaybackSummary",
    "QualityChanged",
    "Stop",
    "StoredEvent",
]
