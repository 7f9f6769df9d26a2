"""Typed reads of the data tables (`raw_examples`, `traces`), shared by the steps and tests."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tracekd_ops.core.records import QARecord
from tracekd_ops.store.store import Store


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


def dataset_version(store: Store, dataset: str) -> tuple[str, str]:
    """(source, content hash) of the stored raw partition; `unknown` for one stored before
    TraceKD recorded them."""
    rows = store.rows("SELECT source, content_hash FROM dataset_versions WHERE dataset = ?", [dataset])
    return (rows[0]["source"], rows[0]["content_hash"]) if rows else ("unknown", "unknown")
