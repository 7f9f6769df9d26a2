"""Dagster pools: concurrency limits shared by every run of the instance."""

DUCKDB_POOL = "duckdb"
"""Steps whose work is writing DuckDB (one writing process per file): limit 1 in the instance config."""
