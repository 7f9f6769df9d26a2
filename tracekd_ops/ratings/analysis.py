"""Statistics of one panel's ratings of one item set: per condition the mean, sd and 95% CI of
each Likert scale; inter-rater agreement (Krippendorff's alpha, ordinal); a Friedman test across
conditions with pairwise Wilcoxon signed-rank tests (Holm-corrected); and the participants who
failed attention checks, who are left out of every statistic (and listed).

Ratings are nested in participants, so the CI and the tests work on each participant's mean per
condition (a within-subject design): a chatty participant does not narrow the interval.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass
from statistics import mean, stdev
from typing import Any, Mapping, Sequence

from tracekd_ops.ratings.items import RatingItem
from tracekd_ops.ratings.study import SCALE_NAMES, passed_attention


@dataclass(frozen=True)
class Analysis:
    summary: list[dict[str, Any]]
    """One row per condition x scale."""
    tests: list[dict[str, Any]]
    """Agreement, Friedman and pairwise Wilcoxon rows per scale."""
    participants: list[dict[str, Any]]
    """One row per participant: items rated, attention checks seen and failed, excluded."""


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: controls the family-wise error rate over the pairwise tests."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float | None, float | None]:
    if len(values) < 2:
        return None, None
    from scipy import stats

    centre, spread = mean(values), stdev(values) / math.sqrt(len(values))
    if spread == 0:
        return centre, centre
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * spread
    return centre - half, centre + half


def krippendorff_alpha(ratings: Sequence[Mapping[str, Any]], scale: str) -> tuple[float | None, str | None]:
    """Ordinal alpha over raters x items; None with the reason where it is undefined."""
    import krippendorff
    import numpy as np

    raters = sorted({r["participant_id"] for r in ratings})
    items = sorted({r["item_id"] for r in ratings})
    if len(raters) < 2:
        return None, "needs at least 2 raters"
    matrix = np.full((len(raters), len(items)), np.nan)
    row, column = {p: i for i, p in enumerate(raters)}, {item: j for j, item in enumerate(items)}
    for r in ratings:
        matrix[row[r["participant_id"]], column[r["item_id"]]] = r[scale]
    if len({v for v in matrix[~np.isnan(matrix)]}) < 2:
        return None, "every rating is the same value"
    if ((~np.isnan(matrix)).sum(axis=0) >= 2).sum() == 0:
        return None, "no item was rated by 2 raters"
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal")), None


def _participant_means(ratings: Sequence[Mapping[str, Any]], scale: str) -> dict[str, dict[str, float]]:
    """participant -> condition -> mean rating."""
    cells: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in ratings:
        cells[(r["participant_id"], r["condition"])].append(r[scale])
    means: dict[str, dict[str, float]] = defaultdict(dict)
    for (participant, condition), values in cells.items():
        means[participant][condition] = mean(values)
    return means


def _condition_tests(ratings: Sequence[Mapping[str, Any]], scale: str, conditions: list[str]) -> list[dict[str, Any]]:
    from scipy import stats

    means = _participant_means(ratings, scale)
    complete = [m for m in means.values() if all(c in m for c in conditions)]
    rows: list[dict[str, Any]] = []
    friedman = {"scale": scale, "test": "friedman", "groups": ",".join(conditions), "n": len(complete), "statistic": None, "p": None}
    if len(conditions) < 3:
        rows.append({**friedman, "note": "needs at least 3 conditions"})
    elif len(complete) < 2:
        rows.append({**friedman, "note": "needs at least 2 participants who rated every condition"})
    else:
        result = stats.friedmanchisquare(*([m[c] for m in complete] for c in conditions))
        statistic, p = float(result.statistic), float(result.pvalue)
        rows.append({**friedman, "statistic": None if math.isnan(statistic) else statistic, "p": None if math.isnan(p) else p,
                     "note": "participant means per condition, complete participants only"})  # fmt: skip
    pairs = []
    for a, b in itertools.combinations(conditions, 2):
        both = [m for m in means.values() if a in m and b in m]
        row = {"scale": scale, "test": "wilcoxon", "groups": f"{a},{b}", "n": len(both), "statistic": None, "p": None}
        differences = [m[a] - m[b] for m in both]
        if len(both) < 2:
            row["note"] = "needs at least 2 participants who rated both"
        elif not any(differences):
            row.update(statistic=0.0, p=1.0, note="no participant rated them differently")
        else:
            result = stats.wilcoxon([m[a] for m in both], [m[b] for m in both])
            row.update(statistic=float(result.statistic), p=float(result.pvalue), note="signed-rank on participant means")
        pairs.append(row)
    tested = [r for r in pairs if r["p"] is not None]
    for row, adjusted in zip(tested, holm([r["p"] for r in tested])):
        row["p_holm"] = adjusted
    return rows + pairs


def analyse(items: Sequence[RatingItem], ratings: Sequence[Mapping[str, Any]]) -> Analysis:
    """The statistics of one panel's ratings (all of one item set)."""
    by_id = {item.item_id: item for item in items}
    unknown = sorted({r["item_id"] for r in ratings} - set(by_id))
    if unknown:
        raise ValueError(f"ratings of items not in the item set: {', '.join(unknown[:5])}")
    if not ratings:
        raise ValueError("no ratings to analyse")
    seen: dict[str, dict[str, int]] = defaultdict(lambda: {"rated": 0, "attention_checks": 0, "attention_failed": 0})
    for r in ratings:
        counts, item = seen[r["participant_id"]], by_id[r["item_id"]]
        if item.attention_check:
            counts["attention_checks"] += 1
            counts["attention_failed"] += not passed_attention(item.expected(), r)
        else:
            counts["rated"] += 1
    participants = [{"participant_id": p, **c, "excluded": c["attention_failed"] > 0} for p, c in sorted(seen.items())]
    excluded = {p["participant_id"] for p in participants if p["excluded"]}
    kept = [{**r, "condition": by_id[r["item_id"]].condition} for r in ratings
            if r["participant_id"] not in excluded and not by_id[r["item_id"]].attention_check]  # fmt: skip
    conditions = sorted({r["condition"] for r in kept})
    versions = {item.condition: item.trace_set_version for item in items if not item.attention_check}
    summary, tests = [], []
    for scale in SCALE_NAMES:
        means = _participant_means(kept, scale)
        for condition in conditions:
            values = [r[scale] for r in kept if r["condition"] == condition]
            low, high = t_interval([m[condition] for m in means.values() if condition in m])
            summary.append({
                "condition": condition, "trace_set_version": versions[condition], "scale": scale, "n_ratings": len(values),
                "n_participants": sum(condition in m for m in means.values()), "mean": mean(values),
                "sd": stdev(values) if len(values) > 1 else None, "ci_low": low, "ci_high": high,
            })  # fmt: skip
        alpha, why = krippendorff_alpha(kept, scale) if kept else (None, "no ratings left after exclusions")
        tests.append({"scale": scale, "test": "krippendorff_alpha_ordinal", "groups": ",".join(conditions),
                      "n": len({r["participant_id"] for r in kept}), "statistic": alpha, "p": None,
                      "note": why or "raters x items, attention checks and excluded participants left out"})  # fmt: skip
        tests += _condition_tests(kept, scale, conditions)
    for row in tests:
        row.setdefault("p_holm", None)
    return Analysis(summary, tests, participants)
