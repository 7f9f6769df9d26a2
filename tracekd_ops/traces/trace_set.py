"""A trace set: one dataset's training traces under one condition, with the record of how it
was built (the `trace_sets` table), so a report can say what each student learned from."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Mapping, Sequence

import pandas as pd

from tracekd_ops.core.records import QARecord
from tracekd_ops.traces.conditions import Condition, TeacherText, TraceOptions, TraceRow, build_trace_set, trace_set_version
from tracekd_ops.traces.render import parse_completion


@dataclass(frozen=True)
class TraceSet:
    dataset: str
    condition: Condition
    options: TraceOptions
    rows: list[TraceRow]
    left_out: dict[str, int]
    questions: int
    teacher: dict[str, Any] | None

    @cached_property
    def version(self) -> str:
        """Content hash of the rows (hashed once: the frame, the summary and the metadata all carry it)."""
        return trace_set_version(self.rows)

    def frame(self) -> pd.DataFrame:
        version = self.version
        return pd.DataFrame([{**row.to_row(), "trace_set_version": version} for row in self.rows])

    def settings(self) -> dict[str, Any]:
        """The knobs that shaped this set (only those that matter for its condition)."""
        settings: dict[str, Any] = {"seed": self.options.seed, "style": self.options.style}
        if self.condition.uses_corruption:
            settings["corruption"] = asdict(self.options.corruption)
        return settings

    def summary_row(self) -> dict[str, Any]:
        words = [len((parse_completion(r.completion).think or "").split()) for r in self.rows]
        return {
            "dataset": self.dataset,
            "condition": self.condition.name,
            "trace_set_version": self.version,
            "style": self.options.style,
            "rows": len(self.rows),
            "questions": self.questions,
            "left_out": json.dumps(self.left_out, sort_keys=True),
            "corrupted_rows": sum(1 for r in self.rows if r.class_corrupted or r.facts_corrupted),
            "settings": json.dumps(self.settings(), sort_keys=True),
            "teacher": json.dumps(self.teacher, sort_keys=True) if self.teacher is not None else None,
            "mean_trace_words": sum(words) / len(words) if words else None,
            "created_at": datetime.now(timezone.utc).replace(tzinfo=None),
        }


def teacher_tally(texts: Mapping[str, TeacherText], questions: int, kept: int, model: str | None) -> dict[str, Any]:
    """How the teacher did on a dataset's training questions, for the trace set's record."""
    failed = sum(1 for t in texts.values() if t.problem and "request failed" in t.problem)
    correct = sum(1 for t in texts.values() if t.answer_correct)
    return {
        "teacher_model": model,
        "questions": questions,
        "answered": len(texts) - failed,
        "failed": failed,
        "not_asked": questions - len(texts),
        "answers_correct": correct,
        "kept": kept,
        "kept_rate": kept / questions if questions else 0.0,
    }


def build(
    dataset: str,
    condition: Condition,
    records: Sequence[QARecord],
    labels: Sequence[str],
    options: TraceOptions,
    teacher_texts: Mapping[str, TeacherText] | None = None,
    teacher_model: str | None = None,
) -> TraceSet:
    rows, left_out = build_trace_set(condition, records, labels, options, teacher_texts)
    teacher = None
    if condition.needs_teacher:
        teacher = teacher_tally(teacher_texts or {}, len(records), len(rows), teacher_model)
    return TraceSet(dataset, condition, options, rows, left_out, len(records), teacher)
