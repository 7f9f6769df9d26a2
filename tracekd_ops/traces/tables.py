"""The tables the traces step writes, `traces` (one training trace per question and condition)
and `trace_sets` (each set's version and counts), and the typed reads of them the training and
rating steps use: a table's schema and its queries side by side."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tracekd_ops.core.tables import Reader, Table

MEANINGS: dict[str, str] = {
    "style": "how the trace's steps are worded: sentences (the reference study's) or compact",
    "corrupted_rows": "traces with a corrupted class or fact step (condition incorrect; 0 for the others)",
}
"""Column meanings shared by this wing's tables (and any SQL model column of that name); those
shared across wings are `core.tables.MEANINGS`."""

TRACES = Table(
    name="traces",
    columns="""
        dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL, split VARCHAR NOT NULL,
        example_id VARCHAR NOT NULL, prompt VARCHAR NOT NULL, completion VARCHAR NOT NULL,
        gold_class VARCHAR NOT NULL, gold_fact_ids INTEGER[] NOT NULL, gold_answers VARCHAR[] NOT NULL,
        story_fact_ids INTEGER[] NOT NULL, rendered_class VARCHAR, rendered_fact_ids INTEGER[],
        rendered_answer VARCHAR NOT NULL, class_corrupted BOOLEAN NOT NULL,
        facts_corrupted BOOLEAN NOT NULL, trace_set_version VARCHAR NOT NULL,
        style VARCHAR, trace_source_id VARCHAR, teacher_answer VARCHAR, construction VARCHAR
    """,
    comment="training traces, one per question and trace condition (asset traces)",
    column_comments={
        "split": "the dataset split of the question (traces are built for training questions: train)",
        "trace_set_version": "content hash of this trace set (its questions' prompts and completions)",
        "completion": "what the student learns to write: the trace in <think></think> (if any), then <answer>gold</answer>",
        "story_fact_ids": "ids of every fact the question's prompt shows",
        "rendered_class": "the class label the trace states (may be corrupted or borrowed); NULL: the trace states no class",
        "rendered_fact_ids": "the fact ids the trace states (may be corrupted or borrowed); NULL: the trace states no facts",
        "rendered_answer": "the answer the completion ends with (always the gold answer)",
        "class_corrupted": "whether the class label was deliberately made wrong (condition incorrect)",
        "facts_corrupted": "whether the fact ids were deliberately made wrong (condition incorrect)",
        "trace_source_id": "example_id of the question whose trace this is (another question's for swapped); NULL in older rows",
        "teacher_answer": "the teacher's own answer for the teacher conditions; NULL for the others",
        "construction": "JSON of how the trace was built: corruption rule, donor question, or teacher model and request hashes",
    },
)

TRACE_SETS = Table(
    name="trace_sets",
    columns="""
        dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL, trace_set_version VARCHAR NOT NULL,
        style VARCHAR NOT NULL, rows INTEGER NOT NULL, questions INTEGER NOT NULL,
        left_out VARCHAR NOT NULL, corrupted_rows INTEGER NOT NULL, settings VARCHAR NOT NULL,
        teacher VARCHAR, mean_trace_words DOUBLE, created_at TIMESTAMP NOT NULL
    """,
    comment="each trace set's version, condition, counts and construction notes (asset traces)",
    column_comments={
        "trace_set_version": "content hash of this trace set (its questions' prompts and completions)",
        "rows": "traces in the set (training questions the condition could use)",
        "questions": "training questions the set was built from (rows plus those left out)",
        "left_out": "JSON: questions the condition could not use, by reason (no gold fact, teacher wrong, ...)",
        "settings": "JSON of the settings that shaped the set: seed, style, and the corruption rule for incorrect",
        "teacher": "JSON: how the teacher did (model, answered, failed, correct, kept, kept_rate); NULL: no teacher condition",
        "mean_trace_words": "mean length in words of the set's traces (the <think> part); NULL: no traces",
        "created_at": "when the trace set was stored (UTC)",
    },
)

TABLES = (TRACES, TRACE_SETS)


def read_traces(store: Reader, dataset: str, condition: str) -> pd.DataFrame:
    return store.frame(
        "SELECT * FROM traces WHERE dataset = ? AND condition = ? ORDER BY example_id", [dataset, condition]
    )


def trace_set_style(store: Reader, dataset: str, condition: str) -> str | None:
    """The style a stored trace set was written in; None when there is none."""
    rows = store.rows("SELECT style FROM trace_sets WHERE dataset = ? AND condition = ?", [dataset, condition])
    return rows[0]["style"] if rows else None


def trace_set_datasets(store: Reader) -> list[str]:
    """Every dataset with a stored trace set."""
    return [r["dataset"] for r in store.rows("SELECT DISTINCT dataset FROM trace_sets ORDER BY dataset")]


def current_train_traces(store: Reader, dataset: str) -> list[dict[str, Any]]:
    """The training traces of every condition's current trace set of `dataset`."""
    return store.rows(
        "SELECT t.* FROM traces t JOIN trace_sets s USING (dataset, condition, trace_set_version) "
        "WHERE t.dataset = ? AND t.split = 'train' ORDER BY t.condition, t.example_id",
        [dataset],
    )
