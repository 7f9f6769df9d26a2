"""Launch a student's training out of the step's process: `torchrun` with N processes through
Dagster Pipes, so training can use several GPUs (DDP, or FSDP for a student too large for one) while the step keeps its metadata, logs and
registry row exactly as in process. On one machine `PipesSubprocessClient` starts it there; on the
cluster profile `PipesK8sClient` starts it in a pod of its own with N GPUs, from the same image,
with the job file and checkpoints on the home volume every pod mounts."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from dagster import AssetExecutionContext, PipesClientCompletedInvocation, PipesSubprocessClient

from tracekd_assets.defs.pools import CLUSTER_ENV_VARS, training_pod_spec
from tracekd_assets.pipes_training import result_from_messages, write_job
from tracekd_ops.steps.train import Train
from tracekd_ops.train.settings import TrainingConfig
from tracekd_ops.train.trainer import TrainResult

Launch = Callable[[list[str], Path], PipesClientCompletedInvocation]
"""Runs a torchrun command (its arguments, the job file) through a Pipes client."""


def torchrun_command(processes: int, job: Path, executable: str = "torchrun") -> list[str]:
    return [executable, "--standalone", f"--nproc-per-node={processes}", "-m", "tracekd_assets.pipes_training", str(job)]


def _trainer(processes: int, launch: Launch) -> Train:
    """A `train_student` that writes the job file (the student's training settings, how the ranks
    shard included) and has `launch` run torchrun over it."""

    def train(prompts: Sequence[str], completions: Sequence[str], work: Path, config: TrainingConfig,
              log: Any = print, phrases: Sequence[str] = ()) -> TrainResult:  # fmt: skip
        if config.batch_size % processes:
            raise ValueError(f"batch_size {config.batch_size} must divide by training_processes {processes}: "
                             "each process takes an equal share of the global batch")  # fmt: skip
        per_process = config.with_changes(batch_size=config.batch_size // processes)
        job = write_job(work, list(prompts), list(completions), per_process.as_dict(), list(phrases))
        log(f"launching torchrun with {processes} processes ({per_process.batch_size} rows each per step) through Dagster Pipes")
        return result_from_messages(launch(torchrun_command(processes, job), job).get_custom_messages())

    return train


def torchrun_trainer(context: AssetExecutionContext, processes: int) -> Train:
    """torchrun on this machine, its processes sharing the cores."""
    threads = max(1, (os.cpu_count() or 1) // processes)

    def launch(command: list[str], job: Path) -> PipesClientCompletedInvocation:
        # torchrun and its ranks die with this step: a killed run must not leave them training on
        torchrun = str(Path(sys.executable).parent / "torchrun")
        command = [sys.executable, "-m", "tracekd_assets.pipes_training", "--follow-parent", torchrun, *command[1:]]
        return PipesSubprocessClient(cwd=str(job.parent)).run(command=command, context=context, env={"OMP_NUM_THREADS": str(threads)})

    return _trainer(processes, launch)


def k8s_torchrun_trainer(context: AssetExecutionContext, processes: int) -> Train:
    """torchrun in a pod of its own with `processes` GPUs (`training_pod_spec`), from the image this
    code location runs (`DAGSTER_CURRENT_IMAGE`, which Dagster's Helm chart sets, or `TRACEKD_IMAGE`);
    Pipes messages come back through the pod's logs."""
    from dagster_k8s import PipesK8sClient

    image = os.environ.get("TRACEKD_IMAGE") or os.environ.get("DAGSTER_CURRENT_IMAGE")
    if not image:
        raise ValueError("training in a pod needs the image to run: set TRACEKD_IMAGE (or run under Dagster's Helm chart, "
                         "which sets DAGSTER_CURRENT_IMAGE)")  # fmt: skip

    def launch(command: list[str], job: Path) -> PipesClientCompletedInvocation:
        env = {name: os.environ[name] for name in CLUSTER_ENV_VARS if name in os.environ}
        return PipesK8sClient(load_incluster_config=True, poll_interval=5.0).run(
            context=context, image=image, command=command, namespace=os.environ.get("TRACEKD_K8S_NAMESPACE"),
            env=env, base_pod_spec=training_pod_spec(processes),
        )  # fmt: skip

    return _trainer(processes, launch)


def training_launcher(context: AssetExecutionContext, processes: int, deployment: str) -> Train | None:
    """How the student step trains: locally in its own process (None, `training_processes` 0) or
    torchrun here; on the cluster always torchrun in a pod of its own with a GPU per process (one
    when `training_processes` is 0), so the step's pod, which only waits for it, holds no GPU;
    its ranks as DDP or FSDP as the job file's `sharding` says."""
    if deployment == "cluster":
        return k8s_torchrun_trainer(context, max(1, processes))
    return torchrun_trainer(context, processes) if processes else None
