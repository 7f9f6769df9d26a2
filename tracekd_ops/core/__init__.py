"""Values every wing shares: the canonical QA record, the lineage keys, secret redaction and the
one retry loop. Owns no I/O. Imports nothing else of `tracekd_ops`."""
