"""Trace conditions: the experimental factor. Every condition's rule lives here and only here.

A condition decides what the student learns to write after the prompt:

- `solution_only`: the answer alone.
- `correct`: the gold class label and gold supporting facts, then the answer.
- `incorrect`: a wrong class label and/or wrong facts (per `Corruption`), then the *correct* answer.
- `swapped`: the gold trace of *another* question of the same dataset (a derangement), then this
  question's answer.
- `teacher`: the teacher model's own reasoning, kept only where the teacher answered correctly.
- `teacher_summary`: the teacher's summary of that reasoning (under `SUMMARY_MAX_WORDS` words).
- `posthoc`: the teacher's explanation, written after being told its answer was right.

The answer written after any trace is always the gold answer. Each row records how it was built
(`construction`, `trace_source_id`, the corruption flags), so the validation suites can check
every rule row by row, and the report can say how a trace set was made.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from tracekd_ops.records import QARecord
from tracekd_ops.traces import SENTENCES, TRACE_STYLES, render_answer, render_completion, render_free_trace, render_prompt

SOLUTION_ONLY = "solution_only"
CORRECT = "correct"
INCORRECT = "incorrect"
SWAPPED = "swapped"
TEACHER = "teacher"
TEACHER_SUMMARY = "teacher_summary"
POSTHOC = "posthoc"
CONDITIONS: tuple[str, ...] = (SOLUTION_ONLY, CORRECT, INCORRECT, SWAPPED, TEACHER, TEACHER_SUMMARY, POSTHOC)

STEPWISE_CONDITIONS: frozenset[str] = frozenset({CORRECT, INCORRECT, SWAPPED})
"""Conditions whose completions state the two decomposition steps (so a student's steps are scored)."""
TEACHER_CONDITIONS: frozenset[str] = frozenset({TEACHER, TEACHER_SUMMARY, POSTHOC})
"""Conditions built from a teacher model's text; they need a configured teacher."""

FAMILIES: dict[str, str] = {
    SOLUTION_ONLY: "answer_only",
    CORRECT: "decomposed",
    INCORRECT: "decomposed",
    SWAPPED: "swapped",
    TEACHER: "teacher",
    TEACHER_SUMMARY: "teacher",
    POSTHOC: "teacher",
}
"""Conditions that share construction rules share a validation suite."""

SUMMARY_MAX_WORDS = 100
"""A `teacher_summary` trace must be shorter than this (the reference study's limit)."""

SAME_COUNT = "same_count"
REFERENCE = "reference"
FACT_RULES: tuple[str, ...] = (SAME_COUNT, REFERENCE)
MSMARCO_MAX_SHARED_WORDS = 8
"""The reference study's wrong MS MARCO passage shares fewer than this many words with the answer."""


@dataclass(frozen=True)
class Corruption:
    """How `incorrect` traces are made wrong (default: the reference study's, both steps, every example).

    The wrong label is a random different label of the dataset. Wrong facts follow `facts_rule`:
    - `same_count`: random non-gold facts of the same story, as many as the gold facts (fewer only
      when the story has too few other facts);
    - `reference`: the reference study's per-dataset rule: bAbI (and the synthetic tasks) as
      `same_count`; CoTempQA one fact not containing the answer; MS MARCO one passage sharing
      fewer than 8 words with the answer.
    """

    steps: tuple[str, ...] = ("class", "facts")
    rate: float = 1.0
    facts_rule: str = SAME_COUNT

    def __post_init__(self) -> None:
        unknown = set(self.steps) - {"class", "facts"}
        if unknown or not self.steps:
            raise ValueError(f"corruption steps must be a non-empty subset of class, facts; got {self.steps}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"corruption rate must be within [0, 1]; got {self.rate}")
        if self.facts_rule not in FACT_RULES:
            raise ValueError(f"corruption facts_rule must be one of {', '.join(FACT_RULES)}; got {self.facts_rule!r}")


@dataclass(frozen=True)
class TraceOptions:
    """Everything besides the data that decides a trace set (so it is part of the set's identity)."""

    seed: int = 0
    style: str = SENTENCES
    corruption: Corruption = field(default_factory=Corruption)

    def __post_init__(self) -> None:
        if self.style not in TRACE_STYLES:
            raise ValueError(f"trace style must be one of {', '.join(TRACE_STYLES)}; got {self.style!r}")


@dataclass(frozen=True)
class TeacherText:
    """The teacher's text for one training question under one teacher condition, as the teacher
    layer found it. `problem` says why it cannot be used (failed request, wrong answer, ...)."""

    text: str | None
    teacher_answer: str | None
    answer_correct: bool
    origin: Mapping[str, Any]
    problem: str | None = None


class TraceNotApplicable(ValueError):
    """The condition cannot be built for this question (no gold fact to state, nothing to
    corrupt, no usable teacher text): the question is left out of that trace set and counted,
    never silently."""


@dataclass(frozen=True)
class TraceRow:
    dataset: str
    split: str
    example_id: str
    condition: str
    style: str
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
    trace_source_id: str
    teacher_answer: str | None
    construction: str

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


def _row(
    condition: str,
    record: QARecord,
    options: TraceOptions,
    completion: str,
    *,
    category: str | None = None,
    fact_ids: Sequence[int] | None = None,
    class_corrupted: bool = False,
    facts_corrupted: bool = False,
    trace_source_id: str | None = None,
    teacher_answer: str | None = None,
    construction: Mapping[str, Any] | None = None,
) -> TraceRow:
    return TraceRow(
        dataset=record.dataset,
        split=record.split,
        example_id=record.example_id,
        condition=condition,
        style=options.style,
        prompt=render_prompt(record),
        completion=completion,
        gold_class=record.category,
        gold_fact_ids=list(record.gold_fact_ids),
        gold_answers=list(record.answers),
        story_fact_ids=list(record.fact_ids),
        rendered_class=category,
        rendered_fact_ids=list(fact_ids) if fact_ids is not None else None,
        rendered_answer=render_answer(record.answers),
        class_corrupted=class_corrupted,
        facts_corrupted=facts_corrupted,
        trace_source_id=trace_source_id or record.example_id,
        teacher_answer=teacher_answer,
        construction=json.dumps(dict(construction or {}), sort_keys=True),
    )


def _wrong_label(rng: random.Random, gold: str, labels: Sequence[str]) -> str:
    others = [label for label in labels if label != gold]
    if not others:
        raise TraceNotApplicable(f"cannot corrupt class {gold!r}: the dataset has no other label")
    return rng.choice(others)


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _wrong_fact_candidates(record: QARecord, rule: str) -> tuple[list[int], int, str]:
    """(candidate fact ids, how many to pick, rule description) for the dataset under `rule`."""
    others = [f for f in record.facts if f.id not in record.gold_fact_ids]
    if rule == REFERENCE and record.dataset == "cotempqa":
        answers = [a.lower() for a in record.answers]
        free = [f.id for f in others if not any(a in f.text.lower() for a in answers)]
        return free, 1, "one fact not containing the answer"
    if rule == REFERENCE and record.dataset == "msmarco":
        answer_words = set().union(*(_words(a) for a in record.answers))
        far = [f.id for f in others if len(_words(f.text) & answer_words) < MSMARCO_MAX_SHARED_WORDS]
        return far, 1, f"one passage sharing < {MSMARCO_MAX_SHARED_WORDS} words with the answer"
    return [f.id for f in others], len(record.gold_fact_ids), "random non-gold facts, as many as gold"


def _wrong_facts(rng: random.Random, record: QARecord, rule: str) -> tuple[tuple[int, ...], str]:
    candidates, count, described = _wrong_fact_candidates(record, rule)
    if not candidates:
        raise TraceNotApplicable(f"cannot corrupt facts: no fact of the story qualifies ({described})")
    return tuple(sorted(rng.sample(candidates, min(count, len(candidates))))), described


def _require_gold_facts(record: QARecord) -> None:
    if not record.gold_fact_ids:
        raise TraceNotApplicable("the decomposition rule gives this question no gold fact")


def build_trace(condition: str, record: QARecord, labels: Sequence[str], options: TraceOptions = TraceOptions()) -> TraceRow:
    """The training row for `record` under a per-question condition (`solution_only`, `correct`,
    `incorrect`); deterministic in (seed, condition, example id)."""
    if condition not in CONDITIONS:
        raise ValueError(f"unknown trace condition {condition!r}; known: {', '.join(CONDITIONS)}")
    if condition not in (SOLUTION_ONLY, CORRECT, INCORRECT):
        raise ValueError(f"{condition} traces are built over a whole trace set: use build_trace_set")
    answer = render_answer(record.answers)
    if condition == SOLUTION_ONLY:
        return _row(condition, record, options, render_completion(None, None, answer), construction={"trace": "none"})
    _require_gold_facts(record)
    rng = random.Random(f"{options.seed}/{condition}/{record.example_id}")
    category, fact_ids = record.category, record.gold_fact_ids
    construction: dict[str, Any] = {"trace": "gold"}
    class_corrupted = facts_corrupted = False
    if condition == INCORRECT and rng.random() < options.corruption.rate:
        corruption = options.corruption
        construction = {"trace": "corrupted", "rate": corruption.rate}
        if "class" in corruption.steps:
            category, class_corrupted = _wrong_label(rng, record.category, labels), True
            construction["class"] = "random other label"
        if "facts" in corruption.steps:
            fact_ids, construction["facts"] = _wrong_facts(rng, record, corruption.facts_rule)
            facts_corrupted = True
    elif condition == INCORRECT:
        construction = {"trace": "gold (not drawn for corruption)", "rate": options.corruption.rate}
    return _row(
        condition,
        record,
        options,
        render_completion(category, fact_ids, answer, options.style),
        category=category,
        fact_ids=fact_ids,
        class_corrupted=class_corrupted,
        facts_corrupted=facts_corrupted,
        construction=construction,
    )


def derangement(ids: Sequence[str], seed: int) -> dict[str, str]:
    """A random pairing of each id with a *different* id (Sattolo's single cycle), deterministic in
    (seed, ids). Empty when fewer than two ids: nothing can be swapped."""
    ordered = sorted(ids)
    if len(ordered) < 2:
        return {}
    shuffled = list(ordered)
    rng = random.Random(f"{seed}/{SWAPPED}")
    for i in range(len(shuffled) - 1, 0, -1):
        j = rng.randrange(i)
        shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
    return dict(zip(ordered, shuffled))


def _swapped_rows(
    records: Sequence[QARecord], options: TraceOptions, skipped: dict[str, int]
) -> list[TraceRow]:
    usable = [r for r in records if r.gold_fact_ids]
    _count(skipped, "the decomposition rule gives this question no gold fact", len(records) - len(usable))
    donors = derangement([r.example_id for r in usable], options.seed)
    by_id = {r.example_id: r for r in usable}
    rows = []
    for record in usable:
        if record.example_id not in donors:
            _count(skipped, "fewer than two questions to swap traces between")
            continue
        donor = by_id[donors[record.example_id]]
        rows.append(
            _row(
                SWAPPED,
                record,
                options,
                render_completion(donor.category, donor.gold_fact_ids, render_answer(record.answers), options.style),
                category=donor.category,
                fact_ids=donor.gold_fact_ids,
                trace_source_id=donor.example_id,
                construction={"trace": "gold trace of another question", "trace_from": donor.example_id},
            )
        )
    return rows


def _teacher_row(condition: str, record: QARecord, options: TraceOptions, found: TeacherText | None) -> TraceRow:
    if found is None:
        raise TraceNotApplicable("the teacher has not been asked this question yet")
    if found.problem:
        raise TraceNotApplicable(found.problem)
    if not found.answer_correct:
        raise TraceNotApplicable("the teacher's answer is wrong")
    if not found.text or not found.text.strip():
        raise TraceNotApplicable("the teacher wrote no trace")
    if condition == TEACHER_SUMMARY and len(found.text.split()) >= SUMMARY_MAX_WORDS:
        raise TraceNotApplicable(f"the summary has {SUMMARY_MAX_WORDS} words or more")
    return _row(
        condition,
        record,
        options,
        render_free_trace(found.text, render_answer(record.answers)),
        teacher_answer=found.teacher_answer,
        construction={"trace": f"teacher ({condition})", **found.origin},
    )


def _count(skipped: dict[str, int], reason: str, times: int = 1) -> None:
    if times:
        skipped[reason] = skipped.get(reason, 0) + times


def build_trace_set(
    condition: str,
    records: Iterable[QARecord],
    labels: Sequence[str],
    options: TraceOptions = TraceOptions(),
    teacher: Mapping[str, TeacherText] | None = None,
) -> tuple[list[TraceRow], dict[str, int]]:
    """Trace rows for every question the condition applies to, and how many were left out, by
    reason. Teacher conditions need `teacher`: the teacher's text per example id."""
    records = list(records)
    skipped: dict[str, int] = {}
    if condition == SWAPPED:
        return _swapped_rows(records, options, skipped), skipped
    if condition in TEACHER_CONDITIONS and teacher is None:
        raise ValueError(f"{condition} traces need the teacher's texts; none were given")
    rows: list[TraceRow] = []
    for record in records:
        try:
            if condition in TEACHER_CONDITIONS:
                rows.append(_teacher_row(condition, record, options, (teacher or {}).get(record.example_id)))
            else:
                rows.append(build_trace(condition, record, labels, options))
        except TraceNotApplicable as reason:
            _count(skipped, str(reason))
    return rows, skipped


def trace_set_version(rows: Iterable[TraceRow]) -> str:
    """Content hash of a training trace set: same traces, same version, whatever the run."""
    digest = hashlib.sha256()
    for row in sorted(rows, key=lambda r: r.example_id):
        digest.update(json.dumps([row.example_id, row.prompt, row.completion]).encode())
    return digest.hexdigest()[:16]
