"""Statistics of the study, one function each: the step x answer 2x2 table (chi-square, Fisher's
exact test, phi, conditional accuracies), bootstrap confidence intervals, McNemar's test between
two students on the same items. (Mean +/- sd across seeds is DuckDB's avg/stddev_samp in the
`condition_comparison` SQL model.)

Chi-square is Pearson's without continuity correction (the reference study compares it with the
3.841 line, the 5% critical value at one degree of freedom). It is undefined when a row or
column of the table is empty; then it is None, not 0, so a report cannot mistake it for evidence.
Fisher's exact test is reported too, and is the one to read when an expected count is below 5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import random
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class TwoByTwo:
    """Counts of (step correct?, answer correct?)."""

    ok_ok: int
    ok_wrong: int
    wrong_ok: int
    wrong_wrong: int

    @classmethod
    def from_pairs(cls, step_correct: Sequence[bool], answer_correct: Sequence[bool]) -> "TwoByTwo":
        pairs = list(zip(step_correct, answer_correct, strict=True))
        return cls(
            ok_ok=sum(1 for s, a in pairs if s and a),
            ok_wrong=sum(1 for s, a in pairs if s and not a),
            wrong_ok=sum(1 for s, a in pairs if not s and a),
            wrong_wrong=sum(1 for s, a in pairs if not s and not a),
        )

    @property
    def n(self) -> int:
        return self.ok_ok + self.ok_wrong + self.wrong_ok + self.wrong_wrong

    def _margins_nonzero(self) -> bool:
        rows = (self.ok_ok + self.ok_wrong, self.wrong_ok + self.wrong_wrong)
        cols = (self.ok_ok + self.wrong_ok, self.ok_wrong + self.wrong_wrong)
        return all(rows) and all(cols)

    def chi_square(self) -> tuple[float, float] | None:
        """(statistic, p-value), Pearson, 1 degree of freedom, no continuity correction."""
        if not self._margins_nonzero():
            return None
        from scipy.stats import chi2_contingency

        result = chi2_contingency([[self.ok_ok, self.ok_wrong], [self.wrong_ok, self.wrong_wrong]], correction=False)
        return float(result.statistic), float(result.pvalue)

    def phi(self) -> float | None:
        if not self._margins_nonzero():
            return None
        numerator = self.ok_ok * self.wrong_wrong - self.ok_wrong * self.wrong_ok
        denominator = math.sqrt(
            (self.ok_ok + self.ok_wrong)
            * (self.wrong_ok + self.wrong_wrong)
            * (self.ok_ok + self.wrong_ok)
            * (self.ok_wrong + self.wrong_wrong)
        )
        return numerator / denominator

    def p_answer_given_step_correct(self) -> float | None:
        total = self.ok_ok + self.ok_wrong
        return self.ok_ok / total if total else None

    def p_answer_given_step_wrong(self) -> float | None:
        total = self.wrong_ok + self.wrong_wrong
        return self.wrong_ok / total if total else None

    def share_both_correct(self) -> float | None:
        """Share of problems with a correct step and a correct answer (the study's ~28%)."""
        return self.ok_ok / self.n if self.n else None

    def min_expected(self) -> float | None:
        """Smallest expected cell count under independence; None if a margin is empty."""
        if not self._margins_nonzero():
            return None
        rows = (self.ok_ok + self.ok_wrong, self.wrong_ok + self.wrong_wrong)
        cols = (self.ok_ok + self.wrong_ok, self.ok_wrong + self.wrong_wrong)
        return min(r * c / self.n for r in rows for c in cols)

    def fisher(self) -> tuple[float, float] | None:
        """(odds ratio, two-sided p) of Fisher's exact test; None if the table is empty."""
        if not self.n:
            return None
        from scipy.stats import fisher_exact

        result = fisher_exact([[self.ok_ok, self.ok_wrong], [self.wrong_ok, self.wrong_wrong]])
        return float(result.statistic), float(result.pvalue)

    def summary(self) -> dict[str, Any]:
        """Every statistic of the table, as stored per run and step."""
        chi = self.chi_square()
        fisher = self.fisher()
        min_expected = self.min_expected()
        return {
            "n_step_ok_answer_ok": self.ok_ok,
            "n_step_ok_answer_wrong": self.ok_wrong,
            "n_step_wrong_answer_ok": self.wrong_ok,
            "n_step_wrong_answer_wrong": self.wrong_wrong,
            "chi2": chi[0] if chi else None,
            "chi2_p": chi[1] if chi else None,
            "fisher_p": fisher[1] if fisher else None,
            "small_cells": min_expected is not None and min_expected < 5,
            "phi": self.phi(),
            "p_answer_given_step_correct": self.p_answer_given_step_correct(),
            "p_answer_given_step_wrong": self.p_answer_given_step_wrong(),
            "share_both_correct": self.share_both_correct(),
        }


def bootstrap_ci(
    items: Sequence[T],
    statistic: Callable[[Sequence[T]], float | None],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of `statistic` over `items` resampled with replacement
    (items are whole rows, so paired quantities such as phi keep their pairs). Resamples where the
    statistic is undefined are dropped; None if too few remain (or no items)."""
    if not items:
        return None
    rng = random.Random(seed)
    n = len(items)
    values = []
    for _ in range(n_resamples):
        value = statistic([items[rng.randrange(n)] for _ in range(n)])
        if value is not None:
            values.append(value)
    if len(values) < n_resamples / 2:
        return None
    values.sort()
    tail = (1 - confidence) / 2
    low = values[int(math.floor(tail * (len(values) - 1)))]
    high = values[int(math.ceil((1 - tail) * (len(values) - 1)))]
    return low, high


def mean_accuracy(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags)


def phi_of_pairs(pairs: Sequence[tuple[bool, bool]]) -> float | None:
    return TwoByTwo.from_pairs([s for s, _ in pairs], [a for _, a in pairs]).phi()


@dataclass(frozen=True)
class McNemar:
    """Two students answering the same items: b = only the first right, c = only the second."""

    b: int
    c: int
    statistic: float | None
    p: float
    exact: bool


def mcnemar(first_correct: Sequence[bool], second_correct: Sequence[bool], exact_below: int = 25) -> McNemar:
    """McNemar's test on paired answer correctness: the exact binomial test on the discordant
    pairs when there are fewer than `exact_below` of them, else chi-square with continuity
    correction (1 d.f.)."""
    pairs = list(zip(first_correct, second_correct, strict=True))
    b = sum(1 for x, y in pairs if x and not y)
    c = sum(1 for x, y in pairs if y and not x)
    if b + c == 0:
        return McNemar(b, c, None, 1.0, True)
    if b + c < exact_below:
        from scipy.stats import binomtest

        return McNemar(b, c, None, float(binomtest(b, b + c, 0.5).pvalue), True)
    from scipy.stats import chi2

    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    return McNemar(b, c, statistic, float(chi2.sf(statistic, 1)), False)


def f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None:
        return None
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
