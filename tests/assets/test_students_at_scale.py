"""The experiment file drives the students: several base models and seeds per trace set, each its
own registry revision, evaluated and aggregated over seeds."""

from __future__ import annotations

import pytest
from dagster import instance_for_test, materialize

from tracekd_assets.definitions import ALL_ASSETS
from tracekd_assets.jobs import condition_job, raw_job, report_job
from tracekd_assets.partitions import run_key
from tracekd_ops.student import TINY_BASE_MODEL


@pytest.fixture
def chat_base(tmp_path):
    """A small 'pretrained' chat model on disk standing in for a Hub id."""
    from tests.teacher_server import CHAT_TEMPLATE
    from tracekd_ops.student import TinyModelConfig, build_tiny_model, train_tokenizer

    path = tmp_path / "tiny-chat"
    tokenizer = train_tokenizer(["Facts: [1] Mary went to the office. Question: Where is Mary? <answer>office</answer>"] * 4, 300)
    tokenizer.chat_template = CHAT_TEMPLATE
    build_tiny_model(tokenizer, TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64), 0).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def write_experiment(path, chat_base) -> str:
    path.write_text(f"""
students:
  - name: tiny
    seeds: [0, 1]
  - name: chat-lora
    base_model: {chat_base}
    mode: lora
    seeds: [3]
    training: {{max_steps: 3, batch_size: 4, learning_rate: 0.005, lora: {{r: 4, alpha: 8, dropout: 0.0}}}}
""")
    return str(path)


def test_every_student_of_the_file_on_every_seed_is_a_revision_with_its_own_metrics(
    tmp_path, tiny_home, tiny_experiment, no_teacher, local_registry, chat_base
):
    experiment = tiny_experiment.with_changes(experiment_file=write_experiment(tmp_path / "experiment.yaml", chat_base))
    resources = {"home": tiny_home, "experiment": experiment, "teacher": no_teacher, "registry": local_registry}
    with instance_for_test() as instance:
        assert materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="synthetic", instance=instance, resources=resources).success
        result = materialize(ALL_ASSETS, selection=condition_job.selection, partition_key=str(run_key("synthetic", "correct")),
                             instance=instance, resources=resources)  # fmt: skip
        assert result.success
        assert materialize(ALL_ASSETS, selection=report_job.selection, instance=instance, resources=resources).success
    store = tiny_home.store()
    registry = store.rows("SELECT student, base_model, seed, status, json_extract_string(train_summary, '$.mode') AS mode, "
                          "metrics IS NOT NULL AS evaluated FROM registry ORDER BY seed")  # fmt: skip
    assert registry == [
        {"student": "tiny", "base_model": TINY_BASE_MODEL, "seed": 0, "status": "registered", "mode": "full", "evaluated": True},
        {"student": "tiny", "base_model": TINY_BASE_MODEL, "seed": 1, "status": "registered", "mode": "full", "evaluated": True},
        {"student": "chat-lora", "base_model": str(chat_base), "seed": 3, "status": "registered", "mode": "lora", "evaluated": True},
    ]
    metrics = store.rows("SELECT base_model, seed, n FROM metrics WHERE condition = 'correct' ORDER BY seed")
    assert [(m["base_model"], m["seed"]) for m in metrics] == [(TINY_BASE_MODEL, 0), (TINY_BASE_MODEL, 1), (str(chat_base), 3)]
    # the untuned pretrained base is its own baseline row (the from-config tiny model has none)
    baseline = store.rows("SELECT base_model, model_revision, n FROM metrics WHERE condition = 'untuned_base'")
    assert baseline == [{"base_model": str(chat_base), "model_revision": "untuned", "n": 24}]
    comparison = store.rows("SELECT condition, base_model, runs FROM condition_comparison ORDER BY ALL")
    assert sorted((c["condition"], c["base_model"], c["runs"]) for c in comparison) == sorted(
        [("correct", TINY_BASE_MODEL, 2), ("correct", str(chat_base), 1), ("untuned_base", str(chat_base), 1)]
    )


def test_an_invalid_experiment_file_fails_before_training_naming_file_and_field(tmp_path, tiny_home, tiny_experiment, no_teacher, local_registry):
    bad = tmp_path / "bad.yaml"
    bad.write_text("students:\n  - name: tiny\n    mode: lora\n    seeds: []\n")
    experiment = tiny_experiment.with_changes(experiment_file=str(bad))
    resources = {"home": tiny_home, "experiment": experiment, "teacher": no_teacher, "registry": local_registry}
    with instance_for_test() as instance:
        raw = materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="synthetic", instance=instance,
                          resources=resources, raise_on_error=False)  # fmt: skip
        result = materialize(ALL_ASSETS, selection=condition_job.selection, partition_key=str(run_key("synthetic", "correct")),
                             instance=instance, resources=resources, raise_on_error=False)  # fmt: skip
        for run in (raw, result):  # the baseline (in raw_examples_job) and the student both read the file first
            assert not run.success
            failure = next(e for e in run.all_events if e.event_type_value == "STEP_FAILURE")
            message = str(failure.event_specific_data.error)
            assert str(bad) in message and "students.0.seeds" in message
    assert tiny_home.store().rows("SELECT count(*) AS n FROM registry") == [{"n": 0}]
