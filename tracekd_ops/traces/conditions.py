"""Trace conditions: the experimental factor. Each condition is one record, and this is its home.

A condition decides what the student learns to write after the prompt:

- `solution_only`: the answer alone.
- `correct`: the gold class label and gold supporting facts, then the answer.
- `incorrect`: a wrong class label and/or wrong facts (per `Corruption`), then the *correct* answer.
- `swapped`: the gold trace of *another* question of the same dataset (a derangement), then this
  question's answer.
- `teacher`: the teacher model's own reasoning, kept only where the teacher answered correctly.
- `teacher_summary`: the teacher's summary of that reasoning (under `SUMMARY_MAX_WORDS` words).
- `posthoc`: the teacher's explanation, written after being told its answer was right.

A `Condition` says its family (conditions of one family share construction checks and a
validation suite), whether its completions state the two decomposition steps (so a student's
steps are scored), what it needs from the teacher, and which rule builds its traces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from tracekd_ops.core.records import QARecord
from tracekd_ops.traces.build import (
    REFERENCE,
    SAME_COUNT,
    Corruption,
    TeacherText,
    TraceNotApplicable,
    TraceOptions,
    TraceRow,
    answer_only_row,
    corrupted_steps_row,
    count,
    derangement,
    gold_steps_row,
    swapped_rows,
    teacher_row,
    trace_set_version,
)

__all__ = [
    "CONDITIONS", "CORRECT", "Condition", "Corruption", "INCORRECT", "POSTHOC", "REFERENCE", "SAME_COUNT", "SOLUTION_ONLY",
    "STEPWISE_CONDITIONS", "SUMMARY_MAX_WORDS", "SWAPPED", "TEACHER", "TEACHER_CONDITIONS", "TEACHER_SUMMARY", "TeacherText",
    "TraceOptions", "TraceRow", "build_trace", "build_trace_set", "condition", "derangement", "runnable", "trace_set_version",
]  # fmt: skip

SUMMARY_MAX_WORDS = 100
"""A `teacher_summary` trace must be shorter than this (the reference study's limit)."""

ANSWER, SUMMARY, EXPLANATION = "answer", "summary", "posthoc"
"""What a teacher condition needs the teacher to have written (the teacher's request purposes)."""

NO_TEACHER = (
    "no teacher configured, so the teacher conditions (teacher, teacher_summary, posthoc) are skipped: set "
    "TRACEKD_TEACHER_BASE_URL and TRACEKD_TEACHER_MODEL (and the key in TRACEKD_TEACHER_API_KEY), or the "
    "`teacher` resource's base_url and model in the launchpad"
)

PerQuestion = Callable[[str, QARecord, Sequence[str], TraceOptions], TraceRow]
PerSet = Callable[[str, Sequence[QARecord], TraceOptions, dict[str, int]], list[TraceRow]]


@dataclass(frozen=True)
class Condition:
    name: str
    family: str
    """`answer_only`, `decomposed`, `swapped` or `teacher`: shared construction checks and suite."""
    writes_steps: bool
    """Its completions state the class and the facts, so a student's steps are scored."""
    per_question: PerQuestion | None = None
    """The rule that builds one question's trace from the question alone."""
    per_set: PerSet | None = None
    """The rule that builds every trace of a set at once (a trace borrowed from another question)."""
    teacher_purpose: str | None = None
    """What the teacher must have written (answer, summary, posthoc) for its trace (`teacher_row`);
    None: the condition needs no teacher."""
    max_trace_words: int | None = None
    uses_corruption: bool = False
    """Its traces depend on the `Corruption` settings (so they are part of its trace set's record)."""
    meaning: str = ""
    """What its training traces are, in a sentence for a reader (the report's glossary)."""

    @property
    def needs_teacher(self) -> bool:
        return self.teacher_purpose is not None

    def skip_reason(self, teacher_configured: bool) -> str | None:
        """Why this condition cannot run here (no teacher configured), or None."""
        return NO_TEACHER if self.needs_teacher and not teacher_configured else None


SOLUTION_ONLY, CORRECT, INCORRECT, SWAPPED = "solution_only", "correct", "incorrect", "swapped"
TEACHER, TEACHER_SUMMARY, POSTHOC = "teacher", "teacher_summary", "posthoc"

_RECORDS: dict[str, Condition] = {
    c.name: c
    for c in (
        Condition(SOLUTION_ONLY, "answer_only", writes_steps=False, per_question=answer_only_row,
                  meaning="the answer alone, no trace (the baseline every other condition is compared with)"),
        Condition(CORRECT, "decomposed", writes_steps=True, per_question=gold_steps_row,
                  meaning="the gold class and the gold supporting facts, then the answer"),
        Condition(INCORRECT, "decomposed", writes_steps=True, per_question=corrupted_steps_row, uses_corruption=True,
                  meaning="a wrong class and/or wrong facts (the corruption settings), then the right answer"),
        Condition(SWAPPED, "swapped", writes_steps=True, per_set=swapped_rows,
                  meaning="the correct trace of another question, then this question's right answer"),
        Condition(TEACHER, "teacher", writes_steps=False, teacher_purpose=ANSWER,
                  meaning="a teacher model's own reasoning (R1-style thinking), kept only where its answer is right"),
        Condition(TEACHER_SUMMARY, "teacher", writes_steps=False, teacher_purpose=SUMMARY, max_trace_words=SUMMARY_MAX_WORDS,
                  meaning=f"the teacher's summary of its reasoning, under {SUMMARY_MAX_WORDS} words"),
        Condition(POSTHOC, "teacher", writes_steps=False, teacher_purpose=EXPLANATION,
                  meaning="the teacher's explanation written after it was shown the right answer"),
    )
}
CONDITIONS: tuple[str, ...] = tuple(_RECORDS)
STEPWISE_CONDITIONS: frozenset[str] = frozenset(c.name for c in _RECORDS.values() if c.writes_steps)
TEACHER_CONDITIONS: frozenset[str] = frozenset(c.name for c in _RECORDS.values() if c.needs_teacher)


def condition(name: str) -> Condition:
    try:
        return _RECORDS[name]
    except KeyError:
        raise ValueError(f"unknown trace condition {name!r}; known: {', '.join(CONDITIONS)}") from None


def runnable(names: Iterable[str], teacher_configured: bool) -> tuple[list[str], dict[str, str]]:
    """(conditions that can run, {condition: why not} for the others)."""
    run, skipped = [], {}
    for name in names:
        reason = condition(name).skip_reason(teacher_configured)
        if reason:
            skipped[name] = reason
        else:
            run.append(name)
    return run, skipped


def build_trace(condition: Condition, record: QARecord, labels: Sequence[str], options: TraceOptions = TraceOptions()) -> TraceRow:
    """The training row for `record` under a per-question condition (`solution_only`, `correct`,
    `incorrect`); deterministic in (seed, condition, example id)."""
    if condition.per_question is None:
        raise ValueError(f"{condition.name} traces are built over a whole trace set: use build_trace_set")
    return condition.per_question(condition.name, record, labels, options)


def build_trace_set(
    condition: Condition,
    records: Iterable[QARecord],
    labels: Sequence[str],
    options: TraceOptions = TraceOptions(),
    teacher: Mapping[str, TeacherText] | None = None,
) -> tuple[list[TraceRow], dict[str, int]]:
    """Trace rows for every question the condition applies to, and how many were left out, by
    reason. Teacher conditions need `teacher`: the teacher's text per example id."""
    name, records = condition.name, list(records)
    skipped: dict[str, int] = {}
    if condition.per_set is not None:
        return condition.per_set(name, records, options, skipped), skipped
    if condition.needs_teacher and teacher is None:
        raise ValueError(f"{name} traces need the teacher's texts; none were given")
    rows: list[TraceRow] = []
    for record in records:
        try:
            if condition.per_question is not None:
                rows.append(condition.per_question(name, record, labels, options))
            else:
                rows.append(teacher_row(name, record, options, (teacher or {}).get(record.example_id), condition.max_trace_words))
        except TraceNotApplicable as reason:
            count(skipped, str(reason))
    return rows, skipped
