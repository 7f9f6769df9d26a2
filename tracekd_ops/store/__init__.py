"""Storage: the project's DuckDB file, its schema, one writer at a time, atomic partitions.

Owns the connection discipline (`store.py`: file lock, transactions, `StoreBusy`) and typed reads
of the data tables (`tables.py`). Imports only `core`. Each table's rows are written by the wing
that owns the table (e.g. the registry index, the teacher cache), through `Store`.
"""
