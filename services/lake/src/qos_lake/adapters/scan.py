"""What a named query reads of the lake, the measure Athena bills by: the columns its text names
and the compressed bytes of each column over a set of Parquet files (the sum of the column
chunks' sizes; Athena reads only the columns a query projects)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp


def query_columns(duckdb_text: str, names: set[str]) -> set[str]:
    """The lake columns among `names` that a query's DuckDB text names."""
    tree = sqlglot.parse_one(duckdb_text, read="duckdb")
    return {c.name for c in tree.find_all(exp.Column) if c.name in names}


def column_bytes(files: list[Path]) -> dict[str, int]:
    """Compressed bytes of each column over the files."""
    sizes: dict[str, int] = {}
    for path in files:
        meta = pq.ParquetFile(path).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                chunk = group.column(c)
                name = chunk.path_in_schema
                sizes[name] = sizes.get(name, 0) + chunk.total_compressed_size
    return sizes
