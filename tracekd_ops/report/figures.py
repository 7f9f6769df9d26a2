"""The report's figures, each drawn with matplotlib (Agg) and returned as base64 PNG for the page
to inline, or None where there is nothing to plot (the page says so instead)."""

from __future__ import annotations

import base64
import io
from typing import Any

from tracekd_ops.report.cells import Rows
from tracekd_ops.report.findings import simulated_panel


def _png_bytes(fig: Any) -> bytes:
    """The figure as PNG bytes, closed (pyplot keeps every open figure alive otherwise)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _png(fig: Any) -> str:
    """The figure as base64 PNG, what the page inlines (it opens offline)."""
    return base64.b64encode(_png_bytes(fig)).decode()


def _pyplot() -> Any:
    """pyplot on the Agg backend: figures are drawn to files, never to a screen (a worker has none)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(r: dict[str, Any]) -> str:
    """A bar's label: dataset, condition and the student's short name (the axis has little room)."""
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
    return _png_bytes(fig)


def accuracy_png(rows: Rows) -> str:
    """`accuracy_plot_png` as base64 (drawn even with one row: the page always opens with it)."""
    return base64.b64encode(accuracy_plot_png(rows)).decode()


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
    simulated = simulated_panel(points)
    ax.set_title("SIMULATED PANEL (not people)" if simulated else "ratings by participants", fontsize=9, color="#a00" if simulated else "#222")
    ax.legend(fontsize=7)
    return _png(fig)
