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


def train(tmp_path, name: str, experiment, no_teacher, local_registry, processes: int, sharding: str = "ddp"):
    home = TraceKDHome(home=str(tmp_path / name))
    resources = {"home": home, "experiment": experiment.with_changes(training_processes=processes, training={"sharding": sharding}), "teacher": no_teacher,
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
    """DDP (a whole copy per process) and FSDP2 (everything sharded over the two; the checkpoint
    gathered whole) both train the student one process trains."""
    import json

    import torch
    from safetensors.torch import load_file

    experiment = tiny_experiment.with_changes(training={"max_steps": 6, "batch_size": 8, "log_every": 1})
    _, alone, _ = train(tmp_path, "one", experiment, no_teacher, local_registry, processes=0)
    summary_alone = json.loads(alone["train_summary"])
    weights_alone = load_file(str(next((tmp_path / "one" / "registry").rglob("model.safetensors"))))
    for sharding in ("ddp", "fsdp"):
        home, ranks, logs = train(tmp_path, sharding, experiment, no_teacher, local_registry, processes=2, sharding=sharding)
        assert "training on 2 processes (rank 0 reporting)" in logs  # a Pipes log line from rank 0
        assert "launching torchrun with 2 processes (4 rows each per step)" in logs
        assert ranks["status"] == alone["status"] == "registered"
        summary = json.loads(ranks["train_summary"])
        assert summary["steps"] == summary_alone["steps"] == 6
        assert abs(summary["final_loss"] - summary_alone["final_loss"]) < 1e-4, (sharding, summary["final_loss"], summary_alone["final_loss"])
        arguments = json.loads(next((tmp_path / sharding / "registry").rglob("training_args.json")).read_text())
        assert bool(arguments["fsdp"]) == (sharding == "fsdp"), arguments["fsdp"]  # what the trainer really ran
        weights = load_file(str(next((tmp_path / sharding / "registry").rglob("model.safetensors"))))
        assert weights.keys() == weights_alone.keys()
        for key in weights:
            assert weights[key].shape == weights_alone[key].shape, (sharding, key)  # whole, not a shard
            assert torch.allclose(weights[key], weights_alone[key], atol=1e-4), (sharding, key)
        # the global batch stays the study's setting: the per-process share is the launcher's business
        assert json.loads(ranks["hyperparameters"])["batch_size"] == 8
