"""Training outside the step's process: the `student` step launches `torchrun` (N processes, DDP;
gloo on CPU, NCCL on GPUs) through Dagster Pipes, and every rank runs this module's `main` on the
same job file. Each rank trains with the project's own `train_student` (TRL's Trainer spreads the
global batch over the ranks); rank 0 alone speaks Pipes: its log lines (progress, loss) and, at
the end, the training result come back to the step as Pipes messages, so the materialization's
metadata is what an in-process run records. Resume works as in process: a killed run's
checkpoint is in the same work folder.

    torchrun --nproc-per-node 2 -m tracekd_assets.pipes_training JOB.json

Runs in the launched processes, never in the code location: only the Pipes protocol (the small
`dagster-pipes` package) is imported here besides the library.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

JOB_FILE = "pipes_job.json"
TRACES_FILE = "pipes_traces.parquet"
RESULT_MESSAGE = "train_result"


def write_job(work: Path, prompts: list[str], completions: list[str], config: dict[str, Any], phrases: list[str]) -> Path:
    """The job file every rank reads: the traces (Parquet), the settings and the tokenizer phrases."""
    import pandas as pd

    work.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"prompt": prompts, "completion": completions}).to_parquet(work / TRACES_FILE)
    job = work / JOB_FILE
    job.write_text(json.dumps({"work": str(work), "traces": str(work / TRACES_FILE), "config": config, "phrases": phrases}))
    return job


def result_message(result: Any) -> dict[str, Any]:
    values = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(result).items()}
    return {"kind": RESULT_MESSAGE, "result": values}


def result_from_messages(messages: list[Any]) -> Any:
    """The `TrainResult` rank 0 sent; an error when the processes ended without one."""
    from tracekd_ops.train.trainer import TrainResult

    sent = [m["result"] for m in messages if isinstance(m, dict) and m.get("kind") == RESULT_MESSAGE]
    if not sent:
        raise RuntimeError("the training processes ended without reporting a result (see the step's log for their output)")
    values = sent[-1]
    return TrainResult(**{**values, "output_dir": Path(values["output_dir"]), "loss_curve": [tuple(p) for p in values["loss_curve"]]})


def main(argv: list[str]) -> int:
    """`<job file>`: train as one rank. `--follow-parent <program> <args>`: become the program (the
    torchrun launcher) after asking to die with the step that started it."""
    from tracekd_ops.core.lifetime import die_with_parent_process

    die_with_parent_process()  # a rank dies with its torchrun, a torchrun with its step
    if argv[:1] == ["--follow-parent"]:
        os.execv(argv[1], argv[1:])
    import pandas as pd

    from tracekd_ops.train.settings import TrainingConfig
    from tracekd_ops.train.trainer import train_student

    job = json.loads(Path(argv[0]).read_text())
    traces = pd.read_parquet(job["traces"])
    config = TrainingConfig.model_validate(job["config"])
    arguments = (list(traces["prompt"]), list(traces["completion"]), Path(job["work"]), config)
    if int(os.environ.get("RANK", "0")) != 0:
        train_student(*arguments, log=lambda line: None, phrases=job["phrases"])
        return 0
    from dagster_pipes import open_dagster_pipes

    with open_dagster_pipes() as pipes:
        pipes.log.info(f"training on {os.environ.get('WORLD_SIZE', '1')} processes (rank 0 reporting)")
        result = train_student(*arguments, log=pipes.log.info, phrases=job["phrases"])
        pipes.report_custom_message(result_message(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
