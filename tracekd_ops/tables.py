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


def latest_registered(store: Store, dataset: str, condition: str, base_model: str, seed: int) -> dict[str, Any]:
    """The newest registry row for a student; an error naming the student if none is registered."""
    rows = store.rows(
        """SELECT * FROM registry WHERE dataset = ? AND condition = ? AND base_model = ? AND seed = ?
           AND status = 'registered' ORDER BY created_at DESC LIMIT 1""",
        [dataset, condition, base_model, seed],
    )
    if not rows:
        raise LookupError(
            f"no registered student for dataset={dataset} condition={condition} base_model={base_model} seed={seed}"
        )
    return rows[0]
