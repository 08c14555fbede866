"""The Managed Service for Apache Flink job: window SQL, table DDL, entrypoint and packaging.

`sql` and `tables` render Flink SQL text from the metric catalogue and import no pyflink, so the
rest of the realtime package (and mypy) works without it; only `main` runs a job. The job's
modules import nothing outside the standard library and `qos_shared.catalogue[_sql]`, because the
application zip vendors exactly those (see `package`).
"""
