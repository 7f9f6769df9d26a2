"""What a record's text may hold before it reaches a prompt, a trace or the store.

Loaders keep what a source says; screening then leaves out, and counts by reason, any record whose
text could break a trace or run away with the budget:
- trace markup (`<think>`, `</think>`, `<answer>`, `</answer>`) anywhere in its text: it could end
  a trace early or fake an answer;
- control characters (NUL and the other C0/C1 controls; whitespace is folded before, see
  `core.records`): DuckDB would store them, tokenizers and terminals mangle them;
- text over the limits below: one multi-megabyte fact made tokenizer training run for minutes,
  one 1 MB question made a training step outlast its wall-time cap.

A record seen twice (the same example id with the same content, as when a file was concatenated
with itself) is kept once and the repeats counted; the same id with different content is an error
naming both places. Notes a loader attaches to records it kept (e.g. MS MARCO's empty answer lists)
are counted too. `tracekd datasets inspect` and `raw_examples` screen the same way, so they agree
on every count.
"""

from __future__ import annotations

import hashlib
import json
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


DUPLICATE = "duplicate of an earlier record (same example id and content)"


def _content_key(record: QARecord) -> bytes:
    content = [record.split, record.category, record.question, [(f.id, f.text) for f in record.facts], list(record.answers),
               list(record.gold_fact_ids)]  # fmt: skip
    return hashlib.sha256(json.dumps(content).encode()).digest()[:16]


@dataclass
class Screened:
    """The records that pass screening, as they stream by; `left_out` counts the others by reason,
    `notes` what loaders noted on kept records (both complete once iteration ends)."""

    records: Iterable[QARecord]
    limits: TextLimits = LIMITS
    left_out: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)

    def __iter__(self) -> Iterator[QARecord]:
        seen: dict[str, tuple[bytes, str]] = {}
        for record in self.records:
            reason = screen(record, self.limits)
            if reason is not None:
                self.left_out[reason] += 1
                continue
            key = _content_key(record)
            if record.example_id in seen:
                first_key, first_source = seen[record.example_id]
                if first_key != key:
                    raise ValueError(
                        f"{record.source}: example id {record.example_id} appears twice with different content (first at {first_source})"
                    )
                self.left_out[DUPLICATE] += 1
                continue
            seen[record.example_id] = (key, record.source)
            if record.extra.get("note"):
                self.notes[str(record.extra["note"])] += 1
            yield record
