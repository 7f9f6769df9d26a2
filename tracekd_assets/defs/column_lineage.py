"""Column-level lineage of the core tables, as Dagster shows it (`dagster/column_lineage` on each
materialization). The SQL models get theirs from their SQL (sqlglot); the core tables are written by
Python steps, so their lineage is declared here, column by column, from what the steps do — and a
test holds every named column to the stored schema, so a renamed or dropped column fails it.

Only the primary table of each asset (`dagster/table_name`) is described: Dagster keeps one column
lineage per asset."""

from __future__ import annotations

from typing import Mapping

from dagster import AssetKey, TableColumnDep, TableColumnLineage

TABLE_PRODUCERS = {
    "dataset_versions": "raw_examples",
    "trace_sets": "traces",
    "registry": "student",
    "teacher_requests": "teacher_responses",
    "teacher_request_questions": "teacher_responses",
    "contingency": "metrics",
    "reference_ratings": "reference_results",
    "rating_item_sets": "rating_items",
    "rating_summary": "rating_analysis",
    "rating_tests": "rating_analysis",
    "rating_participants": "rating_analysis",
    "reference_contingency": "reference_results",
    "external_files": "published_students",
    "external_lines": "published_students",
}
"""DuckDB tables written by an asset of another name (as a side table); every other table is the
asset of its own name."""


def producer(table: str) -> AssetKey:
    """The asset that writes a DuckDB table."""
    return AssetKey(TABLE_PRODUCERS.get(table, table))


Sources = tuple[tuple[str, str], ...]
"""(table, column) pairs a column is computed from."""

_RUN_KEYS_FROM_REGISTRY: dict[str, Sources] = {
    key: (("registry", key),) for key in ("dataset", "condition", "student", "base_model", "seed", "trace_set_version")
} | {"model_revision": (("registry", "revision"),)}
_FROM_PREDICTIONS: dict[str, Sources] = {
    key: (("predictions", key),) for key in ("dataset", "condition", "student", "base_model", "seed", "trace_set_version",
                                             "model_revision", "eval_split", "scorer_version", "dataset_source", "dataset_hash")  # fmt: skip
}

CORE_COLUMN_LINEAGE: dict[str, dict[str, Sources]] = {
    "traces": {
        "dataset": (("raw_examples", "dataset"),),
        "split": (("raw_examples", "split"),),
        "example_id": (("raw_examples", "example_id"),),
        "prompt": (("raw_examples", "question"), ("raw_examples", "facts")),
        "completion": (("raw_examples", "category"), ("raw_examples", "facts"), ("raw_examples", "gold_fact_ids"),
                       ("raw_examples", "answers"), ("teacher_requests", "content")),  # fmt: skip
        "gold_class": (("raw_examples", "category"),),
        "gold_fact_ids": (("raw_examples", "gold_fact_ids"),),
        "gold_answers": (("raw_examples", "answers"),),
        "story_fact_ids": (("raw_examples", "facts"),),
        "rendered_class": (("raw_examples", "category"),),
        "rendered_fact_ids": (("raw_examples", "gold_fact_ids"), ("raw_examples", "facts")),
        "rendered_answer": (("raw_examples", "answers"), ("teacher_requests", "content")),
        "teacher_answer": (("teacher_requests", "content"),),
    },
    "registry": {
        "dataset": (("traces", "dataset"),),
        "condition": (("traces", "condition"),),
        "trace_set_version": (("traces", "trace_set_version"),),
    },
    "predictions": {
        **_RUN_KEYS_FROM_REGISTRY,
        "dataset_hash": (("dataset_versions", "content_hash"),),
        "dataset_source": (("dataset_versions", "source"),),
        "example_id": (("raw_examples", "example_id"),),
        "category": (("raw_examples", "category"),),
        "prompt": (("raw_examples", "question"), ("raw_examples", "facts")),
        "gold_class": (("raw_examples", "category"),),
        "gold_fact_ids": (("raw_examples", "gold_fact_ids"),),
        "gold_answers": (("raw_examples", "answers"),),
        "class_correct": (("raw_examples", "category"),),  # against the parsed output, made here
        "ir_exact": (("raw_examples", "gold_fact_ids"),),
        "ir_precision": (("raw_examples", "gold_fact_ids"),),
        "ir_recall": (("raw_examples", "gold_fact_ids"),),
        "trace_correct": (("raw_examples", "category"), ("raw_examples", "gold_fact_ids")),
        "answer_correct": (("raw_examples", "answers"),),
    },
    "metrics": {
        **_FROM_PREDICTIONS,
        "answer_accuracy": (("predictions", "answer_correct"),),
        "answer_accuracy_ci_low": (("predictions", "answer_correct"),),
        "answer_accuracy_ci_high": (("predictions", "answer_correct"),),
        "class_accuracy": (("predictions", "class_correct"),),
        "ir_exact_accuracy": (("predictions", "ir_exact"),),
        "ir_precision": (("predictions", "ir_precision"),),
        "ir_recall": (("predictions", "ir_recall"),),
        "ir_f1": (("predictions", "ir_precision"), ("predictions", "ir_recall")),
        "trace_accuracy": (("predictions", "trace_correct"),),
        "trace_accuracy_ci_low": (("predictions", "trace_correct"),),
        "trace_accuracy_ci_high": (("predictions", "trace_correct"),),
        **{cell: (("predictions", "trace_correct"), ("predictions", "answer_correct"))
           for cell in ("n_trace_ok_answer_ok", "n_trace_ok_answer_wrong", "n_trace_wrong_answer_ok", "n_trace_wrong_answer_wrong",
                        "chi2", "chi2_p", "fisher_p", "phi", "phi_ci_low", "phi_ci_high", "share_both_correct",
                        "p_answer_given_trace_correct", "p_answer_given_trace_wrong")},  # fmt: skip
        "trace_bleu": (("predictions", "output"), ("predictions", "gold_class"), ("predictions", "gold_fact_ids")),
        "chance_accuracy": (("raw_examples", "category"), ("raw_examples", "answers")),
        "majority_accuracy": (("raw_examples", "category"), ("raw_examples", "answers")),
    },
    "rating_items": {
        "dataset": (("traces", "dataset"),),
        "condition": (("traces", "condition"),),
        "trace_set_version": (("traces", "trace_set_version"),),
        "example_id": (("traces", "example_id"),),
        "facts": (("traces", "prompt"),),
        "question": (("traces", "prompt"),),
        "trace": (("traces", "completion"),),
        "answer": (("traces", "rendered_answer"),),
        "trace_corrupted": (("traces", "class_corrupted"), ("traces", "facts_corrupted")),
    },
}
"""For each core table, each derived column's upstream sources. Columns with none here are made where
the table is written (timestamps, the model's own output, settings); a score lists only the upstream
side it is compared with, the model's output being made in the same step."""


def column_lineage(table: str, computed: Mapping[str, Sources] | None = None) -> dict[str, TableColumnLineage]:
    """`dagster/column_lineage` for an asset writing `table`: the lineage its step computed (a SQL
    model's, from its SQL), else the declared one; nothing for a table without either."""
    lineage = computed or CORE_COLUMN_LINEAGE.get(table)
    if not lineage:
        return {}
    return {"dagster/column_lineage": TableColumnLineage(deps_by_column={
        column: [TableColumnDep(asset_key=producer(source_table), column_name=source) for source_table, source in sources]
        for column, sources in lineage.items()
    })}  # fmt: skip
