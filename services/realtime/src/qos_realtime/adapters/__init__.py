"""Realtime's adapters: the DuckDB window engine, the SQLite metric store and its reader, the
CloudWatch sink, and the Flink job's SQL and tables (`flink`, which imports only the standard
library and the catalogue, as the application zip vendors it)."""
