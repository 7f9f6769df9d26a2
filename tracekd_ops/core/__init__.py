"""Values every wing shares: the canonical QA record, the lineage keys, what a stored table is
(`tables.py`: the record each wing declares its tables with, and the column meanings shared across
wings), secret redaction and the one retry loop. Owns no I/O. Imports nothing else of `tracekd_ops`."""
