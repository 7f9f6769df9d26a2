"""Which columns each of the report's tables shows, under which header, and how rows are shaped
for it (a CI as one cell, ratings clipped to their scale, categories beside their baselines):
one catalog for the page, the Markdown summary and the terminal alike. How a cell is written is
`cells.py`'s."""

from __future__ import annotations

from typing import Any

from tracekd_ops.report.cells import Rows, fmt
from tracekd_ops.report.findings import few_raters_note

SUMMARY_COLUMNS = (
    ("dataset", "dataset"),
    ("condition", "condition"),
    ("student", "student"),
    ("base_model", "base model"),
    ("runs", "seeds"),
    ("runs_stopped_early", "stopped early (--max-seconds)"),
    ("n", "test n"),
    ("answer_accuracy", "answer acc"),
    ("answer_accuracy_ci", "95% CI"),
    ("answer_accuracy_sd", "sd over seeds"),
    ("trace_accuracy", "trace acc"),
    ("trace_bleu", "trace BLEU"),
    ("chance_accuracy", "chance"),
    ("majority_accuracy", "majority"),
    ("answer_delta_vs_solution_only", "Δ vs solution-only"),
    ("phi", "phi"),
    ("chi2", "chi²"),
    ("fisher_p", "Fisher p"),
    ("share_both_correct", "both right"),
    ("p_answer_given_trace_correct", "P(answer ok | trace ok)"),
    ("p_answer_given_trace_wrong", "P(answer ok | trace wrong)"),
)
CONSTRUCTION_COLUMNS = (
    ("dataset", "dataset"),
    ("condition", "condition"),
    ("style", "style"),
    ("questions", "train questions"),
    ("traces", "traces"),
    ("left_out_count", "left out"),
    ("corrupted_rows", "corrupted"),
    ("teacher_kept_rate", "teacher kept"),
    ("mean_trace_words", "mean trace words"),
    ("mean_completion_tokens", "mean completion tokens"),
    ("dropped_too_long", "too long (left out)"),
    ("settings", "settings"),
    ("trace_set_version", "trace set"),
)
"""How each condition's training traces were built (the `trace_construction` SQL model)."""
DELTA_COLUMNS = (
    ("dataset", "dataset"),
    ("condition", "condition"),
    ("student", "student"),
    ("base_model", "base model"),
    ("seed", "seed"),
    ("n", "n"),
    ("answer_accuracy", "answer acc"),
    ("solution_only_accuracy", "solution-only acc"),
    ("answer_delta", "Δ"),
    ("only_this_right", "only this right"),
    ("only_solution_only_right", "only solution-only right"),
    ("mcnemar_p", "McNemar p"),
)
REFERENCE_COLUMNS = (
    ("dataset", "dataset"),
    ("condition", "condition"),
    ("reference_model", "reference model"),
    ("reference_value", "reference"),
    ("measured_model", "measured here (model)"),
    ("measured_value", "measured here"),
    ("source", "source"),
)
RATING_COLUMNS = (
    ("dataset", "dataset"),
    ("condition", "condition"),
    ("panel", "panel"),
    ("participants", "participants"),
    ("interpretability_mean", "interpretability"),
    ("interpretability_ci", "95% CI"),
    ("cognitive_load_mean", "cognitive load"),
    ("cognitive_load_ci", "95% CI"),
    ("answer_accuracy", "answer acc"),
    ("reference_interpretability", "reference interpretability"),
    ("reference_cognitive_load", "reference cognitive load"),
    ("item_set_version", "item set"),
    ("rated_trace_set_version", "rated trace set"),
)
RATING_TEST_COLUMNS = (
    ("panel", "panel"),
    ("scale", "scale"),
    ("test", "test"),
    ("groups", "conditions"),
    ("n", "n"),
    ("statistic", "statistic"),
    ("p", "p"),
    ("p_holm", "p (Holm)"),
    ("note", "note"),
)
LINEAGE_COLUMNS = (
    "dataset", "condition", "student", "base_model", "eval_split", "trace_set_versions", "model_revisions", "scorer_versions",
    "dataset_sources", "dataset_hashes",
)  # fmt: skip
TERMINAL_SUMMARY_KEYS = ("dataset", "condition", "student", "runs", "runs_stopped_early", "n", "answer_accuracy", "answer_accuracy_ci",
                         "trace_accuracy", "answer_delta_vs_solution_only", "phi", "fisher_p")  # fmt: skip
"""The leaderboard's columns a terminal shows (the report has them all)."""
LIKERT_RANGE = (1.0, 5.0)


def lineage_columns(header: bool = True) -> list[tuple[str, str]]:
    """The lineage table's (key, header) pairs: the page writes the key with spaces, the Markdown summary as it is."""
    return [(key, key.replace("_", " ") if header else key) for key in LINEAGE_COLUMNS]


def with_ci(rows: Rows) -> list[dict[str, Any]]:
    """Rows with the answer CI as one 'low–high' cell."""
    out = []
    for r in rows:
        low, high = r.get("answer_accuracy_ci_low"), r.get("answer_accuracy_ci_high")
        out.append({**r, "answer_accuracy_ci": f"{low:.3f}–{high:.3f}" if low is not None and high is not None else None})
    return out


def category_table(categories: Rows, baselines: Rows) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """One row per dataset and category: its chance and majority (– where the dataset's training
    split is not stored, as for published students alone), then each student's answer accuracy
    (condition / student), so every number stands next to what guessing would get."""
    students = sorted({(r["condition"], r["student"]) for r in categories})
    accuracy = {(r["dataset"], r["category"], r["condition"], r["student"]): r["answer_accuracy"] for r in categories}
    known = {(b["dataset"], b["category"]): b for b in baselines}
    keys = sorted(set(known) | {(r["dataset"], r["category"]) for r in categories})
    rows = [
        {**known.get((d, k), {"dataset": d, "category": k}), **{f"{c}/{s}": accuracy.get((d, k, c, s)) for c, s in students}}
        for d, k in keys
    ]
    columns = [("dataset", "dataset"), ("category", "category"), ("n", "test n"), ("chance_accuracy", "chance"),
               ("majority_accuracy", "majority")] + [(f"{c}/{s}", f"{c} ({s})") for c, s in students]  # fmt: skip
    return rows, columns


def rating_rows(rows: Rows) -> list[dict[str, Any]]:
    """Ratings with their CIs as one cell each, clipped to the 1-5 scale (a t interval on a few
    raters' means runs past it: -3.103-9.603 on two) and marked below `FEW_RATERS` participants,
    and every simulated value marked as such."""
    out = []
    for r in rows:
        row = dict(r)
        for scale in ("interpretability", "cognitive_load"):
            low, high = r[f"{scale}_ci_low"], r[f"{scale}_ci_high"]
            clip = lambda v: None if v is None else min(max(v, LIKERT_RANGE[0]), LIKERT_RANGE[1])  # noqa: E731
            row[f"{scale}_ci"] = f"{fmt(clip(low))}–{fmt(clip(high))}" + (few_raters_note(r.get("participants")) if low is not None else "")
        if r["panel"] != "real":
            row["panel"] = f"{r['panel']} (not people)"
        out.append(row)
    return out
