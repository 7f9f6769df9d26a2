"""Great Expectations suites for a traces partition, one per condition family.

The suite runs on a *validation frame*: the stored trace rows plus per-row facts derived by this
project's own parser and scorer (does the completion parse back to what was rendered? do the
rendered steps equal gold?). GX then states the rules declaratively, and its result names each
failed expectation with its unexpected count and examples.

Rules, by the condition's family (`Condition.family`; `FAMILY_RULES` here):
- every condition: required columns non-null, every row of the partition's dataset and condition,
  gold labels from the dataset's set, the completion
  parses back to its rendered parts, the answer equals gold, one row per question;
- `answer_only` (solution_only): no trace at all;
- `decomposed` (correct, incorrect): rendered labels from the known set, rendered fact ids inside
  the story, and each step equals gold exactly where it was not corrupted (so `correct` equals gold
  everywhere and `incorrect` differs from gold in every corrupted step, and only there);
- `swapped`: every trace comes from a *different* question of the same set, each question lends
  its trace once (a derangement), and the trace is exactly that question's gold trace;
- `teacher` (teacher, teacher_summary, posthoc): the trace is non-empty free text, the teacher's
  own answer is scored correct by the dataset's scorer, and a summary stays under the word limit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import pandas as pd

from tracekd_ops.datasets import DatasetSpec
from tracekd_ops.traces.conditions import Condition
from tracekd_ops.traces.render import TRACE_STYLES, parse_completion

REQUIRED_COLUMNS = (
    "dataset", "condition", "split", "example_id", "prompt", "completion",
    "gold_class", "rendered_answer", "trace_set_version", "style", "trace_source_id", "construction",
)  # fmt: skip


MAX_NAMED_IDS = 20
"""Example ids named per failed expectation (the metadata keeps the count of all)."""


@dataclass(frozen=True)
class SuiteOutcome:
    success: bool
    evaluated: int
    failures: list[dict[str, Any]]

    def describe(self) -> str:
        if self.success:
            return f"all {self.evaluated} expectations met"
        return "; ".join(
            f"{f['expectation']}({f['column']}): {f['unexpected_count']} unexpected, e.g. {f['examples']}"
            + (f" in example ids {', '.join(f['example_ids'])}" if f.get("example_ids") else "")
            for f in self.failures
        )


def _ids(value: Any) -> list[int] | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else [int(v) for v in value]


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def validation_frame(traces: pd.DataFrame, spec: DatasetSpec, condition: Condition) -> pd.DataFrame:
    """The traces with the derived per-row columns the suites check, each row read by the dataset's
    scorer and the condition's family (the suite checks every row is of that dataset and condition)."""
    frame = traces.copy().reset_index(drop=True)
    parsed = [parse_completion(c) for c in frame["completion"]]
    rendered_ids = [_ids(v) for v in frame["rendered_fact_ids"]]
    gold_ids = [_ids(v) for v in frame["gold_fact_ids"]]
    story_ids = [_ids(v) for v in frame["story_fact_ids"]]
    rendered_class = [_text(c) for c in frame["rendered_class"]]

    def parses_back(p: Any, family: str, category: str | None, ids: list[int] | None, answer: str) -> bool:
        if p.answer != answer:
            return False
        if family == "teacher":
            return p.has_trace and bool((p.think or "").strip())
        return p.category == category and (list(p.fact_ids) if p.fact_ids is not None else None) == ids

    frame["parses_back"] = [
        parses_back(p, condition.family, c, r, a) for p, c, r, a in zip(parsed, rendered_class, rendered_ids, frame["rendered_answer"])
    ]
    frame["rendered_facts_in_story"] = [r is None or set(r) <= set(s) for r, s in zip(rendered_ids, story_ids)]
    frame["class_matches_gold"] = [c == g for c, g in zip(rendered_class, frame["gold_class"])]
    frame["facts_match_gold"] = [r is not None and set(r) == set(g) for r, g in zip(rendered_ids, gold_ids)]
    frame["class_kept"] = ~frame["class_corrupted"].astype(bool)
    frame["facts_kept"] = ~frame["facts_corrupted"].astype(bool)
    frame["answer_matches_gold"] = [
        spec.answer_correct(a, list(g), c) for a, g, c in zip(frame["rendered_answer"], frame["gold_answers"], frame["gold_class"])
    ]
    # swapped: the trace is the gold trace of another question of this set
    gold_by_id = {e: (c, set(g or [])) for e, c, g in zip(frame["example_id"], frame["gold_class"], gold_ids)}
    frame["trace_from_other"] = frame["trace_source_id"] != frame["example_id"]
    frame["trace_from_known"] = frame["trace_source_id"].isin(gold_by_id)
    frame["matches_source_gold"] = [
        s in gold_by_id and gold_by_id[s] == (c, set(r or []))
        for s, c, r in zip(frame["trace_source_id"], rendered_class, rendered_ids)
    ]
    # teacher family: non-empty free-text trace, the teacher's own answer right, summaries short
    frame["trace_words"] = [len((p.think or "").split()) for p in parsed]
    frame["teacher_answer_correct"] = [
        t is not None and spec.answer_correct(t, list(g), c)
        for t, g, c in zip([_text(t) for t in frame["teacher_answer"]], frame["gold_answers"], frame["gold_class"])
    ]
    return frame


def _common(spec: DatasetSpec, condition: Condition) -> list[Any]:
    import great_expectations.expectations as gxe

    return [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in REQUIRED_COLUMNS] + [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToBeInSet(column="dataset", value_set=[spec.name]),
        gxe.ExpectColumnValuesToBeInSet(column="condition", value_set=[condition.name]),
        gxe.ExpectColumnValuesToBeInSet(column="style", value_set=list(TRACE_STYLES)),
        gxe.ExpectColumnValuesToBeInSet(column="gold_class", value_set=list(spec.labels)),
        gxe.ExpectColumnValuesToBeInSet(column="parses_back", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="answer_matches_gold", value_set=[True]),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["dataset", "condition", "split", "example_id"]),
    ]


def _free_of_steps(labels: Sequence[str]) -> list[Any]:
    import great_expectations.expectations as gxe

    return [gxe.ExpectColumnValuesToBeNull(column="rendered_class"), gxe.ExpectColumnValuesToBeNull(column="rendered_fact_ids")]


def _states_steps(labels: Sequence[str]) -> list[Any]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToNotBeNull(column="rendered_class"),
        gxe.ExpectColumnValuesToNotBeNull(column="rendered_fact_ids"),
        gxe.ExpectColumnValuesToBeInSet(column="rendered_class", value_set=list(labels)),
    ]


def _decomposed(labels: Sequence[str]) -> list[Any]:
    import great_expectations.expectations as gxe

    return _states_steps(labels) + [
        gxe.ExpectColumnValuesToBeInSet(column="rendered_facts_in_story", value_set=[True]),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="class_matches_gold", column_B="class_kept"),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="facts_match_gold", column_B="facts_kept"),
    ]


def _swapped(labels: Sequence[str]) -> list[Any]:
    import great_expectations.expectations as gxe

    return _states_steps(labels) + [
        gxe.ExpectColumnValuesToBeInSet(column="trace_from_other", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="trace_from_known", value_set=[True]),
        gxe.ExpectColumnValuesToBeUnique(column="trace_source_id"),
        gxe.ExpectColumnValuesToBeInSet(column="matches_source_gold", value_set=[True]),
    ]


def _teacher(labels: Sequence[str]) -> list[Any]:
    import great_expectations.expectations as gxe

    return _free_of_steps(labels) + [
        gxe.ExpectColumnValuesToNotBeNull(column="teacher_answer"),
        gxe.ExpectColumnValuesToBeInSet(column="teacher_answer_correct", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(column="trace_words", min_value=1),
    ]


FAMILY_RULES: dict[str, Callable[[Sequence[str]], list[Any]]] = {
    "answer_only": _free_of_steps,
    "decomposed": _decomposed,
    "swapped": _swapped,
    "teacher": _teacher,
}
"""The suite of each condition family, on top of the rules every condition shares."""


def _expectations(spec: DatasetSpec, condition: Condition) -> list[Any]:
    import great_expectations.expectations as gxe

    rules = _common(spec, condition) + FAMILY_RULES[condition.family](spec.labels)
    if condition.max_trace_words is not None:
        rules.append(gxe.ExpectColumnValuesToBeBetween(column="trace_words", max_value=condition.max_trace_words - 1))
    return rules


def validate_traces(traces: pd.DataFrame, spec: DatasetSpec, condition: Condition) -> SuiteOutcome:
    """Run the condition's suite on a dataset's traces partition with an ephemeral GX context."""
    import great_expectations as gx

    frame = validation_frame(traces, spec, condition)
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # results go to Dagster, not tqdm on stderr
    name = f"traces_{condition.name}_{uuid.uuid4().hex[:8]}"
    batch = (
        context.data_sources.add_pandas(name)
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe(name)
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    for expectation in _expectations(spec, condition):
        suite.add_expectation(expectation)
    # COMPLETE results name every unexpected row by its example id (a failure must say which rows)
    result = batch.validate(suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["example_id"]})
    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        details = item.result or {}
        failures.append(
            {
                "expectation": config.type,
                "column": config.kwargs.get("column") or config.kwargs.get("column_A") or config.kwargs.get("column_list"),
                "unexpected_count": details.get("unexpected_count", details.get("observed_value")),
                "examples": list(details.get("partial_unexpected_list", []))[:3],
                "example_ids": sorted({str(row["example_id"]) for row in details.get("unexpected_index_list") or []
                                       if isinstance(row, dict) and "example_id" in row})[:MAX_NAMED_IDS],
            }
        )
    return SuiteOutcome(success=bool(result.success), evaluated=len(result.results), failures=failures)
