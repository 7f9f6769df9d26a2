"""The experiment report: one self-contained HTML file (plots inlined, opens offline) and a
Markdown summary for the Dagster metadata.

Built only from the SQL models' tables (`ReportData`), so the report shows exactly what anyone
querying DuckDB sees, and names what it was built from: datasets, conditions, trace set versions,
registry revisions, scorer and code versions.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from tracekd_ops.report import published
from tracekd_ops.report.cells import fmt, html_table

Rows = Sequence[dict[str, Any]]
REPORT_VERSION = "report-7"
"""Bump when what the report shows, or how, changes."""

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


@dataclass
class ReportData:
    """The SQL models' rows a report is built from (empty where a model has no rows yet)."""

    leaderboard: Rows
    construction: Rows = ()
    contingency: Rows = ()
    runs: Rows = ()
    categories: Rows = ()
    deltas: Rows = ()
    reference: Rows = ()
    baselines: Rows = ()
    """Chance and majority accuracy per dataset and category (`evaluate.metrics.category_baselines`)."""
    code_versions: dict[str, str] = field(default_factory=dict)
    ratings: Rows = ()
    """The rating study per condition beside accuracy (`rating_comparison`)."""
    rating_tests: Rows = ()
    rating_panels: Rows = ()
    """Participants per dataset and panel, and how many were left out and why (`rating_panels`)."""
    published: Rows = ()
    """Students imported from another study's published outputs (`published_comparison`)."""
    rescoring: Rows = ()
    """Their 2x2 tables under each scoring choice and the study's own (`published_rescoring`)."""
    published_examples: Rows = ()
    condition_meanings: dict[str, str] = field(default_factory=dict)
    """What each trace condition's training traces are (its record's `meaning`), for the glossary."""


GLOSSARY: tuple[tuple[str, str], ...] = (
    ("class step", "the first step of a decomposed trace: the kind of question (bAbI task, CoTempQA relation, MS MARCO query type, HotpotQA type)"),
    ("IR step", "information retrieval, the second step: which of the given facts answer the question (their ids)"),
    ("answer acc", "share of test questions whose answer the dataset's rule counts as right (its version in the lineage table)"),
    ("trace acc", "share of test questions whose class and exact set of facts both equal gold"),
    ("trace BLEU", "BLEU-4 of the generated trace against the gold trace's text: how close the wording is, right or wrong"),
    ("seeds", "independent training runs of the same student; numbers are means over them"),
    ("stopped early (--max-seconds)", "runs whose wall-time cap stopped training before its last step: not comparable with the others"),
    ("test n", "test questions evaluated per run"),
    ("95% CI", "percentile bootstrap interval over the test questions (1,000 resamples), mean of the per-seed bounds"),
    ("Δ vs solution-only", "answer accuracy minus that of the same student trained on answers alone"),
    ("phi", "correlation of trace-correct with answer-correct over the test questions (-1..1; 0: unrelated)"),
    ("chi²", "Pearson's chi-square on the trace-correct × answer-correct table (1 d.f.; above 3.841: related at 5%)"),
    ("Fisher p", "Fisher's exact test on the same table; read it where expected counts are small"),
    ("both right", "share of test questions with a correct trace and a correct answer"),
    ("McNemar p", "exact McNemar test of a condition against solution-only on the same questions"),
    ("chance / majority", "a uniform guess among the training answers of the question's category / always its most frequent one"),
    ("tiny-llama-from-config", "the from-config student: a small Llama-shaped model with a tokenizer trained on the data, no pretrained weights"),
    ("sft-N", "the version of TraceKD's training recipe (supervised fine-tuning with TRL) a student was trained with"),
    ("interpretability, cognitive load", "5-point Likert ratings by people (5: completely interpretable; 5: very much effort)"),
)
"""Every term and abbreviation the report uses, defined once (its glossary)."""
REFERENCES = (
    "[1] S. Bhambri, U. Biswas, S. Kambhampati. Interpretable Traces, Unexpected Outcomes: Investigating the Disconnect in "
    "Trace-Based Knowledge Distillation. arXiv:2505.13792 (v1 2025; v2, ACL 2026, with the human study). "
    "Code and outputs: github.com/sbhambr1/Trace_Check_QA.",
)


def _glossary(meanings: dict[str, str]) -> str:
    terms = [*GLOSSARY, *((f"condition {name}", meaning) for name, meaning in meanings.items())]
    items = "".join(f"<dt>{html.escape(term)}</dt><dd>{html.escape(text)}</dd>" for term, text in terms)
    references = "".join(f"<li>{html.escape(reference)}</li>" for reference in REFERENCES)
    return f'<h2>Glossary</h2><dl class="glossary">{items}</dl><h2>References</h2><ul class="references">{references}</ul>'


def _cell(value: Any, key: str = "") -> str:
    """A Markdown table cell: formatted, with pipes escaped so they cannot split the row."""
    return fmt(value, key).replace("|", "\\|")


def _with_ci(rows: Rows) -> list[dict[str, Any]]:
    """Rows with the answer CI as one 'low–high' cell."""
    out = []
    for r in rows:
        low, high = r.get("answer_accuracy_ci_low"), r.get("answer_accuracy_ci_high")
        out.append({**r, "answer_accuracy_ci": f"{low:.3f}–{high:.3f}" if low is not None and high is not None else None})
    return out


def markdown_table(rows: Rows, columns: Sequence[tuple[str, str]] | None = None) -> str:
    """Rows as a Markdown table; `columns` is (key, header) pairs, by default every key of the first row."""
    if not rows:
        return "(no rows)"
    columns = columns or [(key, key) for key in rows[0]]
    header = "| " + " | ".join(label.replace("|", "\\|") for _, label in columns) + " |"
    rule = "|" + "---|" * len(columns)
    body = ["| " + " | ".join(_cell(row.get(key), key) for key, _ in columns) + " |" for row in rows]
    return "\n".join([header, rule, *body])


TERMINAL_SUMMARY_KEYS = ("dataset", "condition", "student", "runs", "runs_stopped_early", "n", "answer_accuracy", "answer_accuracy_ci",
                         "trace_accuracy", "answer_delta_vs_solution_only", "phi", "fisher_p")  # fmt: skip
"""The leaderboard's columns a terminal shows (the report has them all)."""


def markdown_summary(data: ReportData, table: Callable[[Rows, Sequence[tuple[str, str]]], str] | None = None) -> str:
    """The report's tables in Markdown, for Dagster's metadata. With `table` (the CLI passes
    `cells.terminal_table` at the terminal's width), for a terminal: drawn by it, the leaderboard's
    main columns only and no lineage table (both are in the report)."""
    draw = table or markdown_table
    columns = SUMMARY_COLUMNS if table is None else [(k, label) for k, label in SUMMARY_COLUMNS if k in TERMINAL_SUMMARY_KEYS]
    parts = [draw(_with_ci(data.leaderboard), columns)]
    if data.construction:
        parts += ["**How the training traces were built**", draw(data.construction, CONSTRUCTION_COLUMNS)]
        parts += [f"Unequal: {note}." for note in unequal_trace_sets(data.construction)]
    if data.deltas:
        parts += ["**Against solution-only on the same questions (McNemar)**", draw(data.deltas, DELTA_COLUMNS)]
    if data.reference:
        parts += ["**Reference study, side by side**", draw(data.reference, REFERENCE_COLUMNS)]
    if data.rescoring:
        parts += ["**Published students: does trace correctness predict answer correctness?**", "\n".join(published.markdown_lines(data.rescoring))]
    if table is None:
        versions = ", ".join(f"{k} `{v}`" for k, v in sorted(data.code_versions.items()))
        parts += [f"**Lineage** (code versions: {versions or '–'})", draw(data.leaderboard, [(c, c) for c in LINEAGE_COLUMNS])]
    return "\n\n".join(parts)


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


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(r: dict[str, Any]) -> str:
    who = str(r.get("student") or r.get("base_model") or "")
    short = who.rsplit("/", 1)[-1][:18]
    return f"{r['dataset']}\n{r['condition']}" + (f"\n{short}" if short else "")


def accuracy_plot_png(rows: Rows) -> bytes:
    """Grouped bars: answer (with its bootstrap 95% CI) and trace accuracy per condition, with
    the chance level as a line."""
    plt = _pyplot()
    positions = range(len(rows))
    answer = [r["answer_accuracy"] or 0.0 for r in rows]
    trace = [r["trace_accuracy"] if r.get("trace_accuracy") is not None else 0.0 for r in rows]
    errors = [
        [max(0.0, a - (r.get("answer_accuracy_ci_low") if r.get("answer_accuracy_ci_low") is not None else a)) for a, r in zip(answer, rows)],
        [max(0.0, (r.get("answer_accuracy_ci_high") if r.get("answer_accuracy_ci_high") is not None else a) - a) for a, r in zip(answer, rows)],
    ]
    fig, ax = plt.subplots(figsize=(max(5, 1.7 * len(rows)), 3.8), dpi=110)
    width = 0.38
    ax.bar([p - width / 2 for p in positions], answer, width, yerr=errors, capsize=3, label="answer accuracy (95% CI)")
    ax.bar([p + width / 2 for p in positions], trace, width, label="trace accuracy (both steps)")
    chance = max((r.get("chance_accuracy") or 0.0) for r in rows) if rows else 0.0
    ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label=f"chance ({chance:.2f})")
    ax.set_xticks(list(positions), [_label(r) for r in rows], fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy on test split")
    ax.legend(fontsize=7, loc="upper right")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def heatmaps_png(tables: Rows) -> str | None:
    """The step x answer 2x2 tables as heatmaps: one row per run group, one column per step."""
    if not tables:
        return None
    plt = _pyplot()
    steps = ["class", "ir", "trace"]
    groups = sorted({(t["dataset"], t["condition"], t.get("student", ""), t["base_model"]) for t in tables})
    by_key = {(t["dataset"], t["condition"], t.get("student", ""), t["base_model"], t["step"]): t for t in tables}
    fig, axes = plt.subplots(len(groups), len(steps), figsize=(7.5, 2.3 * len(groups)), dpi=100, squeeze=False)
    for i, group in enumerate(groups):
        for j, step in enumerate(steps):
            ax = axes[i][j]
            t = by_key.get((*group, step))
            ax.set_xticks([0, 1], ["answer ok", "answer wrong"], fontsize=7)
            ax.set_yticks([0, 1], [f"{step} ok", f"{step} wrong"], fontsize=7)
            if t is None:
                ax.set_title(f"{group[1]}: no {step} step", fontsize=7)
                ax.imshow([[0, 0], [0, 0]], cmap="Greys", vmin=0, vmax=1)
                continue
            cells = [[t["step_ok_answer_ok"], t["step_ok_answer_wrong"]], [t["step_wrong_answer_ok"], t["step_wrong_answer_wrong"]]]
            top = max(1, max(max(row) for row in cells))
            ax.imshow(cells, cmap="Blues", vmin=0, vmax=top)
            for y in range(2):
                for x in range(2):
                    colour = "white" if cells[y][x] > top / 2 else "black"  # readable on dark and light cells
                    ax.text(x, y, str(cells[y][x]), ha="center", va="center", fontsize=8, color=colour)
            ax.set_title(f"{group[0]}/{group[1]} · {step}", fontsize=7)
    return _png(fig)


def scatter_png(runs: Rows) -> str | None:
    """Trace accuracy against answer accuracy, one point per evaluated student (run)."""
    points = [r for r in runs if r.get("trace_accuracy") is not None]
    if not points:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4), dpi=110)
    for condition in sorted({r["condition"] for r in points}):
        group = [r for r in points if r["condition"] == condition]
        ax.scatter([r["trace_accuracy"] for r in group], [r["answer_accuracy"] for r in group], label=condition, s=28)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.6, linestyle=":")
    ax.set_xlabel("trace accuracy (both steps right)")
    ax.set_ylabel("answer accuracy")
    ax.legend(fontsize=7)
    return _png(fig)


def category_bars_png(categories: Rows) -> str | None:
    """Answer accuracy per question category, one bar per condition."""
    if not categories:
        return None
    plt = _pyplot()
    labels = sorted({(r["dataset"], r["category"]) for r in categories})
    conditions = sorted({r["condition"] for r in categories})
    by_key = {(r["dataset"], r["category"], r["condition"]): r["answer_accuracy"] for r in categories}
    width = 0.8 / len(conditions)
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(labels) * max(1, len(conditions) / 3)), 3.6), dpi=110)
    for k, condition in enumerate(conditions):
        xs = [i + (k - (len(conditions) - 1) / 2) * width for i in range(len(labels))]
        ax.bar(xs, [by_key.get((d, c, condition)) or 0.0 for d, c in labels], width, label=condition)
    ax.set_xticks(range(len(labels)), [f"{d}\n{c}" for d, c in labels], fontsize=6, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("answer accuracy")
    # above the axes, not over the bars (accuracies near 1 reach the top of the plot)
    ax.legend(fontsize=6, ncol=min(4, len(conditions)), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return _png(fig)


LIKERT_RANGE = (1.0, 5.0)
FEW_RATERS = 10
"""Below this many valid participants a condition's CI is a t interval on very few means: marked."""


def _panel_lines(panels: Rows) -> list[str]:
    """Who rated, per dataset and panel, and who was left out of the statistics and why."""
    return [f"{p['dataset']}, {p['panel']} panel: {p['participants']} participants rated item set {p['item_set_version']}; "
            f"{p['excluded']} left out of the statistics ({p['failed_an_attention_check']} failed an attention check)."
            for p in panels]  # fmt: skip


def _rating_rows(rows: Rows) -> list[dict[str, Any]]:
    """Ratings with their CIs as one cell each, clipped to the 1-5 scale (a t interval on a few
    raters' means runs past it: -3.103-9.603 on two) and marked below `FEW_RATERS` participants,
    and every simulated value marked as such."""
    out = []
    for r in rows:
        row = dict(r)
        few = (r.get("participants") or 0) < FEW_RATERS
        for scale in ("interpretability", "cognitive_load"):
            low, high = r[f"{scale}_ci_low"], r[f"{scale}_ci_high"]
            clip = lambda v: None if v is None else min(max(v, LIKERT_RANGE[0]), LIKERT_RANGE[1])  # noqa: E731
            row[f"{scale}_ci"] = f"{fmt(clip(low))}–{fmt(clip(high))}" + (f" (n < {FEW_RATERS})" if few and low is not None else "")
        if r["panel"] != "real":
            row["panel"] = f"{r['panel']} (not people)"
        out.append(row)
    return out


def tradeoff_png(ratings: Rows) -> str | None:
    """The study's trade-off: mean interpretability (with its 95% CI) against answer accuracy, one
    point per condition; the title says when the ratings come from the simulated panel."""
    points = [r for r in ratings if r.get("answer_accuracy") is not None and r.get("interpretability_mean") is not None]
    if not points:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4), dpi=110)
    for r in points:
        low, high = r["interpretability_ci_low"], r["interpretability_ci_high"]
        error = [[r["interpretability_mean"] - low], [high - r["interpretability_mean"]]] if low is not None else None
        ax.errorbar([r["interpretability_mean"]], [r["answer_accuracy"]], xerr=error, fmt="o", capsize=3, label=f"{r['dataset']}/{r['condition']}")
    ax.set_xlim(1, 5)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("mean interpretability rating (1-5)")
    ax.set_ylabel("answer accuracy of the condition's students")
    simulated = any(r["panel"] != "real" for r in points)
    ax.set_title("SIMULATED PANEL (not people)" if simulated else "ratings by participants", fontsize=9, color="#a00" if simulated else "#222")
    ax.legend(fontsize=7)
    return _png(fig)


def headline_lines(rows: Rows) -> list[str]:
    """One sentence per condition: measured answer accuracy against chance, and the trace/answer link."""
    lines = []
    for r in rows:
        line = (
            f"{r['dataset']} / {r['condition']}: answer accuracy {fmt(r['answer_accuracy'])} on {r['n']} test "
            f"questions vs chance {fmt(r['chance_accuracy'])} and majority {fmt(r['majority_accuracy'])}"
        )
        if r.get("chi2") is not None:
            verdict = "significant" if r["chi2"] > 3.841 else "not significant"
            line += (
                f"; trace accuracy {fmt(r['trace_accuracy'])}, trace-answer association chi² {fmt(r['chi2'])} "
                f"({verdict} at 5%), phi {fmt(r['phi'])}"
            )
        lines.append(line + ".")
    return lines


def _small_trace_sets(construction: Rows, share: float = 0.1) -> list[tuple[str, str, int, int]]:
    """(dataset, condition, traces, the dataset's largest) of each condition trained on fewer than
    `share` of its dataset's largest trace set (a weak or capped teacher): its students learned from
    far fewer examples, so their accuracy measures the count as much as the kind of trace."""
    counted = [(row["dataset"], row["condition"], int(row["traces"] or 0)) for row in construction]
    largest: dict[str, int] = {}
    for dataset, _, traces in counted:
        largest[dataset] = max(largest.get(dataset, 0), traces)
    return [(dataset, condition, traces, largest[dataset]) for dataset, condition, traces in counted if traces < share * largest[dataset]]


def unequal_trace_sets(construction: Rows) -> list[str]:
    """One sentence per condition trained on far fewer traces than its dataset's largest set."""
    return [f"{dataset}/{condition} trained on {traces:,} traces against {largest:,} for {dataset}'s largest trace set: "
            "its students' accuracy is not comparable with the others'" for dataset, condition, traces, largest in _small_trace_sets(construction)]  # fmt: skip


def not_comparable(leaderboard: Rows, construction: Rows) -> dict[str, str]:
    """`dataset/condition` -> why its accuracy is not comparable with the others': far fewer
    training traces, or a student its wall-time cap stopped early."""
    why = {f"{d}/{c}": f"{t:,} traces" for d, c, t, _ in _small_trace_sets(construction)}
    for row in leaderboard:
        if row.get("runs_stopped_early"):
            why.setdefault(f"{row['dataset']}/{row['condition']}", "stopped early")
    return why


def reading(leaderboard: Rows, deltas: Rows, alpha: float = 0.05, construction: Rows = ()) -> str:
    """The result in one line: which conditions differ from solution-only (McNemar, paired by
    question) and whether trace correctness predicts answer correctness (Fisher's exact test),
    leaving out, and naming, the conditions that are not comparable with the others."""
    excluded = not_comparable(leaderboard, construction)
    key = lambda row: f"{row['dataset']}/{row['condition']}"  # noqa: E731
    deltas = [d for d in deltas if key(d) not in excluded]
    leaderboard = [r for r in leaderboard if key(r) not in excluded]
    different = sorted({key(d) for d in deltas if d.get("mcnemar_p") is not None and d["mcnemar_p"] < alpha})
    compared = sorted({key(d) for d in deltas if d.get("mcnemar_p") is not None})
    traced = [r for r in leaderboard if r.get("fisher_p") is not None]
    linked = sorted(f"{r['dataset']}/{r['condition']}" for r in traced if r["fisher_p"] < alpha)
    first = (
        f"{len(different)} of {len(compared)} conditions differ from solution-only at {alpha:.0%} (McNemar"
        + (f": {', '.join(different)})" if different else ")")
    ) if compared else "no condition could be compared with solution-only (train it too)"
    second = (
        f"trace correctness predicts answer correctness (Fisher p < {alpha}) in {len(linked)} of {len(traced)} trace-writing conditions"
        + (f" ({', '.join(linked)})" if linked else "")
    ) if traced else "no condition's students wrote scorable traces"
    left = f" Left out as not comparable: {', '.join(f'{k} ({why})' for k, why in sorted(excluded.items()))}." if excluded else ""
    return f"{first}; {second}.{left}"


def _figure(png: str | None, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">' if png else "<p>(nothing to plot yet)</p>"


def render_html(data: ReportData, title: str = "TraceKD report") -> str:
    rows = _with_ci(data.leaderboard)
    accuracy = base64.b64encode(accuracy_plot_png(rows)).decode()
    built = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lineage_rows = "".join(
        "<tr>" + "".join(f"<td><code>{html.escape(fmt(r.get(key)))}</code></td>" for key in LINEAGE_COLUMNS) + "</tr>"
        for r in rows
    )
    lineage_head = "".join(f"<th>{html.escape(key.replace('_', ' '))}</th>" for key in LINEAGE_COLUMNS)
    versions = ", ".join(f"{k} <code>{html.escape(v)}</code>" for k, v in sorted(data.code_versions.items()))
    datasets = ", ".join(sorted({str(r["dataset"]) for r in rows}))
    conditions = ", ".join(sorted({str(r["condition"]) for r in rows}))
    headline = "".join(f"<li>{html.escape(line)}</li>" for line in headline_lines(rows))
    sections = [
        "<h2>Answer and trace accuracy per condition</h2>",
        f'<img alt="answer and trace accuracy per condition" src="data:image/png;base64,{accuracy}">',
        html_table(rows, SUMMARY_COLUMNS),
    ]
    if data.construction:
        sections += [
            "<h2>How the training traces were built</h2><p>Per condition: training questions, traces kept, questions "
            "left out (no gold fact, nothing to corrupt, teacher wrong or failed), corrupted traces, the teacher's kept "
            "rate (share of questions it answered correctly), and mean trace length in words and in the students' "
            "tokens (whole completion).</p>",
            html_table(data.construction, CONSTRUCTION_COLUMNS),
            *(f"<p><strong>Unequal:</strong> {html.escape(note)}.</p>" for note in unequal_trace_sets(data.construction)),
        ]
    sections += [
        "<h2>Step × answer tables</h2><p>For each condition whose students write the two steps: answer correctness "
        "against the class step, the IR step and the whole trace, pooled over seeds (cell counts).</p>",
        _figure(heatmaps_png(data.contingency), "step x answer heatmaps"),
        "<h2>Trace accuracy against answer accuracy, every run</h2>",
        _figure(scatter_png(data.runs), "trace accuracy vs answer accuracy"),
        "<h2>Answer accuracy per category</h2>",
        _figure(category_bars_png(data.categories), "answer accuracy per category"),
        html_table(*category_table(data.categories, data.baselines)),
    ]
    if data.deltas:
        sections += [
            "<h2>Against solution-only on the same questions</h2><p>McNemar's test on paired answers (exact binomial "
            "below 25 discordant pairs).</p>",
            html_table(data.deltas, DELTA_COLUMNS),
        ]
    if data.ratings:
        simulated = any(r["panel"] != "real" for r in data.ratings)
        sections += [
            "<h2>Human ratings: interpretability against accuracy</h2>"
            + ('<p style="color:#a00"><b>Simulated panel:</b> no participant has rated this item set yet, so these are '
               "TraceKD's synthetic raters (a stand-in that shows the analysis, not a finding about people).</p>" if simulated else "")
            + "<p>Mean 5-point Likert ratings per trace condition (interpretability: 5 = completely interpretable; "
            "cognitive load: 5 = very much effort), 95% CIs over participants' means, participants who failed an "
            "attention check left out; beside the answer accuracy of the condition's students and the reference "
            "study's published means [1].</p>",
            _figure(tradeoff_png(data.ratings), "interpretability vs answer accuracy"),
            html_table(_rating_rows(data.ratings), RATING_COLUMNS),
            *(f"<p>{html.escape(line)}</p>" for line in _panel_lines(data.rating_panels)),
            "<p>Agreement and tests (Friedman across conditions; pairwise Wilcoxon signed-rank on participants' means, Holm-corrected):</p>",
            html_table(data.rating_tests, RATING_TEST_COLUMNS),
        ]
    if data.reference:
        sections += [
            "<h2>Reference study, side by side</h2><p>Published numbers (with their source) next to what was "
            "measured here for the same dataset and condition; – where it was not run.</p>",
            html_table(data.reference, REFERENCE_COLUMNS),
        ]
    sections.append(published.render_section(data.published, data.rescoring, data.published_examples))
    body = "\n".join(sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 80rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.85rem; display: block; max-width: 100%; overflow-x: auto; }}
th, td {{ border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }}
th {{ background: #f3f3f3; }} td:first-child, td:nth-child(2) {{ text-align: left; }}
code {{ font-size: 0.8rem; }} img {{ max-width: 100%; }}
dl.glossary dt {{ font-weight: 600; margin-top: 0.4rem; }} dl.glossary dd {{ margin-left: 1.5rem; }}
@media (max-width: 40rem) {{ body {{ margin: 0.8rem; }} table {{ font-size: 0.75rem; }} }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Built {built} from datasets {html.escape(datasets)}; conditions {html.escape(conditions)}; code versions {versions}.
Each row is one trace condition's students (mean over seeds), evaluated on the held-out test split.
<em>Chance</em> is a uniform guess among the answers seen in training for the question's category;
<em>majority</em> always gives the category's most frequent training answer. Trace accuracy counts a
trace as correct when both steps (class label and the exact set of supporting facts) equal gold.
95% CIs are percentile bootstrap intervals (1,000 resamples of the test questions; mean of the
per-seed bounds). chi² is Pearson's on the trace-correct × answer-correct table (1 d.f.; 3.841 is
the 5% line); read Fisher's p where expected counts are small; – means undefined.</p>
<h2>Headline</h2>
<ul>{headline}</ul>
{body}
<h2>Lineage</h2>
<table><tr>{lineage_head}</tr>{lineage_rows}</table>
{_glossary(data.condition_meanings)}
</body></html>
"""
