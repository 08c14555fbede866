"""The lake's engines: Arrow and Parquet files, DuckDB, the file system and the event log."""
