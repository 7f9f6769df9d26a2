"""Raw QA examples, and the training traces rendered from them under each trace condition."""

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, MaterializeResult, asset

from tracekd_assets.defs.column_lineage import column_lineage
from tracekd_assets.defs.metadata import as_metadata, table_metadata
from tracekd_assets.defs.partitions import dataset_partitions, run_partitions, split_run_key
from tracekd_assets.defs.pools import DUCKDB_POOL
from tracekd_assets.defs.resources import ExperimentSettings, TeacherSettings, TraceKDHome
from tracekd_ops.datasets.synthetic import GENERATOR_VERSION
from tracekd_ops.steps.data import load_raw, store_raw
from tracekd_ops.steps.traces import build_traces
from tracekd_ops.traces.conditions import condition as condition_record
from tracekd_ops.traces.render import TRACE_FORMAT_VERSION

GX_CHECK = "great_expectations_suite"


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
def raw_examples(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings) -> MaterializeResult:
    dataset = context.partition_key
    partition = load_raw(dataset, experiment.source(dataset), experiment.loader_options(dataset), experiment.protocol,
                         experiment.seed, experiment.per_category_limit, experiment.synthetic(), experiment.file_limits())  # fmt: skip
    context.log.info(f"{dataset}: {len(partition.records)} records from {partition.source} (protocol {partition.protocol})")
    metadata = partition.metadata()
    if metadata["repeated_questions"]:
        context.log.warning(f"{dataset}: {metadata['repeated_questions']} questions repeat an earlier one word for word "
                            f"(e.g. {metadata['first_repeat']}); {metadata['test_questions_also_in_train']} test questions "
                            "are also training questions")  # fmt: skip
    store_raw(home.store(), partition)
    return MaterializeResult(metadata={**as_metadata(metadata), "dagster/row_count": len(partition.records)})


@asset(
    partitions_def=run_partitions,
    deps=["raw_examples", "teacher_responses"],
    pool=DUCKDB_POOL,
    group_name="data",
    kinds={"duckdb", "great_expectations"},
    metadata=table_metadata("traces", "trace_sets"),
    code_version=TRACE_FORMAT_VERSION,
    output_required=False,
    check_specs=[AssetCheckSpec(GX_CHECK, asset="traces", blocking=True, description="Great Expectations suite of the trace condition's family")],
    description="Training traces of one dataset under one trace condition, validated by Great Expectations "
    "before they replace the stored partition (DuckDB tables `traces` and `trace_sets`). Teacher conditions "
    "are built from the cached `teacher_responses` (no request is sent here) and skipped without a teacher.",
)
def traces(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings, teacher: TeacherSettings):
    dataset, condition = split_run_key(context.partition_key)
    skipped = condition_record(condition).skip_reason(teacher.configured)
    if skipped:
        context.log.warning(f"traces[{dataset}|{condition}] skipped: {skipped}")
        yield AssetCheckResult(check_name=GX_CHECK, passed=False, severity=AssetCheckSeverity.WARN, metadata={"skipped": skipped})
        return
    outcome = build_traces(home.store(), dataset, condition, experiment.trace_options(), teacher.config())
    if outcome.trace_set.left_out:
        context.log.warning(f"{sum(outcome.trace_set.left_out.values())} questions left out of the {condition} traces: {outcome.trace_set.left_out}")
    if outcome.stored:
        context.log.info(f"stored {len(outcome.trace_set.rows)} {condition} traces, trace_set_version {outcome.trace_set.version}")
    else:
        context.log.error(f"Great Expectations suite failed, stored traces left as they were: {outcome.suite.describe()}")
    check = AssetCheckResult(check_name=GX_CHECK, passed=outcome.stored, severity=AssetCheckSeverity.ERROR,
                             metadata=as_metadata(outcome.check_metadata()))  # fmt: skip
    rows = {"dagster/row_count": len(outcome.trace_set.rows)} if outcome.stored else {}
    yield MaterializeResult(metadata={**as_metadata(outcome.metadata()), **column_lineage("traces"), **rows}, check_results=[check])
