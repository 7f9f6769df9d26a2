"""The experiment report: one self-contained HTML file (plots inlined) and a Markdown summary.

Built only from the `condition_comparison` model rows, so the report shows exactly what anyone
querying DuckDB sees, and names the trace sets, revisions and scorer versions behind each row.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime, timezone
from typing import Any, Sequence

SUMMARY_COLUMNS = (
    ("dataset", "dataset"),
    ("condition", "condition"),
    ("n", "test n"),
    ("answer_accuracy", "answer acc"),
    ("trace_accuracy", "trace acc"),
    ("chance_accuracy", "chance"),
    ("majority_accuracy", "majority"),
    ("answer_delta_vs_solution_only", "Δ vs solution-only"),
    ("phi", "phi"),
    ("chi2", "chi²"),
    ("p_answer_given_trace_correct", "P(answer ok given trace ok)"),
    ("p_answer_given_trace_wrong", "P(answer ok given trace wrong)"),
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
    ("settings", "settings"),
    ("trace_set_version", "trace set"),
)
"""How each condition's training traces were built (the `trace_construction` SQL model)."""


def _cell(value: Any) -> str:
    """A Markdown table cell: formatted, with pipes escaped so they cannot split the row."""
    return _fmt(value).replace("|", "\\|")


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]] | None = None) -> str:
    """Rows as a Markdown table; `columns` is (key, header) pairs, by default every key of the first row."""
    if not rows:
        return "(no rows)"
    columns = columns or [(key, key) for key in rows[0]]
    header = "| " + " | ".join(label for _, label in columns) + " |"
    rule = "|" + "---|" * len(columns)
    body = ["| " + " | ".join(_cell(row.get(key)) for key, _ in columns) + " |" for row in rows]
    return "\n".join([header, rule, *body])


def markdown_summary(rows: Sequence[dict[str, Any]], construction: Sequence[dict[str, Any]] = ()) -> str:
    summary = markdown_table(rows, SUMMARY_COLUMNS)
    if construction:
        summary += "\n\n**How the training traces were built**\n\n" + markdown_table(construction, CONSTRUCTION_COLUMNS)
    return summary


def _html_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(key)))}</td>" for key, _ in columns) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def accuracy_plot_png(rows: Sequence[dict[str, Any]]) -> bytes:
    """Grouped bars: answer and trace accuracy per condition, with the chance level as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['dataset']}\n{r['condition']}" for r in rows]
    answer = [r["answer_accuracy"] or 0.0 for r in rows]
    trace = [r["trace_accuracy"] if r["trace_accuracy"] is not None else 0.0 for r in rows]
    positions = range(len(rows))
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(rows)), 3.6), dpi=110)
    width = 0.38
    ax.bar([p - width / 2 for p in positions], answer, width, label="answer accuracy")
    ax.bar([p + width / 2 for p in positions], trace, width, label="trace accuracy (both steps)")
    chance = max((r["chance_accuracy"] or 0.0) for r in rows) if rows else 0.0
    ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label=f"chance ({chance:.2f})")
    ax.set_xticks(list(positions), labels, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy on test split")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def headline_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One sentence per condition: measured answer accuracy against chance, and the trace/answer link."""
    lines = []
    for r in rows:
        line = (
            f"{r['dataset']} / {r['condition']}: answer accuracy {_fmt(r['answer_accuracy'])} on {r['n']} test "
            f"questions vs chance {_fmt(r['chance_accuracy'])} and majority {_fmt(r['majority_accuracy'])}"
        )
        if r.get("chi2") is not None:
            verdict = "significant" if r["chi2"] > 3.841 else "not significant"
            line += (
                f"; trace accuracy {_fmt(r['trace_accuracy'])}, trace-answer association chi² {_fmt(r['chi2'])} "
                f"({verdict} at 5%), phi {_fmt(r['phi'])}"
            )
        lines.append(line + ".")
    return lines


def render_html(
    rows: Sequence[dict[str, Any]], construction: Sequence[dict[str, Any]] = (), title: str = "TraceKD report"
) -> str:
    png = base64.b64encode(accuracy_plot_png(rows)).decode()
    built = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    construction_section = (
        "<h2>How the training traces were built</h2><p>Per condition: training questions, traces kept, questions "
        "left out (no gold fact, nothing to corrupt, teacher wrong or failed), corrupted traces, the teacher's kept "
        "rate (share of questions it answered correctly), and mean trace length in words and in the students' "
        "tokens (whole completion).</p>" + _html_table(construction, CONSTRUCTION_COLUMNS)
        if construction
        else ""
    )
    lineage_rows = "".join(
        "<tr>"
        + "".join(
            f"<td><code>{html.escape(_fmt(r.get(key)))}</code></td>"
            for key in ("dataset", "condition", "base_model", "eval_split", "trace_set_versions", "model_revisions", "scorer_versions")
        )
        + "</tr>"
        for r in rows
    )
    headline = "".join(f"<li>{html.escape(line)}</li>" for line in headline_lines(rows))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 70rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }}
th {{ background: #f3f3f3; }} td:first-child, td:nth-child(2) {{ text-align: left; }}
code {{ font-size: 0.8rem; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Built {built}. Each row is one trace condition's student, evaluated on the held-out test split.
<em>Chance</em> is a uniform guess among the answers seen in training for the question's category;
<em>majority</em> always gives the category's most frequent training answer. Trace accuracy counts a
trace as correct when both steps (class label and the exact set of supporting facts) equal gold.
chi² is Pearson's on the trace-correct × answer-correct table (1 d.f.; 3.841 is the 5% line);
– means undefined (no trace, or an empty row or column).</p>
<h2>Headline</h2>
<ul>{headline}</ul>
<h2>Answer and trace accuracy per condition</h2>
<img alt="answer and trace accuracy per condition" src="data:image/png;base64,{png}">
{_html_table(rows, SUMMARY_COLUMNS)}
{construction_section}
<h2>Lineage</h2>
<table><tr><th>dataset</th><th>condition</th><th>base model</th><th>eval split</th><th>trace set versions</th>
<th>model revisions</th><th>scorer versions</th></tr>{lineage_rows}</table>
</body></html>
"""
