"""The tables the evaluation step writes, `predictions`, `metrics` and `contingency` (every one keyed
by the run's lineage), and the typed read of stored predictions the re-scoring of a condition uses:
a table's schema and its queries side by side."""

from __future__ import annotations

from typing import Any

from tracekd_ops.core.tables import LINEAGE_COLUMNS, Reader, Table

MEANINGS: dict[str, str] = {
    "parsed_class": "the class label read from the generation's trace; NULL: none written or readable",
    "parsed_fact_ids": "fact ids read from the generation's trace (negative: a stated fact that is none of the question's); NULL: no list",
    "parsed_answer": "the answer read from the generation; NULL: no answer found",
    "answer_accuracy": "share of the run's test questions answered right by the dataset's answer rule (0-1)",
    "answer_accuracy_ci_low": "lower bound of answer_accuracy's bootstrap 95% interval (percentile, 1,000 resamples of the questions)",
    "answer_accuracy_ci_high": "upper bound of answer_accuracy's bootstrap 95% interval (percentile, 1,000 resamples of the questions)",
    "class_accuracy": "share of questions whose class step is the gold class (0-1); NULL: the condition writes no steps",
    "ir_exact_accuracy": "share of questions whose IR step lists exactly the gold facts (0-1; published: by its facts rule); NULL: no steps",
    "ir_precision": "mean over questions of the share of listed fact ids that are gold (0-1); NULL: the condition writes no steps",
    "ir_recall": "mean over questions of the share of gold fact ids listed (0-1); NULL: the condition writes no steps",
    "ir_f1": "mean over questions of the IR step's F1 of precision and recall (0-1); NULL: the condition writes no steps",
    "trace_accuracy": "share of questions with both steps right, class and IR (0-1); NULL: the condition writes no steps",
    "trace_accuracy_ci_low": "lower bound of trace_accuracy's bootstrap 95% interval; NULL: no steps written",
    "trace_accuracy_ci_high": "upper bound of trace_accuracy's bootstrap 95% interval; NULL: no steps written",
    "trace_bleu": "corpus BLEU-4 (0-1) of the generated traces against the gold steps in the training style; NULL: no trace written",
    "mean_trace_words": "mean length in words of the traces the student generated; NULL: it wrote none",
    "n_trace_ok_answer_ok": "questions with the trace right and the answer right (2x2 cell); NULL: no steps written",
    "n_trace_ok_answer_wrong": "questions with the trace right and the answer wrong (2x2 cell); NULL: no steps written",
    "n_trace_wrong_answer_ok": "questions with the trace wrong and the answer right (2x2 cell); NULL: no steps written",
    "n_trace_wrong_answer_wrong": "questions with the trace wrong and the answer wrong (2x2 cell); NULL: no steps written",
    "chi2": "Pearson chi-square (1 df, no correction) of the trace x answer 2x2 table; NULL: a row or column of it is empty",
    "chi2_p": "p-value of chi2; NULL where chi2 is",
    "fisher_p": "two-sided p of Fisher's exact test on the trace x answer 2x2 table; NULL: no steps written",
    "phi": "phi coefficient (-1 to 1) of trace against answer correctness; NULL: a row or column of the 2x2 table is empty",
    "phi_ci_low": "lower bound of phi's bootstrap 95% interval; NULL: no steps written or phi undefined",
    "phi_ci_high": "upper bound of phi's bootstrap 95% interval; NULL: no steps written or phi undefined",
    "share_both_correct": "share of questions with the trace and the answer both right (0-1; the study's ~28%); NULL: no steps written",
    "p_answer_given_trace_correct": "answer accuracy on the questions whose trace was right; NULL: none was (or no steps written)",
    "p_answer_given_trace_wrong": "answer accuracy on the questions whose trace was wrong; NULL: none was (or no steps written)",
    "chance_accuracy": "accuracy of a uniform guess among each category's training answers; NULL: no train split stored",
    "majority_accuracy": "accuracy of always giving each category's most frequent training answer; NULL: no train split stored",
}
"""Column meanings shared by this wing's tables (and any SQL model column of that name); those
shared across wings are `core.tables.MEANINGS`."""

PREDICTIONS = Table(
    name="predictions",
    columns=LINEAGE_COLUMNS + """,
        example_id VARCHAR NOT NULL, category VARCHAR NOT NULL, prompt VARCHAR NOT NULL,
        output VARCHAR NOT NULL, parsed_class VARCHAR, parsed_fact_ids INTEGER[], parsed_answer VARCHAR,
        gold_class VARCHAR NOT NULL, gold_fact_ids INTEGER[] NOT NULL, gold_answers VARCHAR[] NOT NULL,
        class_correct BOOLEAN, ir_exact BOOLEAN, ir_precision DOUBLE, ir_recall DOUBLE,
        trace_correct BOOLEAN, answer_correct BOOLEAN NOT NULL
    """,
    comment="each student's generation for each test question, parsed and scored step by step (asset predictions)",
    column_comments={
        "output": "the student's generation, as generated (published outputs: as published)",
        "class_correct": "whether the class step is the gold class; NULL: the condition writes no steps",
        "ir_exact": "whether the IR step lists exactly the gold facts (published: by its facts rule); NULL: no steps written",
        "ir_precision": "share of the listed fact ids that are gold (0-1; 0 when none listed); NULL: no steps written",
        "ir_recall": "share of the gold fact ids listed (0-1); NULL: the condition writes no steps",
        "trace_correct": "whether both steps are right (class and IR); NULL: the condition writes no steps",
        "answer_correct": "whether the answer is right by the dataset's answer rule (published outputs: by the chosen scoring)",
    },
)

METRICS = Table(
    name="metrics",
    columns=LINEAGE_COLUMNS + """,
        n INTEGER NOT NULL, answer_accuracy DOUBLE NOT NULL, class_accuracy DOUBLE,
        ir_exact_accuracy DOUBLE, ir_precision DOUBLE, ir_recall DOUBLE, trace_accuracy DOUBLE,
        n_trace_ok_answer_ok INTEGER, n_trace_ok_answer_wrong INTEGER,
        n_trace_wrong_answer_ok INTEGER, n_trace_wrong_answer_wrong INTEGER,
        chi2 DOUBLE, chi2_p DOUBLE, phi DOUBLE,
        p_answer_given_trace_correct DOUBLE, p_answer_given_trace_wrong DOUBLE,
        chance_accuracy DOUBLE, majority_accuracy DOUBLE,
        created_at TIMESTAMP NOT NULL, answer_accuracy_ci_low DOUBLE, answer_accuracy_ci_high DOUBLE,
        ir_f1 DOUBLE, trace_accuracy_ci_low DOUBLE, trace_accuracy_ci_high DOUBLE, trace_bleu DOUBLE,
        mean_trace_words DOUBLE, fisher_p DOUBLE, phi_ci_low DOUBLE, phi_ci_high DOUBLE, share_both_correct DOUBLE
    """,
    comment="per-run accuracy, trace accuracy, CIs and trace-answer association (asset metrics)",
    column_comments={
        "n": "test questions scored in the run",
        "created_at": "when the run's metrics were computed (UTC)",
    },
)

CONTINGENCY = Table(
    name="contingency",
    columns=LINEAGE_COLUMNS + """,
        step VARCHAR NOT NULL, n INTEGER NOT NULL,
        n_step_ok_answer_ok INTEGER NOT NULL, n_step_ok_answer_wrong INTEGER NOT NULL,
        n_step_wrong_answer_ok INTEGER NOT NULL, n_step_wrong_answer_wrong INTEGER NOT NULL,
        chi2 DOUBLE, chi2_p DOUBLE, fisher_p DOUBLE, small_cells BOOLEAN NOT NULL, phi DOUBLE,
        p_answer_given_step_correct DOUBLE, p_answer_given_step_wrong DOUBLE, share_both_correct DOUBLE
    """,
    comment="trace-correct x answer-correct counts per run (asset metrics)",
    column_comments={
        "n": "test questions in the 2x2 table (those whose step was scored)",
        "chi2": "Pearson chi-square (1 df, no correction) of the step x answer 2x2 table; NULL: a row or column of it is empty",
        "chi2_p": "p-value of chi2; NULL where chi2 is",
        "fisher_p": "two-sided p of Fisher's exact test on the step x answer 2x2 table",
        "small_cells": "whether an expected cell count is below 5 (then read fisher_p, not chi2_p)",
        "phi": "phi coefficient (-1 to 1) of step against answer correctness; NULL: a row or column is empty",
        "p_answer_given_step_correct": "answer accuracy on the questions whose step was right; NULL: none was",
        "p_answer_given_step_wrong": "answer accuracy on the questions whose step was wrong; NULL: none was",
        "share_both_correct": "share of questions with the step and the answer both right (0-1)",
    },
)

TABLES = (PREDICTIONS, METRICS, CONTINGENCY)


def read_predictions(store: Reader, dataset: str, condition: str, except_trace_set: str) -> list[dict[str, Any]]:
    """The stored predictions of one condition's students, by run, leaving out one trace set's."""
    return store.rows(
        "SELECT * FROM predictions WHERE dataset = ? AND condition = ? AND trace_set_version <> ? ORDER BY student, base_model, seed",
        [dataset, condition, except_trace_set],
    )
