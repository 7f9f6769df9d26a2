import json

import pytest

from tracekd_ops.traces.conditions import (
    CONDITIONS,
    CORRECT,
    INCORRECT,
    POSTHOC,
    REFERENCE,
    SOLUTION_ONLY,
    SUMMARY_MAX_WORDS,
    SWAPPED,
    TEACHER,
    TEACHER_CONDITIONS,
    TEACHER_SUMMARY,
    Corruption,
    TeacherText,
    TraceOptions,
    build_trace,
    build_trace_set,
    condition,
    derangement,
    trace_set_version,
)
from tracekd_ops.datasets.synthetic import TASKS, SyntheticConfig, generate
from tracekd_ops.core.records import Fact, QARecord
from tracekd_ops.traces.render import COMPACT, SENTENCES, TRACE_STYLES, parse_completion, render_completion

RECORDS = [r for r in generate(SyntheticConfig(train_per_task=60, test_per_task=1)) if r.split == "train"]
LABELS = list(TASKS)


def teacher_texts(records, wrong_every: int = 0) -> dict[str, TeacherText]:
    """What a teacher layer hands the condition rules: a reasoning text per question, right
    answers except every `wrong_every`-th."""
    texts = {}
    for i, r in enumerate(records):
        right = not (wrong_every and i % wrong_every == 0)
        answer = r.answers[0] if right else "nowhere"
        texts[r.example_id] = TeacherText(f"Fact {list(r.gold_fact_ids)} says so.", answer, right, {"teacher_model": "t"})
    return texts


def trace_set(name, records=RECORDS, style=SENTENCES, **options):
    teacher = teacher_texts(records) if name in TEACHER_CONDITIONS else None
    rows, skipped = build_trace_set(condition(name), records, LABELS, TraceOptions(style=style, **options), teacher)
    return rows, skipped


@pytest.mark.parametrize("style", TRACE_STYLES)
@pytest.mark.parametrize("condition", CONDITIONS)
def test_every_condition_in_every_style_parses_back_to_what_was_rendered(condition, style):
    rows, skipped = trace_set(condition, style=style)
    assert len(rows) == len(RECORDS) and not skipped
    for row in rows:
        parsed = parse_completion(row.completion)
        assert parsed.answer == row.rendered_answer == row.gold_answers[0]
        if condition in TEACHER_CONDITIONS:
            assert parsed.has_trace and parsed.think == f"Fact {row.gold_fact_ids} says so."
        else:
            assert parsed.category == row.rendered_class
            assert (list(parsed.fact_ids) if parsed.fact_ids is not None else None) == row.rendered_fact_ids
        assert row.style == style and json.loads(row.construction)


def test_the_two_styles_read_as_documented():
    record = RECORDS[0]
    sentences = build_trace(condition(CORRECT), record, LABELS)
    assert sentences.completion.startswith("<think>The category of the question asked is: ")
    assert "I need to use the following facts: [" in sentences.completion
    assert sentences.completion.endswith(f"</think><answer>{record.answers[0]}</answer>")
    compact = build_trace(condition(CORRECT), record, LABELS, TraceOptions(style=COMPACT))
    ids = ", ".join(str(i) for i in record.gold_fact_ids)
    assert compact.completion == f"<think>class: {record.category} | facts: {ids}</think><answer>{record.answers[0]}</answer>"
    with pytest.raises(ValueError, match="trace style"):
        TraceOptions(style="verbose")


def test_parsing_tolerates_spacing_and_reports_missing_parts():
    parsed = parse_completion("<think> The category of the question asked is:  yes-no-questions . "
                              "I need to use the following facts: [ 3 ,4 ].</think> <answer> no </answer>")
    assert (parsed.category, parsed.fact_ids, parsed.answer) == ("yes-no-questions", (3, 4), "no")
    compact = parse_completion("<think>class:yes-no-questions|facts: 3,4 </think><answer>no</answer>")
    assert (compact.category, compact.fact_ids, compact.answer) == ("yes-no-questions", (3, 4), "no")
    garbled = parse_completion("<think>I need to use the following facts: [x].</think>")
    assert (garbled.category, garbled.fact_ids, garbled.answer, garbled.has_trace) == (None, None, None, True)
    free = parse_completion("<think>Mary went to the office.</think><answer>office</answer>")
    assert (free.category, free.fact_ids, free.think) == (None, None, "Mary went to the office.")


def test_solution_only_is_the_answer_alone_and_correct_equals_gold():
    for record in RECORDS:
        solution = build_trace(condition(SOLUTION_ONLY), record, LABELS)
        assert solution.completion == f"<answer>{record.answers[0]}</answer>"
        correct = build_trace(condition(CORRECT), record, LABELS)
        assert (correct.rendered_class, correct.rendered_fact_ids) == (record.category, list(record.gold_fact_ids))


def test_incorrect_differs_from_gold_in_every_corrupted_step_and_keeps_the_answer():
    for record in RECORDS:
        row = build_trace(condition(INCORRECT), record, LABELS)
        assert row.class_corrupted and row.facts_corrupted
        assert row.rendered_class != record.category and row.rendered_class in LABELS
        assert set(row.rendered_fact_ids).isdisjoint(record.gold_fact_ids)
        assert set(row.rendered_fact_ids) <= set(record.fact_ids)
        assert len(row.rendered_fact_ids) == min(len(record.gold_fact_ids), len(record.facts) - len(record.gold_fact_ids))
        assert row.rendered_answer == record.answers[0]
        assert json.loads(row.construction)["facts"] == "random non-gold facts, as many as gold"


def test_corruption_of_one_step_leaves_the_other_gold_and_rate_is_respected():
    options = TraceOptions(corruption=Corruption(steps=("facts",), rate=0.5))
    rows = [build_trace(condition(INCORRECT), r, LABELS, options) for r in RECORDS]
    assert all(r.rendered_class == r.gold_class and not r.class_corrupted for r in rows)
    share = sum(r.facts_corrupted for r in rows) / len(rows)
    assert 0.35 < share < 0.65
    untouched = [r for r in rows if not r.facts_corrupted]
    assert all(r.rendered_fact_ids == r.gold_fact_ids for r in untouched)
    assert all(json.loads(r.construction)["trace"].startswith("gold") for r in untouched)
    none = [build_trace(condition(INCORRECT), r, LABELS, TraceOptions(corruption=Corruption(rate=0.0))) for r in RECORDS[:20]]
    assert not any(r.class_corrupted or r.facts_corrupted for r in none)
    with pytest.raises(ValueError, match="rate"):
        Corruption(rate=1.5)
    with pytest.raises(ValueError, match="steps"):
        Corruption(steps=("answer",))
    with pytest.raises(ValueError, match="facts_rule"):
        Corruption(facts_rule="nearest")


def test_reference_fact_rules_per_dataset():
    cotemp = QARecord(
        "cotempqa", "train", "c1", "equal", "Who owned X in 2001?",
        (Fact(1, "X is owned by Rover from 1999 to 2003."), Fact(2, "X is owned by Rover from 2004 to 2005."),
         Fact(3, "Y is owned by Ford from 1999 to 2003."), Fact(4, "Z is owned by Fiat from 1990 to 1991.")),
        ("Rover",), (1,), "f:1",
    )  # fmt: skip
    options = TraceOptions(corruption=Corruption(steps=("facts",), facts_rule=REFERENCE))
    for seed in range(10):
        row = build_trace(condition(INCORRECT), cotemp, ["equal", "overlap"], TraceOptions(seed=seed, corruption=options.corruption))
        assert row.rendered_fact_ids in ([3], [4])  # one fact, never one naming the answer
    answer = "the heart pumps blood through the body to all organs and tissues"
    marco = QARecord(
        "msmarco", "train", "m1", "DESCRIPTION", "what does the heart do",
        (Fact(1, "The heart pumps blood through the body."),
         Fact(2, answer + " and the lungs"), Fact(3, "Paris is the capital of France.")),
        (answer,), (1,), "f:2",
    )  # fmt: skip
    row = build_trace(condition(INCORRECT), marco, ["DESCRIPTION", "NUMERIC"], options)
    assert row.rendered_fact_ids == [3]  # fact 2 shares >= 8 words with the answer
    babi_like = build_trace(condition(INCORRECT), RECORDS[0], LABELS, options)
    assert len(babi_like.rendered_fact_ids) == min(len(RECORDS[0].gold_fact_ids), len(RECORDS[0].facts) - len(RECORDS[0].gold_fact_ids))


def test_swapped_is_a_recorded_derangement_of_gold_traces():
    rows, _ = trace_set(SWAPPED)
    by_id = {r.example_id: r for r in RECORDS}
    sources = [row.trace_source_id for row in rows]
    assert all(row.trace_source_id != row.example_id for row in rows)
    assert sorted(sources) == sorted(by_id)  # every question lends its trace exactly once
    for row in rows:
        donor = by_id[row.trace_source_id]
        assert (row.rendered_class, row.rendered_fact_ids) == (donor.category, list(donor.gold_fact_ids))
        assert row.rendered_answer == by_id[row.example_id].answers[0]
        assert json.loads(row.construction)["trace_from"] == donor.example_id
    again, _ = trace_set(SWAPPED)
    assert [r.trace_source_id for r in again] == sources
    assert derangement(["a"], 0) == {} and derangement(["a", "b"], 3) == {"a": "b", "b": "a"}
    lonely, skipped = build_trace_set(condition(SWAPPED), RECORDS[:1], LABELS)
    assert lonely == [] and skipped == {"fewer than two questions to swap traces between": 1}


def test_teacher_traces_keep_only_right_answers_and_short_summaries():
    texts = teacher_texts(RECORDS[:10], wrong_every=3)
    rows, skipped = build_trace_set(condition(TEACHER), RECORDS[:10], LABELS, teacher=texts)
    assert len(rows) == 6 and skipped == {"the teacher's answer is wrong": 4}
    assert all(r.teacher_answer == r.rendered_answer for r in rows)
    assert all(json.loads(r.construction)["teacher_model"] == "t" for r in rows)

    long = {r.example_id: TeacherText("word " * SUMMARY_MAX_WORDS, r.answers[0], True, {}) for r in RECORDS[:2]}
    failed = {RECORDS[2].example_id: TeacherText(None, None, False, {}, "teacher request failed (HTTP 500)")}
    rows, skipped = build_trace_set(condition(TEACHER_SUMMARY), RECORDS[:4], LABELS, teacher={**long, **failed})
    assert rows == []
    assert skipped == {
        f"the summary has {SUMMARY_MAX_WORDS} words or more": 2,
        "teacher request failed (HTTP 500)": 1,
        "the teacher has not been asked this question yet": 1,
    }
    with pytest.raises(ValueError, match="need the teacher"):
        build_trace_set(condition(POSTHOC), RECORDS[:2], LABELS)


def test_trace_set_version_is_a_content_hash():
    rows = [build_trace(condition(CORRECT), r, LABELS) for r in RECORDS]
    assert trace_set_version(rows) == trace_set_version(list(reversed(rows)))
    other = [build_trace(condition(INCORRECT), r, LABELS) for r in RECORDS]
    assert trace_set_version(rows) != trace_set_version(other)
    compact = [build_trace(condition(CORRECT), r, LABELS, TraceOptions(style=COMPACT)) for r in RECORDS]
    assert trace_set_version(rows) != trace_set_version(compact)


def test_unknown_condition_and_half_traces_are_rejected():
    with pytest.raises(ValueError, match="unknown trace condition"):
        build_trace(condition("nonsense"), RECORDS[0], LABELS)
    with pytest.raises(ValueError, match="whole trace set"):
        build_trace(condition(SWAPPED), RECORDS[0], LABELS)
    with pytest.raises(ValueError, match="both steps"):
        render_completion("x", None, "a")


def test_questions_a_condition_cannot_use_are_counted_not_hidden():
    all_gold = QARecord("d", "train", "a", "single-supporting-fact", "q", (Fact(1, "x"),), ("y",), (1,), "src:1")
    no_gold = QARecord("d", "train", "b", "single-supporting-fact", "q", (Fact(1, "x"),), ("y",), (), "src:2")
    rows, skipped = build_trace_set(condition(INCORRECT), [RECORDS[0], all_gold, no_gold], LABELS)
    assert [r.example_id for r in rows] == [RECORDS[0].example_id]
    assert skipped == {"cannot corrupt facts: no fact of the story qualifies (random non-gold facts, as many as gold)": 1,
                       "the decomposition rule gives this question no gold fact": 1}  # fmt: skip
    rows, skipped = build_trace_set(condition(SOLUTION_ONLY), [all_gold, no_gold], LABELS)
    assert len(rows) == 2 and skipped == {}
