"""QoS lake: Parquet lake of every event (S3 + Glue + Athena on AWS, the same layout and queries on DuckDB locally)."""

__version__ = "0.1.0"
