"""Answer rules: when a predicted answer counts as right, per dataset family, each with a version.

A dataset's spec names its rule (`DatasetSpec.answer`); the version travels into every prediction
and metric row, so changing a rule here and bumping its version marks exactly the evaluations of
the datasets that use it stale.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

AnswerCheck = Callable[[str | None, Sequence[str], str], bool]
"""(predicted answer, gold answers/aliases, the question's category) -> correct?"""


ItemsCheck = Callable[[Sequence[str], Sequence[str], str], bool]
"""(predicted answer items, gold answer items, the question's category) -> correct? For answers
written as a list (the reference study's students write Python lists)."""


@dataclass(frozen=True)
class AnswerRule:
    version: str
    correct: AnswerCheck
    correct_items: ItemsCheck | None = None
    """How a list-valued answer is judged; None: its items joined by ", " go through `correct`."""

    def items_correct(self, items: Sequence[str], gold_items: Sequence[str], category: str) -> bool:
        if self.correct_items is not None:
            return self.correct_items(items, gold_items, category)
        return bool(items) and self.correct(", ".join(items), gold_items, category)


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


def cotempqa_items_correct(items: Sequence[str], gold_items: Sequence[str], category: str = "") -> bool:
    """A list answer, item by item after official normalisation: for `mix` the items must be the
    gold set; otherwise at least one item, and every item a gold answer (the question asks for one
    co-temporal answer, so any of them is right, and naming several right ones is not wrong).
    Gold items are compared whole, so a name with a comma in it stays one item. For one item this
    is exactly `cotempqa_answer_correct`."""
    predicted = {official_normalize(i) for i in items if i.strip()}
    gold = {official_normalize(g) for g in gold_items if g.strip()}
    if not predicted:
        return False
    return predicted == gold if category in SET_ANSWER_CATEGORIES else predicted <= gold


def token_f1(predicted: str | None, gold_answers: Sequence[str]) -> float:
    """SQuAD token F1 of an answer against its best gold answer (official normalisation)."""
    if not predicted:
        return 0.0
    tokens = official_normalize(predicted).split()
    best = 0.0
    for gold in gold_answers:
        reference = official_normalize(gold).split()
        common = sum((Counter(tokens) & Counter(reference)).values())
        if common:
            precision, recall = common / len(tokens), common / len(reference)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def msmarco_answer_correct(predicted: str | None, gold_answers: Sequence[str], category: str = "") -> bool:
    """Normalised exact match against any reference answer. A `No Answer Present.` query is
    answered correctly only by saying so, as the official evaluation treats it as a reference."""
    if predicted is None:
        return False
    return any(official_normalize(predicted) == official_normalize(gold) for gold in gold_answers)


BABI_EXACT_MATCH = AnswerRule("babi-em-1", babi_answer_correct)
COTEMPQA_EXACT_MATCH = AnswerRule("cotempqa-em-1", cotempqa_answer_correct, cotempqa_items_correct)
MSMARCO_EXACT_MATCH = AnswerRule("msmarco-em-1", msmarco_answer_correct)
