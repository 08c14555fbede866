"""QoS ingest: validate and enrich player events, then hand them durably to the stream."""

__version__ = "0.1.0"
