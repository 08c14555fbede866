"""QoS search-indexer: events into OpenSearch, and Dashboards saved objects as code."""

__version__ = "0.1.0"
