"""Realtime's use cases: `consumer` runs the event log into windows and the metric store (locally,
on DuckDB); `publisher` sends window rows to CloudWatch (the Lambda, which has no DuckDB: hence
two modules, imported apart)."""
