"""Raw QA examples, and the training traces rendered from them under each trace condition."""

from dagster import AssetCheckSpec, AssetExecutionContext, asset

from tracekd_assets.defs.metadata import Materialized, materialized, table_metadata
from tracekd_assets.defs.partitions import dataset_partitions, resolve_run_key, run_partitions
from tracekd_assets.defs.pools import DUCKDB_POOL
from tracekd_assets.defs.resources import ExperimentSettings, TeacherSettings, TraceKDHome
from tracekd_ops.datasets import dataset_spec
from tracekd_ops.datasets.synthetic import GENERATOR_VERSION
from tracekd_ops.steps.data import store_raw
from tracekd_ops.steps.traces import SUITE_CHECK, build_traces
from tracekd_ops.traces.render import TRACE_FORMAT_VERSION


@asset(
    partitions_def=dataset_partitions,
    pool=DUCKDB_POOL,
    group_name="data",
    kinds={"duckdb", "python"},
    metadata=table_metadata("raw_examples", "dataset_versions"),
    code_version=GENERATOR_VERSION,
    description="Canonical QA records (one per question) of a dataset, in DuckDB table `raw_examples`: "
    "generated (`synthetic`) or loaded from the source set on the `experiment` resource, with its protocol.",
)
def raw_examples(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings) -> Materialized:
    dataset = context.partition_key
    yield from materialized(context, store_raw(home.store(), dataset_spec(dataset), experiment.raw_request(dataset)))


@asset(
    partitions_def=run_partitions,
    deps=["raw_examples", "teacher_responses"],
    pool=DUCKDB_POOL,
    group_name="data",
    kinds={"duckdb", "great_expectations"},
    metadata=table_metadata("traces", "trace_sets"),
    code_version=TRACE_FORMAT_VERSION,
    output_required=False,
    check_specs=[AssetCheckSpec(SUITE_CHECK, asset="traces", blocking=True, description="Great Expectations suite of the trace condition's family")],
    description="Training traces of one dataset under one trace condition, validated by Great Expectations "
    "before they replace the stored partition (DuckDB tables `traces` and `trace_sets`). Teacher conditions "
    "are built from the cached `teacher_responses` (no request is sent here) and skipped without a teacher.",
)
def traces(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings, teacher: TeacherSettings) -> Materialized:
    spec, condition = resolve_run_key(context.partition_key)
    yield from materialized(context, build_traces(home.store(), spec, condition, experiment.trace_options(), teacher.config()))
