"""Typed reads of the data tables (`raw_examples`, `traces`, `trace_sets`, `predictions`), shared by the
steps and tests: the steps hold no SQL of their own."""

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


def trace_set_style(store: Store, dataset: str, condition: str) -> str | None:
    """The style a stored trace set was written in; None when there is none."""
    rows = store.rows("SELECT style FROM trace_sets WHERE dataset = ? AND condition = ?", [dataset, condition])
    return rows[0]["style"] if rows else None


def trace_set_datasets(store: Store) -> list[str]:
    """Every dataset with a stored trace set."""
    return [r["dataset"] for r in store.rows("SELECT DISTINCT dataset FROM trace_sets ORDER BY dataset")]


def current_train_traces(store: Store, dataset: str) -> list[dict[str, Any]]:
    """The training traces of every condition's current trace set of `dataset`."""
    return store.rows(
        "SELECT t.* FROM traces t JOIN trace_sets s USING (dataset, condition, trace_set_version) "
        "WHERE t.dataset = ? AND t.split = 'train' ORDER BY t.condition, t.example_id",
        [dataset],
    )


def read_predictions(store: Store, dataset: str, condition: str, except_trace_set: str) -> list[dict[str, Any]]:
    """The stored predictions of one condition's students, by run, leaving out one trace set's."""
    return store.rows(
        "SELECT * FROM predictions WHERE dataset = ? AND condition = ? AND trace_set_version <> ? ORDER BY student, base_model, seed",
        [dataset, condition, except_trace_set],
    )

