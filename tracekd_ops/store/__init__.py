"""Storage: the project's DuckDB file (or DuckLake), one writer at a time, atomic partitions, and
the sandbox `tracekd query` runs in.

Owns the connection discipline (`store.py`: file lock, transactions, `StoreBusy`, the read-only
query) and nothing about any one table: each wing declares the tables it writes and holds their
queries (`<wing>/tables.py`), `steps.catalog` gathers them, and a `Store` is handed that catalog to
create, upgrade and comment. Imports only `core`.
"""
