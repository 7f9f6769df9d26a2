"""Assertions that a secret (API key, Hub token) went nowhere TraceKD writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from dagster import DagsterInstance


def assert_secret_absent(secret: str, instance: DagsterInstance, home: Path, extra_files: Iterable[Path] = ()) -> None:
    """Not in any DuckDB table, Dagster event (logs, metadata), or file under the TraceKD home
    (model cards, configs, reports; weights are skipped as binary)."""
    from tracekd_ops.steps.catalog import CATALOG
    from tracekd_ops.store.store import Store

    store = Store(home / "tracekd.duckdb", tables=CATALOG)
    assert secret not in json.dumps({table: store.rows(f"SELECT * FROM {table}") for table in CATALOG.names()}, default=str)
    events = [str(record) for run in instance.get_runs() for record in instance.all_logs(run.run_id)]
    assert events and not any(secret in event for event in events)
    for path in [*home.rglob("*"), *extra_files]:
        if path.is_file() and path.suffix not in (".safetensors", ".duckdb", ".bin", ".pt"):
            assert secret.encode() not in path.read_bytes(), path
