"""Step `traces`: one dataset's training traces under one condition, validated by the
condition's Great Expectations suite before they replace the stored partition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracekd_ops.core.metadata import Markdown
from tracekd_ops.datasets import dataset_spec
from tracekd_ops.steps.teacher import train_records
from tracekd_ops.store.store import Store
from tracekd_ops.teacher.cache import TeacherCache
from tracekd_ops.teacher.collect import teacher_texts
from tracekd_ops.teacher.config import TeacherConfig
from tracekd_ops.traces.conditions import TraceOptions, condition
from tracekd_ops.traces.trace_set import TraceSet, build
from tracekd_ops.traces.validation import SuiteOutcome, validate_traces


@dataclass(frozen=True)
class TracesOutcome:
    trace_set: TraceSet
    suite: SuiteOutcome
    summary: dict[str, Any]

    @property
    def stored(self) -> bool:
        return self.suite.success

    def metadata(self) -> dict[str, Any]:
        trace_set, example = self.trace_set, self.trace_set.rows[0]
        metadata: dict[str, Any] = {
            "dataset": trace_set.dataset,
            "condition": trace_set.condition,
            "trace_set_version": trace_set.version,
            "rows": len(trace_set.rows),
            "stored": self.stored,
            "style": trace_set.options.style,
            "corrupted_rows": self.summary["corrupted_rows"],
            "mean_trace_words": self.summary["mean_trace_words"] or 0.0,
            "left_out": trace_set.left_out,
            "settings": trace_set.settings(),
            "example": Markdown(f"```\n{example.prompt}{example.completion}\n```"),
        }
        if trace_set.teacher:
            metadata["teacher"] = trace_set.teacher
        return metadata

    def check_metadata(self) -> dict[str, Any]:
        return {
            "family": condition(self.trace_set.condition).family,
            "expectations_evaluated": self.suite.evaluated,
            "failures": self.suite.failures,
            "summary": self.suite.describe(),
        }


def build_traces(store: Store, dataset: str, condition_name: str, options: TraceOptions, teacher: TeacherConfig) -> TracesOutcome:
    """Build the trace set from the stored training questions (a teacher condition from the cached
    teacher replies alone: no request is sent), validate it, and store it only if it passes."""
    spec, record = dataset_spec(dataset), condition(condition_name)
    train = train_records(store, dataset)
    texts = None
    if record.needs_teacher:
        texts = teacher_texts(condition_name, train, teacher, TeacherCache(store))
        if not texts:
            raise ValueError(f"the teacher ({teacher.model}) has not been asked about {dataset}: materialize teacher_responses[{dataset}] first")
    trace_set = build(dataset, condition_name, train, spec.labels, options, texts, teacher.model if texts is not None else None)
    if not trace_set.rows:
        raise ValueError(f"no {condition_name} trace could be built for {dataset}: {trace_set.left_out}")
    frame, summary = trace_set.frame(), trace_set.summary_row()
    suite = validate_traces(frame, condition_name, spec.labels)
    if suite.success:
        keys = {"dataset": dataset, "condition": condition_name}
        store.replace_partitions([("traces", keys, frame), ("trace_sets", keys, [summary])])
    return TracesOutcome(trace_set, suite, summary)
