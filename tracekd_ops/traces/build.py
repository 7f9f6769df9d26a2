"""How each kind of trace is built from a question: the construction rules behind the conditions.

The answer written after any trace is always the gold answer. Each row records how it was built
(`construction`, `trace_source_id`, the corruption flags), so the validation suites can check
every rule row by row, and the report can say how a trace set was made. Which rule a condition
uses is the condition's record (`conditions.py`); the rules here know no condition by name.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Mapping, Sequence

from tracekd_ops.core.markup import contains_markup
from tracekd_ops.core.records import QARecord
from tracekd_ops.datasets import dataset_spec
from tracekd_ops.datasets.specs import same_count_wrong_facts
from tracekd_ops.traces.render import SENTENCES, TRACE_STYLES, render_answer, render_completion, render_free_trace, render_prompt

SAME_COUNT = "same_count"
REFERENCE = "reference"
FACT_RULES: tuple[str, ...] = (SAME_COUNT, REFERENCE)


@dataclass(frozen=True)
class Corruption:
    """How `incorrect` traces are made wrong (default: the reference study's, both steps, every example).

    The wrong label is a random different label of the dataset. Wrong facts follow `facts_rule`:
    - `same_count`: random non-gold facts of the same story, as many as the gold facts (fewer only
      when the story has too few other facts);
    - `reference`: the reference study's per-dataset rule, as the dataset's spec states it (bAbI and
      the generated tasks as `same_count`; CoTempQA one fact not containing the answer; MS MARCO
      one passage sharing fewer than 8 words with the answer).
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
        """Field by field, without `asdict`'s deep copy (a third of a trace step's time on 18k rows)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def make_row(
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


def _wrong_facts(rng: random.Random, record: QARecord, rule: str) -> tuple[tuple[int, ...], str]:
    pick = dataset_spec(record.dataset).reference_wrong_facts if rule == REFERENCE else same_count_wrong_facts
    wrong = pick(record)
    if not wrong.candidates:
        raise TraceNotApplicable(f"cannot corrupt facts: no fact of the story qualifies ({wrong.described})")
    return tuple(sorted(rng.sample(wrong.candidates, min(wrong.count, len(wrong.candidates))))), wrong.described


def _require_gold_facts(record: QARecord) -> None:
    if not record.gold_fact_ids:
        raise TraceNotApplicable("the decomposition rule gives this question no gold fact")


def answer_only_row(condition: str, record: QARecord, labels: Sequence[str], options: TraceOptions) -> TraceRow:
    """The answer alone."""
    return make_row(condition, record, options, render_completion(None, None, render_answer(record.answers)), construction={"trace": "none"})


def gold_steps_row(condition: str, record: QARecord, labels: Sequence[str], options: TraceOptions) -> TraceRow:
    """The gold class label and gold facts, then the answer."""
    _require_gold_facts(record)
    return make_row(
        condition, record, options,
        render_completion(record.category, record.gold_fact_ids, render_answer(record.answers), options.style),
        category=record.category, fact_ids=record.gold_fact_ids, construction={"trace": "gold"},
    )  # fmt: skip


def corrupted_steps_row(condition: str, record: QARecord, labels: Sequence[str], options: TraceOptions) -> TraceRow:
    """A wrong class label and/or wrong facts (per `options.corruption`), then the correct
    answer; deterministic in (seed, condition, example id)."""
    _require_gold_facts(record)
    rng = random.Random(f"{options.seed}/{condition}/{record.example_id}")
    corruption = options.corruption
    if rng.random() >= corruption.rate:
        row = gold_steps_row(condition, record, labels, options)
        construction = {"trace": "gold (not drawn for corruption)", "rate": corruption.rate}
        return TraceRow(**{**row.to_row(), "construction": json.dumps(construction, sort_keys=True)})
    category, fact_ids = record.category, record.gold_fact_ids
    construction: dict[str, Any] = {"trace": "corrupted", "rate": corruption.rate}
    if "class" in corruption.steps:
        category = _wrong_label(rng, record.category, labels)
        construction["class"] = "random other label"
    if "facts" in corruption.steps:
        fact_ids, construction["facts"] = _wrong_facts(rng, record, corruption.facts_rule)
    return make_row(
        condition, record, options,
        render_completion(category, fact_ids, render_answer(record.answers), options.style),
        category=category, fact_ids=fact_ids, class_corrupted="class" in corruption.steps,
        facts_corrupted="facts" in corruption.steps, construction=construction,
    )  # fmt: skip


def derangement(ids: Sequence[str], seed: int) -> dict[str, str]:
    """A random pairing of each id with a *different* id (Sattolo's single cycle), deterministic in
    (seed, ids). Empty when fewer than two ids: nothing can be swapped."""
    ordered = sorted(ids)
    if len(ordered) < 2:
        return {}
    shuffled = list(ordered)
    rng = random.Random(f"{seed}/swapped")
    for i in range(len(shuffled) - 1, 0, -1):
        j = rng.randrange(i)
        shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
    return dict(zip(ordered, shuffled))


def count(skipped: dict[str, int], reason: str, times: int = 1) -> None:
    if times:
        skipped[reason] = skipped.get(reason, 0) + times


def swapped_rows(condition: str, records: Sequence[QARecord], options: TraceOptions, skipped: dict[str, int]) -> list[TraceRow]:
    """The gold trace of *another* question of the set (a derangement), then this question's answer."""
    usable = [r for r in records if r.gold_fact_ids]
    count(skipped, "the decomposition rule gives this question no gold fact", len(records) - len(usable))
    donors = derangement([r.example_id for r in usable], options.seed)
    by_id = {r.example_id: r for r in usable}
    rows = []
    for record in usable:
        if record.example_id not in donors:
            count(skipped, "fewer than two questions to swap traces between")
            continue
        donor = by_id[donors[record.example_id]]
        rows.append(
            make_row(
                condition, record, options,
                render_completion(donor.category, donor.gold_fact_ids, render_answer(record.answers), options.style),
                category=donor.category, fact_ids=donor.gold_fact_ids, trace_source_id=donor.example_id,
                construction={"trace": "gold trace of another question", "trace_from": donor.example_id},
            )
        )  # fmt: skip
    return rows


def teacher_row(condition: str, record: QARecord, options: TraceOptions, found: TeacherText | None, max_words: int | None) -> TraceRow:
    """The teacher's text (kept only where the teacher's answer is right), then the gold answer."""
    if found is None:
        raise TraceNotApplicable("the teacher has not been asked this question yet")
    if found.problem:
        raise TraceNotApplicable(found.problem)
    if not found.answer_correct:
        raise TraceNotApplicable("the teacher's answer is wrong")
    if not found.text or not found.text.strip():
        raise TraceNotApplicable("the teacher wrote no trace")
    if contains_markup(found.text):
        raise TraceNotApplicable("the teacher's text contains trace markup, which would end or fake the trace")
    if max_words is not None and len(found.text.split()) >= max_words:
        raise TraceNotApplicable(f"the summary has {max_words} words or more")
    return make_row(
        condition, record, options, render_free_trace(found.text, render_answer(record.answers)),
        teacher_answer=found.teacher_answer, construction={"trace": f"teacher ({condition})", **found.origin},
    )  # fmt: skip


def trace_set_version(rows: Iterable[TraceRow]) -> str:
    """Content hash of a training trace set: same traces, same version, whatever the run."""
    digest = hashlib.sha256()
    for row in sorted(rows, key=lambda r: r.example_id):
        digest.update(json.dumps([row.example_id, row.prompt, row.completion]).encode())
    return digest.hexdigest()[:16]
