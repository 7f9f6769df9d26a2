"""The report's section on published students: another study's own generations, re-scored by
TraceKD, its published tables re-derived beside them, and what moved each verdict.

Built from the SQL models `published_comparison`, `published_rescoring` and `published_examples`;
the statistics of each 2x2 table come from `evaluate.stats.TwoByTwo`, as every other table's do.
"""

from __future__ import annotations

import html
from typing import Any, Sequence

from tracekd_ops.evaluate.stats import TwoByTwo
from tracekd_ops.report.cells import html_table, p_value

Rows = Sequence[dict[str, Any]]
CHI2_5_PERCENT = 3.841
"""Pearson chi-square's 5% critical value at one degree of freedom (the line the study draws)."""
TRACEKD, AUTHORS, PUBLISHED = "tracekd", "authors' rule, re-run", "published table"

STUDENT_COLUMNS = (
    ("base_model", "student (base model)"),
    ("condition", "condition"),
    ("categories", "relations"),
    ("lines", "lines"),
    ("scored", "scored"),
    ("repeated_lines", "repeated"),
    ("left_out", "left out"),
    ("cut_short", "cut short"),
    ("reported_acc", "study's acc (%)"),
    ("recomputed_acc", "acc re-run here (%)"),
    ("answer_accuracy", "answer acc (TraceKD)"),
    ("class_accuracy", "class step"),
    ("ir_exact_accuracy", "IR step"),
    ("trace_accuracy", "trace acc"),
    ("matched_dataset", "lines matched to the dataset"),
    ("source_name", "source"),
)
RESCORING_COLUMNS = (
    ("base_model", "student (base model)"),
    ("condition", "condition"),
    ("variant", "scoring"),
    ("n", "n"),
    ("trace_ok_answer_ok", "both right"),
    ("trace_ok_answer_wrong", "trace right, answer wrong"),
    ("trace_wrong_answer_ok", "trace wrong, answer right"),
    ("trace_wrong_answer_wrong", "both wrong"),
    ("p_answer_given_trace_correct", "P(answer right | trace right)"),
    ("p_answer_given_trace_wrong", "P(answer right | trace wrong)"),
    ("chi2", "chi²"),
    ("chi2_p", "p"),
    ("fisher_p", "Fisher p"),
    ("changed", "lines changed vs tracekd"),
    ("categories", "relations pooled"),
)
EXAMPLE_COLUMNS = (
    ("kind", "what changes"),
    ("base_model", "student"),
    ("condition", "condition"),
    ("file", "file"),
    ("line", "line"),
    ("gold_fact_ids", "gold facts"),
    ("parsed_fact_ids", "facts stated"),
    ("gold_answers", "gold answers"),
    ("parsed_answer", "answer read"),
    ("generation_end", "generation (end)"),
)


def table_of(row: dict[str, Any]) -> TwoByTwo:
    return TwoByTwo(int(row["trace_ok_answer_ok"]), int(row["trace_ok_answer_wrong"]),
                    int(row["trace_wrong_answer_ok"]), int(row["trace_wrong_answer_wrong"]))  # fmt: skip


def with_statistics(rows: Rows) -> list[dict[str, Any]]:
    """Each 2x2 row with its chi-square (and p), Fisher's p and phi."""
    out = []
    for row in rows:
        summary = table_of(row).summary()
        out.append({**row, **{k: summary[k] for k in ("chi2", "chi2_p", "fisher_p", "phi")}})
    return out


def _verdict(row: dict[str, Any]) -> str:
    chi2, p_right, p_wrong = row.get("chi2"), row.get("p_answer_given_trace_correct"), row.get("p_answer_given_trace_wrong")
    if chi2 is None or p_right is None or p_wrong is None:
        return "undefined (a row or column of the table is empty)"
    linked = chi2 > CHI2_5_PERCENT
    direction = "higher" if p_right > p_wrong else "lower"
    return (
        f"P(answer right | trace right) {p_right:.2f} vs {p_wrong:.2f} when wrong, chi² {chi2:.1f} "
        f"(p {p_value(row['chi2_p'])}, Fisher p {p_value(row['fisher_p'])}): "
        + (f"trace correctness predicts answer correctness ({direction} when the trace is right)" if linked
           else "no significant link at 5%")
    )  # fmt: skip


def _pooled(rows: Rows, variant: str, condition: str) -> dict[str, Any] | None:
    chosen = [r for r in rows if r["variant"] == variant and r["condition"] == condition]
    if not chosen:
        return None
    cells = {k: sum(int(r[k]) for r in chosen) for k in ("trace_ok_answer_ok", "trace_ok_answer_wrong", "trace_wrong_answer_ok", "trace_wrong_answer_wrong")}
    table = table_of(cells)
    summary = table.summary()
    return {**cells, "n": table.n, "chi2": summary["chi2"], "chi2_p": summary["chi2_p"], "fisher_p": summary["fisher_p"],
            "p_answer_given_trace_correct": summary["p_answer_given_step_correct"],
            "p_answer_given_trace_wrong": summary["p_answer_given_step_wrong"], "students": len(chosen)}  # fmt: skip


def reading_lines(rescoring: Rows) -> list[str]:
    """Per published trace student and pooled per condition: whether trace correctness predicts
    answer correctness under TraceKD's scoring, the study's rule re-run, and its published table;
    and whether that agrees with the study's conclusion (near independence, chi² under 3.841)."""
    rows = with_statistics(rescoring)
    lines = []
    for (base, condition) in sorted({(r["base_model"], r["condition"]) for r in rows}):
        group = {r["variant"]: r for r in rows if (r["base_model"], r["condition"]) == (base, condition)}
        line = f"{base} / {condition}: TraceKD's scoring, n {group[TRACEKD]['n']}: {_verdict(group[TRACEKD])}"
        if AUTHORS in group:
            line += f"; the study's rule on the same lines: {_verdict(group[AUTHORS])}"
        if PUBLISHED in group:
            line += f"; the study's published table (n {group[PUBLISHED]['n']}, relations {group[PUBLISHED]['categories']}): {_verdict(group[PUBLISHED])}"
        lines.append(line + ".")
    for condition in sorted({r["condition"] for r in rows}):
        pooled = _pooled(rows, TRACEKD, condition)
        if pooled:
            agrees = pooled["chi2"] is not None and pooled["chi2"] <= CHI2_5_PERCENT
            lines.append(
                f"Pooled over the {pooled['students']} published {condition} students (n {pooled['n']}), TraceKD's scoring: "
                f"{_verdict(pooled)} — {'agrees' if agrees else 'disagrees'} with the study's conclusion that trace and answer "
                "correctness are nearly independent."
            )
    return lines


def explanation_lines(rescoring: Rows, students: Rows) -> list[str]:
    """What moves the published table, counted from the data: each scoring choice's changed
    lines, the study's row lookup, repeated lines, and whether the study's own summary numbers
    are reproduced from its own files."""
    lines = []
    for row in students:
        if row.get("reported_acc") is not None:
            same = row["files_acc_reproduced"] == row["files"]
            lines.append(
                f"{row['base_model']} / {row['condition']}: the study's acc over its {row['files']} files is "
                f"{row['reported_acc']:.1f}%; CoTempQA's official metric re-run here on the same lines gives "
                f"{row['recomputed_acc']:.1f}% ({'every file to the decimal' if same else 'not every file agrees'})"
                + (f"; {row['repeated_lines']} of its {row['lines']} lines repeat a question already in the file and are counted once here"
                   if row.get("repeated_lines") else "")
                + "."
            )  # fmt: skip
    for row in students:
        if row.get("authors_evaluated"):
            lookup = (f"its row lookup sent {row['authors_other_row']} of {row['authors_lookups']} lines to another question's gold row"
                      if row.get("authors_lookups") else "its row lookup was not re-run (the study's gold CSVs are not in the folder)")  # fmt: skip
            lines.append(
                f"{row['base_model']} / {row['condition']}: the IR step is right in {row['authors_ir_right']} of "
                f"{row['authors_evaluated']} lines by the study's rule (any fact of the row quoted counts, since its gold facts "
                f"are every fact) against {row['ir_right']} of {row['scored']} by the exact gold fact set; the class step's "
                f"verdict differs on {row['class_verdicts_differ']} lines; {lookup}."
            )
    for row in rescoring:
        if row["variant"] in (TRACEKD, PUBLISHED) or not row.get("changed"):
            continue
        lines.append(f"{row['base_model']} / {row['condition']}: scoring by `{row['variant']}` instead of TraceKD's changes "
                     f"the (trace, answer) verdict of {row['changed']} of {row['n']} lines.")  # fmt: skip
    return lines


def render_section(students: Rows, rescoring: Rows, examples: Rows) -> str:
    """The report's HTML section (empty when no published student is imported)."""
    if not students:
        return ""
    reading = "".join(f"<li>{html.escape(line)}</li>" for line in reading_lines(rescoring))
    explained = "".join(f"<li>{html.escape(line)}</li>" for line in explanation_lines(rescoring, students))
    return "\n".join([
        "<h2>Published students: the reference study's own outputs, re-scored</h2>",
        "<p>Each row is a student whose generations were published by another study and imported here (no weights): "
        "every line joined to a canonical record built from the line itself, its trace read in the study's format, and "
        "scored with TraceKD's scorers (class label, exact gold fact set by the dataset's rule, the dataset's exact-match "
        "answer rule; an answer the generation never closed is no answer). <em>study's acc</em> is the study's own "
        "summary of its files (CoTempQA's official entity-set match); <em>acc re-run here</em> is that metric recomputed "
        "by TraceKD on the same lines.</p>",
        html_table(students, STUDENT_COLUMNS),
        "<h3>Does trace correctness predict answer correctness?</h3>",
        f"<ul>{reading}</ul>",
        "<h3>The 2×2 tables under each scoring choice, the study's rule re-run, and its published counts</h3>",
        "<p>One choice changed at a time from TraceKD's scoring. <em>authors' rule, re-run</em> scores the class step "
        "by the relation's name before the trace's first full stop and the IR step by <em>any</em> of the looked-up "
        "row's facts occurring in the trace (its script compares the row's facts with themselves, so every fact counts "
        "as gold), the answer by the official match; without the study's gold CSVs its row lookup cannot be re-run and "
        "each line's own facts stand in. The <em>published table</em> pools the relations it names.</p>",
        html_table(with_statistics(rescoring), RESCORING_COLUMNS),
        "<h3>What moves the verdicts</h3>",
        f"<ul>{explained}</ul>",
        html_table(examples, EXAMPLE_COLUMNS) if examples else "",
    ])  # fmt: skip


def markdown_lines(rescoring: Rows) -> list[str]:
    """The reading as Markdown list items (the Dagster summary and the CLI)."""
    return [f"- {line}" for line in reading_lines(rescoring)]
