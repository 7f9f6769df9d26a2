"""The experiment file is checked whole before anything trains: every bad value names the file
and the field, and a student's identity (name, seed) is never ambiguous."""

from __future__ import annotations

import pytest

from tracekd_ops.train.experiment import load_experiment_file


@pytest.mark.parametrize(
    "body, field, says",
    [
        ("training: {model: {hidden_sise: 64}}", "students.0", "hidden_sise"),
        ("seeds: [3, 3, -1]", "students.0.seeds", "0 or more"),
        ("seeds: [3, 3]", "students.0.seeds", "repeated"),
        ("training: {max_steps: 1.0e+21}", "students.0", "max_steps"),
        ("training: {max_steps: many}", "students.0", "max_steps"),
        ("training: {max_steps: 0}", "students.0", "max_steps"),
        ("training: {learning_rate: -1}", "students.0", "learning_rate"),
        ("training: {batch_size: 0}", "students.0", "batch_size"),
        ("training: {model: {hidden_size: 30, num_heads: 8}}", "students.0", "multiple of num_heads"),
        ("mode: lora", "students.0", "trained from scratch"),
        ("training: {epochs: 3, bogus: 1}", "students.0.training", "bogus"),
        ("training: {lr_scheduler: linear}", "students.0", "lr_scheduler must be one of"),
        ("training: {min_lr_ratio: 1.5}", "students.0.min_lr_ratio", "less than or equal to 1"),
        ("training: {lr_scheduler: warmup_stable_decay, max_steps: -1}", "students.0", "needs max_steps"),
        ("training: {lr_scheduler: warmup_stable_decay, decay_ratio: 0.99}", "students.0", "leave no room"),
    ],
)
def test_a_bad_value_names_file_and_field(tmp_path, body, field, says, faults):
    path = tmp_path / "experiment.yaml"
    path.write_text(f"students:\n  - name: tiny\n    {body}\n")
    with pytest.raises(ValueError) as error:
        load_experiment_file(path)
    message = str(error.value)
    assert str(path) in message and field in message and says in message
    faults.held("bad_input")


def test_two_students_on_one_base_and_seed_are_two_identities(tmp_path):
    path = tmp_path / "experiment.yaml"
    path.write_text("students:\n  - name: a\n    training: {learning_rate: 0.001}\n  - name: b\n    training: {learning_rate: 0.002}\n")
    plan = load_experiment_file(path)
    from tracekd_ops.core.lineage import Lineage
    from tracekd_ops.train.settings import TrainingConfig

    names = {Lineage("d", "c", s.name, s.base_model, 0, "v").model_name for s in plan.students}
    assert len(names) == 2
    configs = [s.training_config(0, TrainingConfig()) for s in plan.students]
    assert configs[0].fingerprint() != configs[1].fingerprint()


def test_the_reference_experiment_ships_as_a_file_and_lays_out_its_grid(tmp_path):
    """experiments/reference.yaml: the study's two students, QLoRA with its settings, three seeds,
    over its datasets and conditions; `plan_experiment` lays out every fine-tune (here on the
    generated dataset, so it runs offline and fast) with GPU-hours from a GPU benchmark result."""
    import json
    from pathlib import Path

    from tracekd_ops.steps.plan import check_experiment, gpu_rates, plan_experiment
    from tracekd_ops.train.settings import TrainingConfig

    reference = load_experiment_file(Path(__file__).resolve().parents[2] / "experiments" / "reference.yaml")
    check_experiment(reference, "experiments/reference.yaml")
    assert reference.datasets == ["babi", "cotempqa"] and reference.conditions == ["solution_only", "correct", "incorrect"]
    assert {(s.base_model, s.preset, tuple(s.seeds)) for s in reference.students} == {
        ("meta-llama/Llama-3.2-1B-Instruct", "reference_qlora", (0, 1, 2)), ("Qwen/Qwen3-1.7B", "reference_qlora", (0, 1, 2))}
    assert all(s.training_config(0, TrainingConfig()).mode == "qlora" for s in reference.students)
    assert gpu_rates(tmp_path) == ({}, None)
    (tmp_path / "training-20260101T000000Z-gpu.json").write_text(json.dumps({"rows": [
        {"device": "cuda", "engine": "trl", "mode": "qlora", "steady_tokens_per_s": 10_000.0},
        {"device": "cuda", "engine": "bare loop", "mode": "full", "steady_tokens_per_s": 99_000.0}]}))  # fmt: skip
    small = reference.model_copy(update={"datasets": ["synthetic"], "conditions": ["solution_only", "correct"]})
    plan = plan_experiment(small, {}, "reference", tmp_path, lambda _: None)
    assert len(plan) == 2 * 2 * 3 and {row.mode for row in plan} == {"qlora"}
    for row in plan:
        assert row.train_tokens > 3 * row.examples and abs(row.gpu_hours - row.train_tokens / 10_000 / 3600) < 1e-9
    with pytest.raises(ValueError, match="datasets: unknown \\['bibi'\\]"):
        check_experiment(reference.model_copy(update={"datasets": ["bibi"]}), "x.yaml")
