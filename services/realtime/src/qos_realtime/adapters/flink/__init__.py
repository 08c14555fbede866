"""The Managed Service for Apache Flink job's SQL: window views and table DDL.

`sql` and `tables` render Flink SQL text from the metric catalogue and import no pyflink, so the
rest of the realtime package (and mypy) works without it; only the job's main
(`qos_realtime.entrypoints.flink_job`) runs a job. These modules import nothing outside the
standard library and `qos_shared.catalogue[_sql]`, because the application zip vendors exactly
those (see `qos_realtime.flink_package`).
"""
