"""The Great Expectations suite, run for real on good and deliberately broken trace tables."""

import pandas as pd
import pytest

from tracekd_ops.traces.conditions import (
    CONDITIONS, CORRECT, INCORRECT, SOLUTION_ONLY, SWAPPED, TEACHER, TEACHER_CONDITIONS, TEACHER_SUMMARY,
    TeacherText, TraceOptions, build_trace_set, trace_set_version,
)  # fmt: skip
from tracekd_ops.traces.conditions import condition as condition_record
from tracekd_ops.datasets import dataset_spec
from tracekd_ops.datasets.synthetic import TASKS, SyntheticConfig, generate
from tracekd_ops.traces.render import COMPACT, render_completion, render_free_trace
from tracekd_ops.traces.validation import validate_traces

SYNTHETIC = dataset_spec("synthetic")
RECORDS = [r for r in generate(SyntheticConfig(train_per_task=10, test_per_task=1)) if r.split == "train"]
TEACHER_TEXTS = {r.example_id: TeacherText(f"Fact {r.gold_fact_ids[0]} answers it.", r.answers[0], True, {}) for r in RECORDS}


def frame_for(condition: str, style: str = "sentences") -> pd.DataFrame:
    teacher = TEACHER_TEXTS if condition in TEACHER_CONDITIONS else None
    rows, _ = build_trace_set(condition_record(condition), RECORDS, list(TASKS), TraceOptions(style=style), teacher)
    version = trace_set_version(rows)
    return pd.DataFrame([{**r.to_row(), "trace_set_version": version} for r in rows])


def failed_expectations(frame: pd.DataFrame, condition: str) -> set[tuple[str, str]]:
    outcome = validate_traces(frame, SYNTHETIC, condition_record(condition))
    assert not outcome.success
    return {(f["expectation"], str(f["column"])) for f in outcome.failures}


@pytest.mark.parametrize("style", ["sentences", COMPACT])
@pytest.mark.parametrize("condition", CONDITIONS)
def test_suite_passes_on_traces_as_built(condition, style):
    outcome = validate_traces(frame_for(condition, style), SYNTHETIC, condition_record(condition))
    assert outcome.success, outcome.describe()
    assert outcome.evaluated >= 12


def test_swapped_trace_paired_with_its_own_problem_fails():
    frame = frame_for(SWAPPED)
    record = next(r for r in RECORDS if r.example_id == frame.at[0, "example_id"])
    frame.at[0, "trace_source_id"] = record.example_id
    frame.at[0, "rendered_class"] = record.category
    frame.at[0, "rendered_fact_ids"] = list(record.gold_fact_ids)
    frame.at[0, "completion"] = render_completion(record.category, record.gold_fact_ids, record.answers[0])
    failures = failed_expectations(frame, SWAPPED)
    assert ("expect_column_values_to_be_in_set", "trace_from_other") in failures
    assert ("expect_column_values_to_be_unique", "trace_source_id") in failures  # its donor now lends twice


def test_teacher_trace_with_a_wrong_teacher_answer_or_empty_text_fails():
    frame = frame_for(TEACHER)
    frame.at[0, "teacher_answer"] = "nowhere"
    frame.at[1, "completion"] = f"<think> </think><answer>{frame.at[1, 'rendered_answer']}</answer>"
    failures = failed_expectations(frame, TEACHER)
    assert ("expect_column_values_to_be_in_set", "teacher_answer_correct") in failures
    assert ("expect_column_values_to_be_in_set", "parses_back") in failures
    assert ("expect_column_values_to_be_between", "trace_words") in failures


def test_teacher_summary_over_the_word_limit_fails():
    frame = frame_for(TEACHER_SUMMARY)
    frame.at[0, "completion"] = render_free_trace("word " * 120, str(frame.at[0, "rendered_answer"]))
    assert failed_expectations(frame, TEACHER_SUMMARY) == {("expect_column_values_to_be_between", "trace_words")}


def test_correct_trace_with_a_wrong_fact_fails_gold_equality():
    frame = frame_for(CORRECT)
    record = RECORDS[0]
    wrong = tuple(f.id for f in record.facts if f.id not in record.gold_fact_ids)[:1]
    frame.at[0, "rendered_fact_ids"] = list(wrong)
    frame.at[0, "completion"] = render_completion(record.category, wrong, record.answers[0])
    failures = failed_expectations(frame, CORRECT)
    assert failures == {("expect_column_pair_values_to_be_equal", "facts_match_gold")}


def test_incorrect_trace_that_equals_gold_in_a_corrupted_step_fails():
    frame = frame_for(INCORRECT)
    frame.at[1, "rendered_class"] = frame.at[1, "gold_class"]
    failures = failed_expectations(frame, INCORRECT)
    assert ("expect_column_pair_values_to_be_equal", "class_matches_gold") in failures
    assert ("expect_column_values_to_be_in_set", "parses_back") in failures  # completion no longer matches either


def test_fact_outside_the_story_unknown_label_wrong_answer_and_nulls_fail():
    frame = frame_for(CORRECT)
    frame.at[2, "rendered_fact_ids"] = [99]
    frame.at[3, "gold_class"] = "made-up-task"
    frame.at[4, "rendered_answer"] = "nowhere"
    frame.at[5, "prompt"] = None
    failures = failed_expectations(frame, CORRECT)
    assert ("expect_column_values_to_be_in_set", "rendered_facts_in_story") in failures
    assert ("expect_column_values_to_be_in_set", "gold_class") in failures
    assert ("expect_column_values_to_be_in_set", "answer_matches_gold") in failures
    assert ("expect_column_values_to_not_be_null", "prompt") in failures


def test_solution_only_must_carry_no_trace_and_partition_must_be_one_dataset_and_condition():
    frame = frame_for(SOLUTION_ONLY)
    frame.at[0, "rendered_class"] = "single-supporting-fact"
    frame.at[1, "condition"] = CORRECT
    frame.at[2, "dataset"] = "babi"
    failures = failed_expectations(frame, SOLUTION_ONLY)
    assert ("expect_column_values_to_be_null", "rendered_class") in failures
    assert ("expect_column_values_to_be_in_set", "condition") in failures
    assert ("expect_column_values_to_be_in_set", "dataset") in failures


def test_describe_names_expectation_column_and_examples():
    frame = frame_for(CORRECT)
    frame.at[0, "gold_class"] = "made-up-task"
    text = validate_traces(frame, SYNTHETIC, condition_record(CORRECT)).describe()
    assert "expect_column_values_to_be_in_set(gold_class)" in text and "made-up-task" in text
