"""Typed reads of the project's DuckDB tables, shared by assets, checks and tests."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tracekd_ops.records import QARecord
from tracekd_ops.store import Store


def read_records(store: Store, dataset: str, split: str | None = None) -> list[QARecord]:
    sql = "SELECT * FROM raw_examples WHERE dataset = ?"
    params: list[Any] = [dataset]
    if split is not None:
        sql += " AND split = ?"
        params.append(split)
    rows = store.rows(sql + " ORDER BY split, example_id", params)
    return [QARecord.from_row(row) for row in rows]


def read_traces(store: Store, dataset: str, condition: str) -> pd.DataFrame:
    return store.frame(
        "SELECT * FROM traces WHERE dataset = ? AND condition = ? ORDER BY example_id", [dataset, condition]
    )


def registered_students(store: Store, dataset: str, condition: str) -> list[dict[str, Any]]:
    """The newest registered revision of every (base model, seed) trained on this trace set."""
    return store.rows(
        """SELECT * FROM registry WHERE dataset = ? AND condition = ? AND status = 'registered'
           QUALIFY row_number() OVER (PARTITION BY base_model, seed ORDER BY created_at DESC) = 1
           ORDER BY base_model, seed""",
        [dataset, condition],
    )


def registry_row(store: Store, revision: str) -> dict[str, Any]:
    rows = store.rows("SELECT * FROM registry WHERE revision = ?", [revision])
    if not rows:
        raise LookupError(f"no registry row for revision {revision!r}")
    return rows[0]


