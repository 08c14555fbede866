"""QoS realtime: event-time window KPIs (local engine, Flink job, CloudWatch publisher)."""

__version__ = "0.1.0"
