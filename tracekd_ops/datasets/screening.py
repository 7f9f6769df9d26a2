"""What a record's text may hold before it reaches a prompt, a trace or the store.

Loaders keep what a source says; screening then leaves out, and counts by reason, any record whose
text could break a trace or run away with the budget:
- trace markup (`<think>`, `</think>`, `<answer>`, `</answer>`) anywhere in its text: it could end
  a trace early or fake an answer;
- control characters (NUL and the other C0/C1 controls; whitespace is folded before, see
  `core.records`): DuckDB would store them, tokenizers and terminals mangle them;
- text over the limits below: one multi-megabyte fact made tokenizer training run for minutes,
  one 1 MB question made a training step outlast its wall-time cap.

`tracekd datasets inspect` and `raw_examples` screen the same way, so they agree on every count.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from tracekd_ops.core.markup import contains_markup
from tracekd_ops.core.records import QARecord


@dataclass(frozen=True)
class TextLimits:
    """Generous for every published dataset here (bAbI: 228 facts of <= 56 characters; CoTempQA:
    35 facts of <= 181; MS MARCO: ~10 passages of <= ~1,500), tight enough to bound a step."""

    max_question_chars: int = 1_000
    max_fact_chars: int = 4_000
    max_answer_chars: int = 1_000
    max_facts: int = 500


LIMITS = TextLimits()


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in text)


def screen(record: QARecord, limits: TextLimits = LIMITS) -> str | None:
    """Why `record` cannot be used, or None."""
    texts = [record.question, *(f.text for f in record.facts), *record.answers]
    if any(contains_markup(t) for t in texts):
        return "text contains trace markup (<think>, </think>, <answer>, </answer>)"
    if any(_has_control(t) for t in texts):
        return "text contains control characters (e.g. NUL)"
    if len(record.question) > limits.max_question_chars:
        return f"question longer than {limits.max_question_chars:,} characters"
    if len(record.facts) > limits.max_facts:
        return f"more than {limits.max_facts:,} facts"
    if any(len(f.text) > limits.max_fact_chars for f in record.facts):
        return f"a fact longer than {limits.max_fact_chars:,} characters"
    if any(len(a) > limits.max_answer_chars for a in record.answers):
        return f"an answer longer than {limits.max_answer_chars:,} characters"
    return None


@dataclass
class Screened:
    """The records that pass screening, as they stream by; `left_out` counts the others by reason
    (complete once iteration ends)."""

    records: Iterable[QARecord]
    limits: TextLimits = LIMITS
    left_out: Counter[str] = field(default_factory=Counter)

    def __iter__(self) -> Iterator[QARecord]:
        for record in self.records:
            reason = screen(record, self.limits)
            if reason is None:
                yield record
            else:
                self.left_out[reason] += 1
