"""Trace-vs-answer statistics: the 2x2 table and what the study reads off it.

Chi-square is Pearson's without continuity correction (the reference study compares it with the
3.841 line, the 5% critical value at one degree of freedom). It is undefined when a row or
column of the table is empty; then it is None, not 0, so a report cannot mistake it for evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence


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
