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

AnswerScorer = Callable[[str | None, Sequence[str], str], bool]
"""(predicted answer, gold answers/aliases, the question's category) -> correct?"""


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower().rstrip(".!?")).strip()


ORDERED_LIST_CATEGORIES = frozenset({"path-finding"})
"""bAbI tasks whose comma answers are sequences (qa19 directions `s,e`), not sets."""


def _items(text: str, ordered: bool) -> tuple[str, ...]:
    items = [_normalize(part) for part in text.split(",") if part.strip()]
    return tuple(items) if ordered else tuple(sorted(items))


def babi_answer_correct(predicted: str | None, gold_answers: Sequence[str], category: str = "") -> bool:
    """bAbI exact match after normalisation; comma lists compare order-insensitively (`lists-sets`),
    except path-finding, whose direction list is a path and keeps its order."""
    if predicted is None:
        return False
    ordered = category in ORDERED_LIST_CATEGORIES
    return any(_items(predicted, ordered) == _items(gold, ordered) for gold in gold_answers)


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = re.compile(r"[^\w\s]")


def official_normalize(text: str) -> str:
    """SQuAD-style normalisation used by CoTempQA's evaluation: lower case, no punctuation, no
    articles, single spaces."""
    text = _PUNCTUATION.sub(" ", text.lower())
    return " ".join(_ARTICLES.sub(" ", text).split())


SET_ANSWER_CATEGORIES = frozenset({"mix"})
"""CoTempQA relations whose (multi-)answer is a set: every co-temporal answer, in any order."""


def cotempqa_answer_correct(predicted: str | None, gold_answers: Sequence[str], category: str = "") -> bool:
    """Exact match after official normalisation against any gold answer; for `mix` the comma
    separated items must equal the gold set."""
    if predicted is None:
        return False
    if category in SET_ANSWER_CATEGORIES:
        items = lambda text: frozenset(official_normalize(p) for p in text.split(",") if p.strip())  # noqa: E731
        return any(items(predicted) == items(gold) for gold in gold_answers)
    return any(official_normalize(predicted) == official_normalize(gold) for gold in gold_answers)


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
