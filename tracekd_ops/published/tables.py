"""The tables of published numbers and outputs: the files and lines of another study's imported
outputs (`external_files`, `external_lines`; their predictions and metrics go to the evaluation
tables), and the reference study's published accuracies, ratings and 2x2 counts
(`reference_results`, `reference_ratings`, `reference_contingency`, entered from
`report/data/*.csv`). Written by the steps (`steps.published`, `steps.report`); read by the SQL
models, and by `latest_import` (what `tracekd published import` prints)."""

from __future__ import annotations

from typing import Any

from tracekd_ops.core.tables import LINEAGE_COLUMNS, Reader, Table

MEANINGS: dict[str, str] = {
    "file": "the published output file, as a path relative to the imported folder",
}
"""Column meanings shared by this wing's tables (and any SQL model column of that name); those
shared across wings are `core.tables.MEANINGS`."""

EXTERNAL_FILES = Table(
    name="external_files",
    columns=LINEAGE_COLUMNS + """,
        file VARCHAR NOT NULL, layout VARCHAR NOT NULL, category VARCHAR NOT NULL, content_hash VARCHAR NOT NULL,
        source_name VARCHAR NOT NULL, lines INTEGER NOT NULL, scored INTEGER NOT NULL, left_out INTEGER NOT NULL,
        cut_short INTEGER NOT NULL, reported VARCHAR, recomputed_official VARCHAR, imported_at TIMESTAMP NOT NULL
    """,
    comment="imported published output files, with their sha256 (asset published_students)",
    column_comments={
        "layout": "how the outputs are laid out: trace-check-qa (the reference study's repository) or simple",
        "category": "the CoTempQA relation of the file's folder; (per line): each line names its own",
        "content_hash": "SHA-256 of the file's bytes",
        "source_name": "where the outputs came from, as given (credentials removed), or git:<repo>@<commit>, or the folder",
        "lines": "lines in the file (scored plus left out)",
        "scored": "lines scored (stored in predictions)",
        "left_out": "lines left out (unreadable, or a repeat of an earlier question); the reason is in external_lines",
        "cut_short": "scored lines whose generation did not close its answer (or its trace)",
        "reported": "JSON of the study's own summary of the file (acc, f1, p, r, avg; percent); NULL: no summary found",
        "recomputed_official": "JSON: TraceKD's re-run of that summary (CoTempQA's official metric, percent); NULL: not CoTempQA",
        "imported_at": "when the file was imported (UTC)",
    },
)

EXTERNAL_LINES = Table(
    name="external_lines",
    columns=LINEAGE_COLUMNS + """,
        file VARCHAR NOT NULL, line INTEGER NOT NULL, example_id VARCHAR, category VARCHAR, status VARCHAR NOT NULL,
        reason VARCHAR, dataset_check VARCHAR, raw VARCHAR, trace_state VARCHAR, answer_state VARCHAR,
        facts_form VARCHAR, cut_short BOOLEAN, class_ok BOOLEAN, ir_exact BOOLEAN, ir_contains BOOLEAN, ir_subset BOOLEAN, ir_any BOOLEAN,
        answer_em BOOLEAN, answer_em_lenient BOOLEAN, answer_f1 DOUBLE, answer_f1_lenient DOUBLE,
        answer_official BOOLEAN, official_f1 DOUBLE, authors_evaluated BOOLEAN, authors_class_ok BOOLEAN,
        authors_ir_ok BOOLEAN, authors_own_row BOOLEAN
    """,
    comment="every line of an imported published file, and why one was left out (asset published_students)",
    column_comments={
        "line": "1-based line (or record) number in the file",
        "example_id": "the question's id: the loaded dataset's where the line matches one, else made from its text; NULL: unread",
        "category": "the question's gold class (CoTempQA relation); NULL: the line could not be read",
        "status": "scored, or left out (see reason)",
        "reason": "why the line was left out (unreadable field, or the same question as an earlier line); NULL: scored",
        "dataset_check": "the line against the loaded dataset: matched (split), answers/gold facts differ, not in it, not loaded",
        "raw": "the line as read, kept for lines left out; NULL: scored (the generation is in predictions)",
        "trace_state": "the generation's trace: closed, unclosed (opened, never closed) or missing",
        "answer_state": "the generation's answer: closed, unclosed (opened, never closed) or missing",
        "facts_form": "how the trace lists its facts: list, text (bare sentences), unreadable or missing",
        "cut_short": "whether the generation did not close its answer (or its trace); NULL: left out",
        "class_ok": "whether the class step is the gold relation; NULL: no steps to score (or left out)",
        "ir_exact": "whether the listed facts are exactly the gold facts; NULL: no steps to score",
        "ir_contains": "whether every gold fact is listed (extras allowed); NULL: no steps to score",
        "ir_subset": "whether at least one fact is listed and every listed fact is gold; NULL: no steps to score",
        "ir_any": "whether at least one gold fact is listed; NULL: no steps to score",
        "answer_em": "whether the closed answer is right by the dataset's exact-match rule; NULL: left out",
        "answer_em_lenient": "the same, reading an unclosed answer too (cut_short=lenient); NULL: left out",
        "answer_f1": "token F1 (0-1) of the closed answer against the gold answers; NULL: left out",
        "answer_f1_lenient": "token F1 (0-1), reading an unclosed answer too; NULL: left out",
        "answer_official": "whether CoTempQA's official entity-set match calls it right; NULL: not CoTempQA with a triple_element",
        "official_f1": "CoTempQA's official F1 (0-1) of the generation; NULL: not CoTempQA with a triple_element",
        "authors_evaluated": "whether the study's script scores the line (it skips lines without a trace); NULL: not its layout",
        "authors_class_ok": "the class step by the study's rule (relation named before the trace's first full stop); NULL: n/a",
        "authors_ir_ok": "the IR step by the study's rule (any looked-up fact occurs verbatim in the trace); NULL: n/a",
        "authors_own_row": "whether the study's row lookup found this line's own question; NULL: the lookup was not re-run",
    },
)

REFERENCE_RESULTS = Table(
    name="reference_results",
    columns="""
        dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL, base_model VARCHAR NOT NULL,
        metric VARCHAR NOT NULL, value DOUBLE NOT NULL, source VARCHAR NOT NULL
    """,
    comment="the reference study's published numbers, entered from its tables (asset reference_results)",
    column_comments={
        "base_model": "the base model of the reference study's student (Hugging Face id)",
        "metric": "the published measure, named as TraceKD's metrics column (answer_accuracy)",
        "value": "the published value, as a share (0-1)",
        "source": "citation: the paper, table and version the number was entered from",
    },
)

REFERENCE_RATINGS = Table(
    name="reference_ratings",
    columns="""
        condition VARCHAR NOT NULL, scale VARCHAR NOT NULL, mean DOUBLE NOT NULL, source VARCHAR NOT NULL
    """,
    comment="the reference study's published human ratings (asset reference_results)",
    column_comments={
        "condition": "trace condition whose traces the study's participants rated",
        "mean": "the published mean rating on the scale (1-5)",
        "source": "citation: the paper and version of the human study the mean was entered from",
    },
)

REFERENCE_CONTINGENCY = Table(
    name="reference_contingency",
    columns="""
        dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL, base_model VARCHAR NOT NULL, step VARCHAR NOT NULL,
        n_step_ok_answer_ok INTEGER NOT NULL, n_step_ok_answer_wrong INTEGER NOT NULL,
        n_step_wrong_answer_ok INTEGER NOT NULL, n_step_wrong_answer_wrong INTEGER NOT NULL,
        categories VARCHAR NOT NULL, source VARCHAR NOT NULL
    """,
    comment="the reference study's contingency counts, where published (asset reference_results)",
    column_comments={
        "base_model": "the base model of the reference study's student (Hugging Face id)",
        "categories": "the CoTempQA relations the published counts pool, comma-separated",
        "source": "citation: the paper, repository and commit the counts were entered from",
    },
)

TABLES = (EXTERNAL_FILES, EXTERNAL_LINES, REFERENCE_RESULTS, REFERENCE_RATINGS, REFERENCE_CONTINGENCY)


LEFT_OUT_LINES = "SELECT file, line, reason FROM external_lines WHERE status = 'left out'"
"""Every line left out of an import, with its reason (for `tracekd query`)."""


def latest_import(store: Reader) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The files of the most recently imported source (every student of it) and the lines left
    out of them, with each one's reason."""
    revisions = [r["model_revision"] for r in store.rows(
        "SELECT DISTINCT model_revision FROM external_files WHERE source_name = (SELECT source_name FROM external_files "
        "ORDER BY imported_at DESC LIMIT 1)")]  # fmt: skip
    files = store.rows("SELECT * FROM external_files WHERE model_revision IN (SELECT unnest(?::VARCHAR[])) "
                       "ORDER BY base_model, condition, file", [revisions])  # fmt: skip
    left_out = store.rows(f"{LEFT_OUT_LINES} AND model_revision IN (SELECT unnest(?::VARCHAR[])) ORDER BY file, line", [revisions])
    return files, left_out
