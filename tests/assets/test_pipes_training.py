"""Training beyond the step's process, for real: the `student` step launches `torchrun` with two
CPU processes (DDP over gloo) through Dagster Pipes. The student it trains is the one a single
process trains on the same data and global batch (same loss, same weights), its progress and
result come back as Pipes messages, and it registers like any other."""

from __future__ import annotations

from dagster import AssetKey, DagsterEventType, instance_for_test, materialize

from tracekd_assets.definitions import ALL_ASSETS
from tracekd_assets.defs.jobs import raw_job
from tracekd_assets.defs.partitions import run_key
from tracekd_assets.defs.resources import TraceKDHome


def train(tmp_path, name: str, experiment, no_teacher, local_registry, processes: int):
    home = TraceKDHome(home=str(tmp_path / name))
    resources = {"home": home, "experiment": experiment.with_changes(training_processes=processes), "teacher": no_teacher,
                 "registry": local_registry}  # fmt: skip
    with instance_for_test() as instance:
        assert materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="synthetic", instance=instance, resources=resources).success
        result = materialize(ALL_ASSETS, selection=[AssetKey("traces"), AssetKey("student")], partition_key=str(run_key("synthetic", "correct")),
                             instance=instance, resources=resources)  # fmt: skip
        assert result.success
        logs = [e.message for e in instance.all_logs(result.run_id) if e.dagster_event is None or e.dagster_event.event_type != DagsterEventType.STEP_WORKER_STARTED]
    (row,) = home.store().rows("SELECT * FROM registry")
    return home, row, "\n".join(str(m) for m in logs)


def test_two_torchrun_processes_through_pipes_train_the_student_one_process_trains(tmp_path, tiny_experiment, no_teacher, local_registry):
    import json

    import torch
    from safetensors.torch import load_file

    experiment = tiny_experiment.with_changes(training={"max_steps": 6, "batch_size": 8, "log_every": 1})
    _, alone, _ = train(tmp_path, "one", experiment, no_teacher, local_registry, processes=0)
    home, ddp, logs = train(tmp_path, "two", experiment, no_teacher, local_registry, processes=2)
    assert "training on 2 processes (rank 0 reporting)" in logs  # a Pipes log line from rank 0
    assert "launching torchrun with 2 processes (4 rows each per step)" in logs
    assert ddp["status"] == alone["status"] == "registered"
    summary_alone, summary_ddp = json.loads(alone["train_summary"]), json.loads(ddp["train_summary"])
    assert summary_ddp["steps"] == summary_alone["steps"] == 6
    assert abs(summary_ddp["final_loss"] - summary_alone["final_loss"]) < 1e-4, (summary_ddp["final_loss"], summary_alone["final_loss"])
    weights = [load_file(str(next((tmp_path / name / "registry").rglob("model.safetensors")))) for name in ("one", "two")]
    assert weights[0].keys() == weights[1].keys()
    for key in weights[0]:
        assert torch.allclose(weights[0][key], weights[1][key], atol=1e-4), key
    # the global batch stays the study's setting: the per-process share is the launcher's business
    assert json.loads(ddp["hyperparameters"])["batch_size"] == 8
