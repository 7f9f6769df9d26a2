"""Launch a student's training out of the step's process: `torchrun` with N processes through
Dagster Pipes (`PipesSubprocessClient`), so training can use several GPUs (DDP) while the step
keeps its metadata, logs and registry row exactly as in process. On a cluster the same job file
and module run in a pod launched by `PipesK8sClient` instead (not wired here yet)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Sequence

from dagster import AssetExecutionContext, PipesSubprocessClient

from tracekd_assets.pipes_training import result_from_messages, write_job
from tracekd_ops.steps.train import Train
from tracekd_ops.train.settings import TrainingConfig
from tracekd_ops.train.trainer import TrainResult

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def torchrun_trainer(context: AssetExecutionContext, processes: int) -> Train:
    """A `train_student` that runs `torchrun --nproc-per-node processes` on this machine."""

    def train(prompts: Sequence[str], completions: Sequence[str], work: Path, config: TrainingConfig,
              log: Any = print, phrases: Sequence[str] = ()) -> TrainResult:  # fmt: skip
        if config.batch_size % processes:
            raise ValueError(f"batch_size {config.batch_size} must divide by training_processes {processes}: "
                             "each process takes an equal share of the global batch")  # fmt: skip
        per_process = config.with_changes(batch_size=config.batch_size // processes)
        job = write_job(work, list(prompts), list(completions), per_process.as_dict(), list(phrases))
        command = [str(Path(sys.executable).parent / "torchrun"), "--standalone", f"--nproc-per-node={processes}",
                   "-m", "tracekd_assets.pipes_training", str(job)]  # fmt: skip
        threads = max(1, (os.cpu_count() or 1) // processes)
        log(f"launching torchrun with {processes} processes ({per_process.batch_size} rows each per step) through Dagster Pipes")
        invocation = PipesSubprocessClient(cwd=str(PROJECT_ROOT)).run(command=command, context=context, env={"OMP_NUM_THREADS": str(threads)})
        return result_from_messages(invocation.get_custom_messages())

    return train
