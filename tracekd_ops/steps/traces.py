"""Step `traces`: one dataset's training traces under one condition, validated by the
condition's Great Expectations suite before they replace the stored partition."""

from __future__ import annotations

from typing import Any

from tracekd_ops.core.metadata import Markdown
from tracekd_ops.datasets import DatasetSpec
from tracekd_ops.datasets.tables import train_records
from tracekd_ops.steps.outcome import Check, Level, StepOutcome
from tracekd_ops.store.store import Store
from tracekd_ops.teacher.cache import TeacherCache
from tracekd_ops.teacher.collect import teacher_texts
from tracekd_ops.teacher.config import TeacherConfig
from tracekd_ops.traces.conditions import Condition, TraceOptions
from tracekd_ops.traces.trace_set import build
from tracekd_ops.traces.validation import validate_traces

SUITE_CHECK = "great_expectations_suite"


def build_traces(store: Store, spec: DatasetSpec, condition: Condition, options: TraceOptions, teacher: TeacherConfig) -> StepOutcome:
    """Build the trace set from the stored training questions (a teacher condition from the cached
    teacher replies alone: no request is sent), validate it, and store it only if it passes;
    skipped when the condition needs a teacher and none is configured."""
    skipped = condition.skip_reason(teacher.configured)
    if skipped:
        return StepOutcome(skipped=skipped)
    dataset, name = spec.name, condition.name
    train = train_records(store, dataset)
    texts = None
    if condition.teacher_purpose is not None:
        texts = teacher_texts(spec, condition.teacher_purpose, train, teacher, TeacherCache(store))
        if not texts:
            raise ValueError(f"the teacher ({teacher.model}) has not been asked about {dataset}: materialize teacher_responses[{dataset}] first")
    trace_set = build(dataset, condition, train, spec.labels, options, texts, teacher.model if texts is not None else None)
    if not trace_set.rows:
        raise ValueError(f"no {name} trace could be built for {dataset}: {trace_set.left_out}")
    frame, summary = trace_set.frame(), trace_set.summary_row()
    suite = validate_traces(frame, spec, condition)
    if suite.success:
        keys = {"dataset": dataset, "condition": name}
        store.replace_partitions([("traces", keys, frame), ("trace_sets", keys, [summary])])
    messages: list[tuple[Level, str]] = []
    if trace_set.left_out:
        messages.append(("warning", f"{sum(trace_set.left_out.values())} questions left out of the {name} traces: {trace_set.left_out}"))
    if suite.success:
        messages.append(("info", f"stored {len(trace_set.rows)} {name} traces, trace_set_version {trace_set.version}"))
    else:
        messages.append(("error", f"Great Expectations suite failed, stored traces left as they were: {suite.describe()}"))
    example = trace_set.rows[0]
    metadata: dict[str, Any] = {
        "dataset": dataset,
        "condition": name,
        "trace_set_version": trace_set.version,
        "rows": len(trace_set.rows),
        "stored": suite.success,
        "style": trace_set.options.style,
        "corrupted_rows": summary["corrupted_rows"],
        "mean_trace_words": summary["mean_trace_words"] or 0.0,
        "left_out": trace_set.left_out,
        "settings": trace_set.settings(),
        "example": Markdown(f"```\n{example.prompt}{example.completion}\n```"),
    }
    if trace_set.teacher:
        metadata["teacher"] = trace_set.teacher
    check = Check(SUITE_CHECK, suite.success, "error", {"family": condition.family, "expectations_evaluated": suite.evaluated,
                                                        "failures": suite.failures, "summary": suite.describe()})  # fmt: skip
    return StepOutcome(metadata=metadata, tables=("traces", "trace_sets"), rows=len(trace_set.rows) if suite.success else None,
                       messages=tuple(messages), checks=(check,))  # fmt: skip
