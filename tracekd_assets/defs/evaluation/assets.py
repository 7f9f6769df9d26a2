"""Evaluation: registered students (and untuned base models) on the test split, scored step by
step, and each evaluated run's metrics."""

from dagster import (
    AssetDep,
    AssetExecutionContext,
    DataVersion,
    DataVersionsByPartition,
    MultiToSingleDimensionPartitionMapping,
    asset,
    observable_source_asset,
)

from tracekd_assets.defs.metadata import Materialized, materialized, table_metadata
from tracekd_assets.defs.partitions import dataset_partitions, resolve_run_key, run_partitions
from tracekd_assets.defs.pools import DUCKDB_POOL, GPU_ASSET_TAGS, GPU_STEP_TAGS, TRAINING_POOL
from tracekd_assets.defs.resources import ExperimentSettings, RegistrySettings, TraceKDHome
from tracekd_ops.evaluate.metrics import BASELINE_CONDITION, METRICS_VERSION
from tracekd_ops.steps.evaluate import compute_metrics, evaluate_base_models, evaluate_students
from tracekd_ops.datasets import dataset_names, dataset_spec

REVISION_TAG = "tracekd/model_revision"
"""Run tag that pins evaluation to one registry revision (set by the new-revision sensor)."""
EVALUATION_VERSION = "evaluation-2"
"""Bump when how students are evaluated changes (not a dataset's answer rule: that is `answer_rules`)."""
BY_DATASET = MultiToSingleDimensionPartitionMapping(partition_dimension_name="dataset")


@observable_source_asset(
    partitions_def=dataset_partitions,
    group_name="evaluation",
    description="Each dataset's answer rule, observed as a data version (its version, e.g. `cotempqa-em-1`): a changed "
    "rule marks exactly that dataset's predictions and metrics stale, not the other datasets'.",
)
def answer_rules() -> DataVersionsByPartition:
    return DataVersionsByPartition({name: DataVersion(dataset_spec(name).scorer_version) for name in dataset_names()})


@asset(
    partitions_def=run_partitions,
    deps=["student", "raw_examples", AssetDep("answer_rules", partition_mapping=BY_DATASET)],
    op_tags=GPU_STEP_TAGS,
    tags=GPU_ASSET_TAGS,
    pool=TRAINING_POOL,
    group_name="evaluation",
    kinds={"pytorch", "huggingface", "duckdb"},
    metadata=table_metadata("predictions"),
    code_version=EVALUATION_VERSION,
    description="Batched greedy generations of each registered student (the registered revision, downloaded from "
    "the Hub when that is the backend) on the test split, each parsed and scored step by step (DuckDB table "
    "`predictions`).",
)
def predictions(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings, registry: RegistrySettings) -> Materialized:
    spec, condition = resolve_run_key(context.partition_key)
    yield from materialized(context, evaluate_students(home.store(), registry.build(home), spec, condition, context.run.tags.get(REVISION_TAG),
                                                       experiment.eval_batch_size, experiment.eval_max_new_tokens, context.log.info))  # fmt: skip


@asset(
    partitions_def=run_partitions,
    deps=["predictions", AssetDep("answer_rules", partition_mapping=BY_DATASET)],
    pool=DUCKDB_POOL,
    group_name="evaluation",
    kinds={"duckdb", "scipy"},
    metadata=table_metadata("metrics", "contingency"),
    code_version=METRICS_VERSION,
    description="Answer and step accuracies, the trace-correct x answer-correct 2x2 table, chi-square, phi and "
    "conditional answer accuracies of each evaluated student (DuckDB table `metrics`; also on its `registry` row).",
)
def metrics(context: AssetExecutionContext, home: TraceKDHome, registry: RegistrySettings) -> Materialized:
    spec, condition = resolve_run_key(context.partition_key)
    yield from materialized(context, compute_metrics(home.store(), registry.build(home), spec, condition, context.log.info, context.log.warning))


@asset(
    partitions_def=dataset_partitions,
    deps=["raw_examples", "answer_rules"],
    group_name="evaluation",
    tags=GPU_ASSET_TAGS,
    kinds={"pytorch", "huggingface", "duckdb"},
    metadata=table_metadata("predictions", "metrics"),
    code_version=f"{METRICS_VERSION}/{EVALUATION_VERSION}",
    description=f"Each pretrained base model of the experiment file, untuned, on the test split: its own baseline row "
    f"(condition `{BASELINE_CONDITION}`) in `predictions` and `metrics`. The from-config tiny student has no "
    "pretrained weights, so it has no such row.",
)
def base_model_baseline(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings) -> Materialized:
    yield from materialized(context, evaluate_base_models(home.store(), dataset_spec(context.partition_key), experiment.experiment(),
                                                          experiment.eval_batch_size, experiment.eval_max_new_tokens, context.log.info))  # fmt: skip
