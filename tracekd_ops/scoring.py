"""Scoring one prediction: the answer by the dataset's rule, and each decomposition step.

`SCORER_VERSION` is part of every prediction and metric row and of the Dagster code versions of
the evaluation assets: change a rule here, bump it, and every evaluation shows as stale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from tracekd_ops.traces import ParsedTrace

SCORER_VERSION = "babi-em-1"

AnswerScorer = Callable[[str | None, Sequence[str]], bool]


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower().rstrip(".!?")).strip()


def _as_set(text: str) -> frozenset[str]:
    return frozenset(_normalize(part) for part in text.split(",") if part.strip())


def babi_answer_correct(predicted: str | None, gold_answers: Sequence[str]) -> bool:
    """bAbI exact match after normalisation; comma lists compare as sets (order-insensitive)."""
    if predicted is None:
        return False
    return any(_as_set(predicted) == _as_set(gold) for gold in gold_answers)


@dataclass(frozen=True)
class StepScores:
    """Per-step correctness; None where the completion has no trace to score."""

    class_correct: bool | None
    ir_exact: bool | None
    ir_precision: float | None
    ir_recall: float | None
    trace_correct: bool | None


def score_steps(parsed: ParsedTrace, gold_class: str, gold_fact_ids: Sequence[int], expects_trace: bool) -> StepScores:
    """Score the classification and IR steps against gold. A student trained to write traces
    that writes none (or garbles one) scores those steps as wrong, not as missing."""
    if not expects_trace:
        return StepScores(None, None, None, None, None)
    class_correct = parsed.category is not None and parsed.category == gold_class
    if parsed.fact_ids is None:
        return StepScores(class_correct, False, 0.0, 0.0, False)
    predicted, gold = set(parsed.fact_ids), set(gold_fact_ids)
    hits = len(predicted & gold)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(gold) if gold else float(not predicted)
    ir_exact = predicted == gold
    return StepScores(class_correct, ir_exact, precision, recall, class_correct and ir_exact)
