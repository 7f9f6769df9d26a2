"""The tables the datasets step writes, `raw_examples` (one row per question) and
`dataset_versions` (where each partition came from), and the typed reads of them every later step
uses: a table's schema and its queries side by side."""

from __future__ import annotations

from typing import Any

from tracekd_ops.core.records import QARecord
from tracekd_ops.core.tables import Reader, Table

MEANINGS: dict[str, str] = {
    "split": "the dataset split the question belongs to: train or test",
    "question": "the question's text (whitespace folded)",
}
"""Column meanings shared by this wing's tables (and any SQL model column of that name); those
shared across wings are `core.tables.MEANINGS`."""

RAW_EXAMPLES = Table(
    name="raw_examples",
    columns="""
        dataset VARCHAR NOT NULL, split VARCHAR NOT NULL, example_id VARCHAR NOT NULL,
        category VARCHAR NOT NULL, question VARCHAR NOT NULL,
        facts STRUCT(id INTEGER, text VARCHAR)[] NOT NULL, answers VARCHAR[] NOT NULL,
        gold_fact_ids INTEGER[] NOT NULL, source VARCHAR NOT NULL, extra VARCHAR
    """,
    comment="canonical QA records of each dataset, one per question (asset raw_examples)",
    column_comments={
        "example_id": "the question's id in its dataset (stable: traces, predictions and ratings refer to it)",
        "facts": "the question's context facts in order, each with its id (stable within the question) and text",
        "answers": "gold answers: the first is canonical, the rest aliases (whitespace folded, never empty)",
        "source": "where the record came from: file and line, hf: id and row, or the generator and its seed",
        "extra": "JSON of loader details (e.g. bAbI task and story; CoTempQA triple_element and answer_items); {}: none",
    },
)

DATASET_VERSIONS = Table(
    name="dataset_versions",
    columns="""
        dataset VARCHAR NOT NULL, source VARCHAR NOT NULL, protocol VARCHAR NOT NULL, content_hash VARCHAR NOT NULL,
        rows INTEGER NOT NULL, left_out VARCHAR, notes VARCHAR, loaded_at TIMESTAMP NOT NULL
    """,
    comment="each stored dataset partition's source, protocol and content hash (asset raw_examples)",
    column_comments={
        "source": "where the dataset was read from: a path, an hf: id, or generated",
        "protocol": "which questions and split were used: reference (the study's subsets), full, or generated",
        "content_hash": "hash (16 hex) of the stored questions in a fixed order: same questions read the same way, same hash",
        "rows": "questions stored for the dataset (both splits)",
        "left_out": "JSON: questions the loader's screening left out, by reason; NULL or {}: none",
        "notes": "JSON: what the loader noted on questions it kept (e.g. an empty answer list), by note",
        "loaded_at": "when the dataset partition was stored (UTC)",
    },
)

TABLES = (RAW_EXAMPLES, DATASET_VERSIONS)


def read_records(store: Reader, dataset: str, split: str | None = None) -> list[QARecord]:
    sql = "SELECT * FROM raw_examples WHERE dataset = ?"
    params: list[Any] = [dataset]
    if split is not None:
        sql += " AND split = ?"
        params.append(split)
    rows = store.rows(sql + " ORDER BY split, example_id", params)
    return [QARecord.from_row(row) for row in rows]


def train_records(store: Reader, dataset: str) -> list[QARecord]:
    """A dataset's stored training questions, what the teacher is asked and traces are built from;
    an error saying what to materialize when there are none."""
    train = read_records(store, dataset, "train")
    if not train:
        raise ValueError(f"raw_examples has no train rows for dataset {dataset!r}: materialize raw_examples first")
    return train


def dataset_version(store: Reader, dataset: str) -> tuple[str, str]:
    """(source, content hash) of the stored raw partition; `unknown` for one stored before
    TraceKD recorded them."""
    rows = store.rows("SELECT source, content_hash FROM dataset_versions WHERE dataset = ?", [dataset])
    return (rows[0]["source"], rows[0]["content_hash"]) if rows else ("unknown", "unknown")
