import pytest

from tracekd_ops.traces.conditions import CORRECT, SOLUTION_ONLY, condition
from tracekd_ops.datasets.synthetic import SPEC, SyntheticConfig, generate
from tracekd_ops.evaluate.metrics import category_baselines, chance_accuracy, majority_accuracy, run_metrics, score_prediction
from tracekd_ops.datasets.answers import babi_answer_correct
from tracekd_ops.traces.render import render_completion

RECORDS = generate(SyntheticConfig(train_per_task=50, test_per_task=10))
TRAIN = [r for r in RECORDS if r.split == "train"]
TEST = [r for r in RECORDS if r.split == "test"]
TWO = next(r for r in TEST if r.category == "two-supporting-facts")
STEPS, NO_STEPS = condition(CORRECT).writes_steps, condition(SOLUTION_ONLY).writes_steps


def test_babi_answer_match_normalises_and_ignores_list_order():
    assert babi_answer_correct(" Kitchen. ", ["kitchen"])
    assert babi_answer_correct("apple,football", ["football,apple"])
    assert not babi_answer_correct("apple", ["football,apple"])
    assert not babi_answer_correct(None, ["kitchen"])


def test_each_step_is_scored_against_gold():
    gold = render_completion(TWO.category, TWO.gold_fact_ids, TWO.answers[0])
    row = score_prediction(SPEC, STEPS, TWO, gold)
    assert (row["class_correct"], row["ir_exact"], row["trace_correct"], row["answer_correct"]) == (True, True, True, True)

    half = render_completion(TWO.category, TWO.gold_fact_ids[:1], "nowhere")
    row = score_prediction(SPEC, STEPS, TWO, half)
    assert (row["ir_exact"], row["ir_precision"], row["ir_recall"], row["trace_correct"], row["answer_correct"]) == (
        False, 1.0, 0.5, False, False)  # fmt: skip

    wrong_class = render_completion("yes-no-questions", TWO.gold_fact_ids, TWO.answers[0])
    row = score_prediction(SPEC, STEPS, TWO, wrong_class)
    assert (row["class_correct"], row["ir_exact"], row["trace_correct"], row["answer_correct"]) == (False, True, False, True)


def test_a_trace_student_that_writes_no_trace_scores_its_steps_wrong():
    row = score_prediction(SPEC, STEPS, TWO, f"<answer>{TWO.answers[0]}</answer>")
    assert (row["class_correct"], row["ir_exact"], row["trace_correct"], row["answer_correct"]) == (False, False, False, True)


def test_solution_only_has_no_steps_to_score():
    row = score_prediction(SPEC, NO_STEPS, TWO, f"<answer>{TWO.answers[0]}</answer>")
    assert row["trace_correct"] is None and row["answer_correct"]
    metrics = run_metrics([row, score_prediction(SPEC, NO_STEPS, TWO, "<answer>x</answer>")])
    assert metrics["answer_accuracy"] == 0.5 and metrics["trace_accuracy"] is None and metrics["chi2"] is None


def test_run_metrics_builds_the_two_by_two_table():
    outputs = [
        render_completion(r.category, r.gold_fact_ids if i % 2 == 0 else (), r.answers[0] if i % 3 else "x")
        for i, r in enumerate(TEST)
    ]
    rows = [score_prediction(SPEC, STEPS, r, o) for r, o in zip(TEST, outputs)]
    m = run_metrics(rows)
    cells = (m["n_trace_ok_answer_ok"], m["n_trace_ok_answer_wrong"], m["n_trace_wrong_answer_ok"], m["n_trace_wrong_answer_wrong"])
    assert sum(cells) == len(TEST) == m["n"]
    assert m["trace_accuracy"] == pytest.approx((cells[0] + cells[1]) / len(TEST))
    assert m["answer_accuracy"] == pytest.approx((cells[0] + cells[2]) / len(TEST))
    assert m["p_answer_given_trace_correct"] == pytest.approx(cells[0] / (cells[0] + cells[1]))


def test_baselines():
    chance = chance_accuracy(TRAIN, TEST)
    assert chance == pytest.approx((1 / 6 + 1 / 6 + 1 / 2) / 3)
    assert 0.0 <= majority_accuracy(SPEC, TRAIN, TEST) <= 1.0


def test_baselines_per_category_are_the_same_baselines_on_each_category():
    rows = category_baselines(SPEC, TRAIN, TEST)
    assert sum(r["n"] for r in rows) == len(TEST) and len({r["category"] for r in rows}) == len(rows)
    for row in rows:
        subset = [r for r in TEST if r.category == row["category"]]
        assert row["chance_accuracy"] == chance_accuracy(TRAIN, subset)
        assert row["majority_accuracy"] == majority_accuracy(SPEC, TRAIN, subset)
    pooled = sum(r["chance_accuracy"] * r["n"] for r in rows) / len(TEST)
    assert pooled == pytest.approx(chance_accuracy(TRAIN, TEST))
