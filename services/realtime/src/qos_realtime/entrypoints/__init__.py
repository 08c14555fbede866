"""Entrypoints: the local engine's process (`local_engine`), the publisher Lambda's handler
(`publisher_lambda`) and the Managed Service for Apache Flink job's main (`flink_job`)."""
