"""QoS search-indexer: events into OpenSearch daily indices, with OpenSearch Dashboards saved objects generated from the metric catalogue."""

__version__ = "0.1.0"
