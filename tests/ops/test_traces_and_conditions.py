import pytest

from tracekd_ops.conditions import CONDITIONS, CORRECT, INCORRECT, SOLUTION_ONLY, Corruption, build_trace, trace_set_version
from tracekd_ops.datasets.synthetic import TASKS, SyntheticConfig, generate
from tracekd_ops.traces import parse_completion, render_completion

RECORDS = [r for r in generate(SyntheticConfig(train_per_task=60, test_per_task=1)) if r.split == "train"]
LABELS = list(TASKS)


@pytest.mark.parametrize("condition", CONDITIONS)
def test_every_rendered_completion_parses_back_to_what_was_rendered(condition):
    for record in RECORDS:
        row = build_trace(condition, record, LABELS)
        parsed = parse_completion(row.completion)
        assert parsed.category == row.rendered_class
        assert (list(parsed.fact_ids) if parsed.fact_ids is not None else None) == row.rendered_fact_ids
        assert parsed.answer == row.rendered_answer == record.answers[0]


def test_the_trace_reads_like_the_reference_study():
    row = build_trace(CORRECT, RECORDS[0], LABELS)
    assert row.completion.startswith("<think>The category of the question asked is: ")
    assert "I need to use the following facts: [" in row.completion
    assert row.completion.endswith(f"</think><answer>{RECORDS[0].answers[0]}</answer>")


def test_parsing_tolerates_spacing_and_reports_missing_parts():
    parsed = parse_completion("<think> The category of the question asked is:  yes-no-questions . "
                              "I need to use the following facts: [ 3 ,4 ].</think> <answer> no </answer>")
    assert (parsed.category, parsed.fact_ids, parsed.answer) == ("yes-no-questions", (3, 4), "no")
    garbled = parse_completion("<think>I need to use the following facts: [x].</think>")
    assert (garbled.category, garbled.fact_ids, garbled.answer, garbled.has_trace) == (None, None, None, True)


def test_solution_only_is_the_answer_alone_and_correct_equals_gold():
    for record in RECORDS:
        solution = build_trace(SOLUTION_ONLY, record, LABELS)
        assert solution.completion == f"<answer>{record.answers[0]}</answer>"
        correct = build_trace(CORRECT, record, LABELS)
        assert (correct.rendered_class, correct.rendered_fact_ids) == (record.category, list(record.gold_fact_ids))


def test_incorrect_differs_from_gold_in_every_corrupted_step_and_keeps_the_answer():
    for record in RECORDS:
        row = build_trace(INCORRECT, record, LABELS)
        assert row.class_corrupted and row.facts_corrupted
        assert row.rendered_class != record.category and row.rendered_class in LABELS
        assert set(row.rendered_fact_ids).isdisjoint(record.gold_fact_ids)
        assert set(row.rendered_fact_ids) <= set(record.fact_ids)
        assert row.rendered_answer == record.answers[0]


def test_corruption_of_one_step_leaves_the_other_gold_and_rate_is_respected():
    rows = [build_trace(INCORRECT, r, LABELS, corruption=Corruption(steps=("facts",), rate=0.5)) for r in RECORDS]
    assert all(r.rendered_class == r.gold_class and not r.class_corrupted for r in rows)
    share = sum(r.facts_corrupted for r in rows) / len(rows)
    assert 0.35 < share < 0.65
    with pytest.raises(ValueError, match="rate"):
        Corruption(rate=1.5)
    with pytest.raises(ValueError, match="steps"):
        Corruption(steps=("answer",))


def test_trace_set_version_is_a_content_hash():
    rows = [build_trace(CORRECT, r, LABELS) for r in RECORDS]
    assert trace_set_version(rows) == trace_set_version(list(reversed(rows)))
    other = [build_trace(INCORRECT, r, LABELS) for r in RECORDS]
    assert trace_set_version(rows) != trace_set_version(other)


def test_unknown_condition_and_half_traces_are_rejected():
    with pytest.raises(ValueError, match="unknown trace condition"):
        build_trace("nonsense", RECORDS[0], LABELS)
    with pytest.raises(ValueError, match="both steps"):
        render_completion("x", None, "a")


def test_questions_a_condition_cannot_use_are_counted_not_hidden():
    from tracekd_ops.conditions import build_trace_set
    from tracekd_ops.records import Fact, QARecord

    all_gold = QARecord("d", "train", "a", "single-supporting-fact", "q", (Fact(1, "x"),), ("y",), (1,), "src:1")
    no_gold = QARecord("d", "train", "b", "single-supporting-fact", "q", (Fact(1, "x"),), ("y",), (), "src:2")
    rows, skipped = build_trace_set(INCORRECT, [RECORDS[0], all_gold, no_gold], LABELS)
    assert [r.example_id for r in rows] == [RECORDS[0].example_id]
    assert skipped == {"cannot corrupt facts, every fact of the story is gold": 1,
                       "the decomposition rule gives this question no gold fact": 1}  # fmt: skip
    rows, skipped = build_trace_set(SOLUTION_ONLY, [all_gold, no_gold], LABELS)
    assert len(rows) == 2 and skipped == {}
