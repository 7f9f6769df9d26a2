"""Great Expectations suites for a traces partition.

The suite runs on a *validation frame*: the stored trace rows plus per-row facts derived by this
project's own parser and scorer (does the completion parse back to what was rendered? do the
rendered steps equal gold?). GX then states the rules declaratively, and its result names each
failed expectation with its unexpected count and examples.

Rules, per the condition's family:
- every condition: required columns non-null, gold labels from the known set, the completion
  parses back to its rendered parts, the answer equals gold;
- trace conditions: rendered labels from the known set, rendered fact ids inside the story, and
  each step equals gold exactly where it was not corrupted (so `correct` equals gold everywhere
  and `incorrect` differs from gold in every corrupted step);
- `solution_only`: no trace at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd

from tracekd_ops.conditions import TRACE_CONDITIONS
from tracekd_ops.datasets import dataset_spec
from tracekd_ops.traces import parse_completion

REQUIRED_COLUMNS = (
    "dataset", "condition", "split", "example_id", "prompt", "completion",
    "gold_class", "rendered_answer", "trace_set_version",
)  # fmt: skip


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
            for f in self.failures
        )


def validation_frame(traces: pd.DataFrame) -> pd.DataFrame:
    """The traces with the derived per-row columns the suite checks."""
    frame = traces.copy()

    def as_list(value: Any) -> list[int] | None:
        return None if value is None or (isinstance(value, float) and pd.isna(value)) else [int(v) for v in value]

    parsed = [parse_completion(c) for c in frame["completion"]]
    rendered_ids = [as_list(v) for v in frame["rendered_fact_ids"]]
    gold_ids = [as_list(v) for v in frame["gold_fact_ids"]]
    story_ids = [as_list(v) for v in frame["story_fact_ids"]]
    rendered_class = [None if pd.isna(c) else c for c in frame["rendered_class"]]
    frame["parses_back"] = [
        p.category == c and (list(p.fact_ids) if p.fact_ids is not None else None) == r and p.answer == a
        for p, c, r, a in zip(parsed, rendered_class, rendered_ids, frame["rendered_answer"])
    ]
    frame["rendered_facts_in_story"] = [r is None or set(r) <= set(s) for r, s in zip(rendered_ids, story_ids)]
    frame["class_matches_gold"] = [c == g for c, g in zip(rendered_class, frame["gold_class"])]
    frame["facts_match_gold"] = [r is not None and set(r) == set(g) for r, g in zip(rendered_ids, gold_ids)]
    frame["class_kept"] = ~frame["class_corrupted"].astype(bool)
    frame["facts_kept"] = ~frame["facts_corrupted"].astype(bool)
    frame["answer_matches_gold"] = [
        dataset_spec(d).answer_correct(a, list(g), c)
        for d, a, g, c in zip(frame["dataset"], frame["rendered_answer"], frame["gold_answers"], frame["gold_class"])
    ]
    return frame


def _expectations(condition: str, labels: Sequence[str]) -> list[Any]:
    import great_expectations.expectations as gxe

    rules: list[Any] = [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in REQUIRED_COLUMNS]
    rules += [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToBeInSet(column="condition", value_set=[condition]),
        gxe.ExpectColumnValuesToBeInSet(column="gold_class", value_set=list(labels)),
        gxe.ExpectColumnValuesToBeInSet(column="parses_back", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="answer_matches_gold", value_set=[True]),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["dataset", "condition", "split", "example_id"]),
    ]
    if condition in TRACE_CONDITIONS:
        rules += [
            gxe.ExpectColumnValuesToNotBeNull(column="rendered_class"),
            gxe.ExpectColumnValuesToNotBeNull(column="rendered_fact_ids"),
            gxe.ExpectColumnValuesToBeInSet(column="rendered_class", value_set=list(labels)),
            gxe.ExpectColumnValuesToBeInSet(column="rendered_facts_in_story", value_set=[True]),
            gxe.ExpectColumnPairValuesToBeEqual(column_A="class_matches_gold", column_B="class_kept"),
            gxe.ExpectColumnPairValuesToBeEqual(column_A="facts_match_gold", column_B="facts_kept"),
        ]
    else:
        rules += [
            gxe.ExpectColumnValuesToBeNull(column="rendered_class"),
            gxe.ExpectColumnValuesToBeNull(column="rendered_fact_ids"),
        ]
    return rules


def validate_traces(traces: pd.DataFrame, condition: str, labels: Sequence[str]) -> SuiteOutcome:
    """Run the condition's suite on a traces partition with an ephemeral GX context."""
    import great_expectations as gx

    frame = validation_frame(traces)
    context = gx.get_context(mode="ephemeral")
    name = f"traces_{condition}_{uuid.uuid4().hex[:8]}"
    batch = (
        context.data_sources.add_pandas(name)
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe(name)
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    for expectation in _expectations(condition, labels):
        suite.add_expectation(expectation)
    result = batch.validate(suite)
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
            }
        )
    return SuiteOutcome(success=bool(result.success), evaluated=len(result.results), failures=failures)
