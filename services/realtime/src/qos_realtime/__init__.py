"""QoS realtime: 60-second event-time windows over the event stream, KPIs from the shared metric catalogue, the Managed Service for Apache Flink job and the CloudWatch publisher."""

__version__ = "0.1.0"
