"""QoS lake: every event as Parquet (S3, Glue, Athena on AWS; DuckDB locally)."""

__version__ = "0.1.0"
