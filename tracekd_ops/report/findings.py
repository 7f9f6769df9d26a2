"""What the report says in words: the headline per condition, the result in one line, and the
notes that keep a number from being over-read (far fewer training traces, a run stopped early, a
simulated rating panel, few raters). Plain text: the page template escapes it, the Markdown
summary and the CLI print it as it is."""

from __future__ import annotations

from tracekd_ops.report.cells import Rows, fmt

CHI2_5_PERCENT = 3.841
"""Pearson chi-square's 5% critical value at one degree of freedom."""
FEW_RATERS = 10
"""Below this many valid participants a condition's CI is a t interval on very few means: marked."""


def headline_lines(rows: Rows) -> list[str]:
    """One sentence per condition: measured answer accuracy against chance, and the trace/answer link."""
    lines = []
    for r in rows:
        line = (
            f"{r['dataset']} / {r['condition']}: answer accuracy {fmt(r['answer_accuracy'])} on {r['n']} test "
            f"questions vs chance {fmt(r['chance_accuracy'])} and majority {fmt(r['majority_accuracy'])}"
        )
        if r.get("chi2") is not None:
            verdict = "significant" if r["chi2"] > CHI2_5_PERCENT else "not significant"
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


def simulated_panel(ratings: Rows) -> bool:
    """Whether any of these ratings come from TraceKD's synthetic raters rather than people: the
    page then says so above the section and in the plot's title."""
    return any(r["panel"] != "real" for r in ratings)


def few_raters_note(participants: int | None) -> str:
    """The mark beside a CI computed from fewer than `FEW_RATERS` participants ('' otherwise)."""
    return f" (n < {FEW_RATERS})" if (participants or 0) < FEW_RATERS else ""


def panel_lines(panels: Rows) -> list[str]:
    """Who rated, per dataset and panel, and who was left out of the statistics and why."""
    return [f"{p['dataset']}, {p['panel']} panel: {p['participants']} participants rated item set {p['item_set_version']}; "
            f"{p['excluded']} left out of the statistics ({p['failed_an_attention_check']} failed an attention check)."
            for p in panels]  # fmt: skip
