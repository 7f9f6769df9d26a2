"""Answer rules: when a predicted answer counts as right, per dataset family, each with a version.

A dataset's spec names its rule (`DatasetSpec.answer`); the version travels into every prediction
and metric row, so changing a rule here and bumping its version marks exactly the evaluations of
the datasets that use it stale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

AnswerCheck = Callable[[str | None, Sequence[str], str], bool]
"""(predicted answer, gold answers/aliases, the question's category) -> correct?"""


@dataclass(frozen=True)
class AnswerRule:
    version: str
    correct: AnswerCheck


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


def msmarco_answer_correct(predicted: str | None, gold_answers: Sequence[str], category: str = "") -> bool:
    """Normalised exact match against any reference answer. A `No Answer Present.` query is
    answered correctly only by saying so, as the official evaluation treats it as a reference."""
    if predicted is None:
        return False
    return any(official_normalize(predicted) == official_normalize(gold) for gold in gold_answers)


BABI_EXACT_MATCH = AnswerRule("babi-em-1", babi_answer_correct)
COTEMPQA_EXACT_MATCH = AnswerRule("cotempqa-em-1", cotempqa_answer_correct)
MSMARCO_EXACT_MATCH = AnswerRule("msmarco-em-1", msmarco_answer_correct)
