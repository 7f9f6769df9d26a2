"""Trace conditions: the experimental factor. Every condition's rule lives here and only here.

A condition decides what the student learns to write after the prompt:

- `solution_only`: the answer alone.
- `correct`: the gold class label and gold supporting facts, then the answer.
- `incorrect`: a wrong class label and/or wrong facts (per `Corruption`), then the *correct* answer.

Each built row records which steps were corrupted, so validation can check "differs from gold in
every corrupted step, equals gold elsewhere" row by row.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from tracekd_ops.records import QARecord
from tracekd_ops.traces import render_answer, render_completion, render_prompt

SOLUTION_ONLY = "solution_only"
CORRECT = "correct"
INCORRECT = "incorrect"
CONDITIONS: tuple[str, ...] = (SOLUTION_ONLY, CORRECT, INCORRECT)
TRACE_CONDITIONS: frozenset[str] = frozenset({CORRECT, INCORRECT})
"""Conditions whose completions carry the two decomposition steps."""


@dataclass(frozen=True)
class Corruption:
    """How `incorrect` traces are made wrong (the reference study: both steps, every example).

    Wrong facts are random non-gold facts of the same story, as many as the gold facts (fewer
    only when the story has too few other facts)."""

    steps: tuple[str, ...] = ("class", "facts")
    rate: float = 1.0

    def __post_init__(self) -> None:
        unknown = set(self.steps) - {"class", "facts"}
        if unknown or not self.steps:
            raise ValueError(f"corruption steps must be a non-empty subset of class, facts; got {self.steps}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"corruption rate must be within [0, 1]; got {self.rate}")


class TraceNotApplicable(ValueError):
    """The condition cannot be built for this question (no gold fact to state, nothing to
    corrupt): the question is left out of that trace set and counted, never silently."""


@dataclass(frozen=True)
class TraceRow:
    dataset: str
    split: str
    example_id: str
    condition: str
    prompt: str
    completion: str
    gold_class: str
    gold_fact_ids: list[int]
    gold_answers: list[str]
    story_fact_ids: list[int]
    rendered_class: str | None
    rendered_fact_ids: list[int] | None
    rendered_answer: str
    class_corrupted: bool
    facts_corrupted: bool

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


def _wrong_label(rng: random.Random, gold: str, labels: list[str]) -> str:
    others = [label for label in labels if label != gold]
    if not others:
        raise TraceNotApplicable(f"cannot corrupt class {gold!r}: the dataset has no other label")
    return rng.choice(others)


def _wrong_facts(rng: random.Random, record: QARecord) -> tuple[int, ...]:
    others = [i for i in record.fact_ids if i not in record.gold_fact_ids]
    if not others:
        raise TraceNotApplicable(f"{record.source}: cannot corrupt facts, every fact of the story is gold")
    count = min(len(record.gold_fact_ids), len(others))
    return tuple(sorted(rng.sample(others, count)))


def build_trace(
    condition: str,
    record: QARecord,
    labels: list[str],
    seed: int = 0,
    corruption: Corruption = Corruption(),
) -> TraceRow:
    """The training row for `record` under `condition`; deterministic in (seed, condition, id)."""
    if condition not in CONDITIONS:
        raise ValueError(f"unknown trace condition {condition!r}; known: {', '.join(CONDITIONS)}")
    rng = random.Random(f"{seed}/{condition}/{record.example_id}")
    answer = render_answer(record.answers)
    category: str | None = None
    fact_ids: tuple[int, ...] | None = None
    class_corrupted = facts_corrupted = False
    if condition in TRACE_CONDITIONS:
        if not record.gold_fact_ids:
            raise TraceNotApplicable(f"{record.source}: the decomposition rule gives this question no gold fact")
        category, fact_ids = record.category, record.gold_fact_ids
        if condition == INCORRECT and rng.random() < corruption.rate:
            if "class" in corruption.steps:
                category, class_corrupted = _wrong_label(rng, record.category, labels), True
            if "facts" in corruption.steps:
                fact_ids, facts_corrupted = _wrong_facts(rng, record), True
    return TraceRow(
        dataset=record.dataset,
        split=record.split,
        example_id=record.example_id,
        condition=condition,
        prompt=render_prompt(record),
        completion=render_completion(category, fact_ids, answer),
        gold_class=record.category,
        gold_fact_ids=list(record.gold_fact_ids),
        gold_answers=list(record.answers),
        story_fact_ids=list(record.fact_ids),
        rendered_class=category,
        rendered_fact_ids=list(fact_ids) if fact_ids is not None else None,
        rendered_answer=answer,
        class_corrupted=class_corrupted,
        facts_corrupted=facts_corrupted,
    )


def build_trace_set(
    condition: str, records: Iterable[QARecord], labels: list[str], seed: int = 0, corruption: Corruption = Corruption()
) -> tuple[list[TraceRow], dict[str, int]]:
    """Trace rows for every question the condition applies to, and how many were left out, by reason."""
    rows: list[TraceRow] = []
    skipped: dict[str, int] = {}
    for record in records:
        try:
            rows.append(build_trace(condition, record, labels, seed, corruption))
        except TraceNotApplicable as reason:
            key = str(reason).split(": ", 1)[-1]
            skipped[key] = skipped.get(key, 0) + 1
    return rows, skipped


def trace_set_version(rows: Iterable[TraceRow]) -> str:
    """Content hash of a training trace set: same traces, same version, whatever the run."""
    digest = hashlib.sha256()
    for row in sorted(rows, key=lambda r: r.example_id):
        digest.update(json.dumps([row.example_id, row.prompt, row.completion]).encode())
    return digest.hexdigest()[:16]
