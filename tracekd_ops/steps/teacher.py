"""Step `teacher_responses`: the teacher asked about a dataset's training questions (answers,
then summaries and post-hoc explanations of the right ones), every reply cached in DuckDB."""

from __future__ import annotations

from typing import Callable

from tracekd_ops.datasets import DatasetSpec
from tracekd_ops.datasets.tables import train_records
from tracekd_ops.steps.outcome import StepOutcome
from tracekd_ops.store.store import Store
from tracekd_ops.teacher.cache import TeacherCache
from tracekd_ops.teacher.client import TeacherClient
from tracekd_ops.teacher.collect import TeacherRound, collect, teacher_questions
from tracekd_ops.teacher.config import TeacherConfig, public_url
from tracekd_ops.traces.conditions import NO_TEACHER


def ask_teacher(store: Store, spec: DatasetSpec, config: TeacherConfig, log: Callable[[str], None]) -> StepOutcome:
    """Ask what is not cached yet; skipped without a teacher. Fails when every request failed (they
    stay stored as failed rows and are retried by the next run)."""
    if not config.configured:
        return StepOutcome(skipped=NO_TEACHER)
    dataset = spec.name
    questions = teacher_questions(train_records(store, dataset), config)
    shown = f", after worked example {questions.example.example_id}" if questions.example else ""
    log(f"asking {config.model} at {public_url(config.base_url)} about {len(questions.asked)} {dataset} questions{shown}")
    client = TeacherClient(config)
    try:
        outcome: TeacherRound = collect(spec, questions.asked, client, TeacherCache(store), log=log, example=questions.example)
    finally:
        client.close()
    if outcome.answers.wanted and outcome.answers.failed == outcome.answers.sent == outcome.answers.wanted:
        raise RuntimeError(
            f"every one of the {outcome.answers.wanted} teacher requests failed ({outcome.answers.errors}); they are "
            f"stored as failed rows in teacher_requests and will be retried by the next materialization"
        )
    return StepOutcome(metadata={
        "dataset": dataset,
        "teacher_model": str(config.model),
        "endpoint": str(public_url(config.base_url)),
        "kept_rate": outcome.kept_rate,
        "answers_correct": outcome.answers_correct,
        "questions": outcome.questions,
        "worked_example": questions.example.example_id if questions.example else None,
        "requests": outcome.as_dict(),
        "duckdb_table": "teacher_requests",
    }, tables=("teacher_requests", "teacher_request_questions"))  # fmt: skip
