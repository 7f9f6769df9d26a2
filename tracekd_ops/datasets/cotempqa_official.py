"""CoTempQA's official answer metric (Su et al., ACL 2024), as the dataset's evaluation script
computes it, and as the reference study reports it (its `evaluation_results` files: `acc`, `f1`,
`p`, `r`, `avg`, in percent).

It differs from TraceKD's own CoTempQA rule (`answers.cotempqa_answer_correct`) in two ways that
move verdicts, which is why it lives here as its own, named metric:

- the answer is read loosely from the whole generation (inside `<answer>` if there is one, else
  after "answer:"), and reduced to the *entities it mentions*: every subject or object the
  question's facts name, plus the gold answers, found as substrings of the lower-cased text,
  longest first (the first one that also occurs in the question is dropped: it is the anchor);
- exact match is equality of the *set* of mentioned entities with the *set* of gold answers, so a
  question with two gold answers is right only when both, and nothing else, are named.

The slot an entity fills is the fact's subject when the question's triple kind is `S2_R1_O1`'s
complement, and its object otherwise: the published script tests `'S2_R1_O1' not in
triple_element` for "subject", the reverse of its own GPT scorer. Kept as published, since the
point of this module is to reproduce the published numbers (a test does, to the decimal, on every
released file); the gold answers are always candidates, so the swap rarely changes a verdict.

Standard library only; pure functions.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

VERSION = "cotempqa-official-1"

# Fact templates per relation keyword, tried in order; the keyword list is searched in this order
# too (the first keyword found in a fact decides its relation).
_TIME_SHAPES = ("from (.+?) to (.+?)\\.", "in (.+?)\\.", "from (.+?)", None)
_RELATION_PHRASES: tuple[tuple[str, str], ...] = (
    (" the position of ", "holds the position of"),
    (" a member of ", "is a member of the"),
    (" the chair of ", "is the chair of"),
    (" the head of ", "is the head of"),
    (" owned by ", "is owned by"),
    ("attend", "attended"),
    ("work", "works for"),
    ("play", "plays for"),
)
_PAST_TO_PRESENT = ((" was ", " is "), (" held ", " holds "), (" worked ", " works "), (" played ", " plays "))


def _templates(phrase: str) -> list[re.Pattern[str]]:
    shapes = [f"(.+?) {phrase} (.+?) {shape}" if shape else f"(.+?) {phrase} (.+?)\\." for shape in _TIME_SHAPES]
    return [re.compile(shape) for shape in shapes]


_TEMPLATES = {keyword: _templates(phrase) for keyword, phrase in _RELATION_PHRASES}


def fact_entity(fact: str, subject: bool) -> str | None:
    """The subject or object a templated fact names (lower-cased), or None when it fits no template.
    A keyword whose templates do not match passes the fact (its verbs already in the present) on
    to the next keyword, as the published loop does."""
    for keyword, _ in _RELATION_PHRASES:
        if keyword in fact:
            for old, new in _PAST_TO_PRESENT:
                fact = fact.replace(old, new)
            for template in _TEMPLATES[keyword]:
                found = template.match(fact)
                if found:
                    return (found.group(1) if subject else found.group(2)).lower()
    return None


def answer_span(generation: str) -> str:
    """The lower-cased part of a generation the official metric reads the answer from."""
    text = generation.lower()
    if "<answer>" in text:
        text = text.split("<answer>")[1]
        if "</answer>" in text:
            text = text.split("</answer>")[0]
    elif "answer the question based on" in text:
        text = text.split("answer the question based on")[0]
    elif " answer " in text:
        text = text.split(" answer ")[1]
    elif "answer:" in text:
        text = text.split("answer:")[1]
    return text.replace("assistant", "").replace("think", "")


def normalize(text: str) -> str:
    """Lower case, ASCII punctuation removed, whitespace collapsed (articles kept)."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(text.split())


@dataclass(frozen=True)
class OfficialScore:
    mentioned: tuple[str, ...]
    """The normalised entities the answer names (or the whole span, when it names none)."""
    exact: bool
    f1: float
    precision: float
    recall: float


def official_score(generation: str, gold: Sequence[str], facts: Sequence[str], question: str, triple_element: str) -> OfficialScore:
    """Score one generation as CoTempQA's evaluation does (see the module docstring)."""
    golds = [g.lower() for g in gold]
    subject = "S2_R1_O1" not in triple_element
    candidates = {e for e in (fact_entity(f, subject) for f in facts) if e is not None} | set(golds)
    ordered = sorted(candidates, key=lambda c: (-len(c), c))  # longest first; ties in a fixed order
    span, asked = answer_span(generation), question.lower()
    anchor_dropped, named = False, []
    for candidate in ordered:
        if candidate in span and candidate in asked and not anchor_dropped:
            span = span.replace(candidate, "")
            anchor_dropped = True
            continue
        if candidate in span:
            named.append(candidate)
            span = span.replace(candidate, "")
    predicted = sorted({normalize(c) for c in (named or [span])})
    expected = sorted({normalize(g) for g in golds})
    common = sum((Counter(predicted) & Counter(expected)).values())
    precision = common / len(predicted) if common else 0.0
    recall = common / len(expected) if common else 0.0
    f1 = 2 * precision * recall / (precision + recall) if common else 0.0
    return OfficialScore(tuple(predicted), predicted == expected, f1, precision, recall)


def summary(scores: Sequence[OfficialScore]) -> dict[str, float]:
    """The published summary of a file: acc, f1, p, r and avg (mean of acc and f1), in percent,
    rounded to one decimal as the evaluation script writes them."""
    if not scores:
        raise ValueError("no scores to summarise")
    n = len(scores)
    exact = sum(s.exact for s in scores)
    f1 = sum(s.f1 for s in scores)
    return {
        "acc": round(exact * 100 / n, 1),
        "f1": round(f1 * 100 / n, 1),
        "p": round(sum(s.precision for s in scores) * 100 / n, 1),
        "r": round(sum(s.recall for s in scores) * 100 / n, 1),
        "avg": round((exact + f1) * 50 / n, 1),
    }
