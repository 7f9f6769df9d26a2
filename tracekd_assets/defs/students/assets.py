"""Students: every student of the experiment file on every seed, fine-tuned on one condition's
traces, each training run a new registry revision."""

from dagster import AssetExecutionContext, asset

from tracekd_assets.defs.metadata import Materialized, materialized, table_metadata
from tracekd_assets.defs.partitions import resolve_run_key, run_partitions
from tracekd_assets.defs.pools import GPU_ASSET_TAGS, TRAINING_POOL
from tracekd_assets.defs.resources import ExperimentSettings, RegistrySettings, TraceKDHome, deployment
from tracekd_assets.defs.students.launch import training_launcher
from tracekd_ops.steps.train import train_students
from tracekd_ops.train.trainer import TRAINER_VERSION


@asset(
    partitions_def=run_partitions,
    deps=["traces"],
    pool=TRAINING_POOL,
    group_name="students",
    tags=GPU_ASSET_TAGS,
    kinds={"pytorch", "huggingface", "duckdb"},
    metadata=table_metadata("registry"),
    code_version=TRAINER_VERSION,
    description="Students fine-tuned (TRL SFTTrainer, completion-only loss; full, LoRA or QLoRA) on one condition's "
    "traces: every student of the experiment file on every seed, each registered as a new revision (local "
    "registry or the Hugging Face Hub) and listed in the DuckDB table `registry`. A killed training resumes "
    "from its last checkpoint; a failed push is completed by the next materialization, without retraining. "
    "With `training_processes` N, training runs as `torchrun` over N processes (DDP, or FSDP with `training.sharding`) through Dagster Pipes: here, "
    "or on the cluster profile, always, in a pod of its own with N GPUs (one when N is 0): the step's own pod holds none.",
)
def student(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings, registry: RegistrySettings) -> Materialized:
    spec, condition = resolve_run_key(context.partition_key)
    trainer = training_launcher(context, experiment.training_processes, deployment())
    launch = {"train": trainer} if trainer else {}
    yield from materialized(context, train_students(home.store(), registry.build(home), spec, condition, experiment.experiment(),
                                                    experiment.training_defaults(), context.log.info, context.log.error, **launch))  # fmt: skip
