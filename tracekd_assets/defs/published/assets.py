"""Published students: another study's per-question generations imported as external students
(no weights), scored step by step into the same tables as TraceKD's own students."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from tracekd_assets.defs.metadata import as_metadata, table_metadata
from tracekd_assets.defs.partitions import dataset_partitions
from tracekd_assets.defs.pools import DUCKDB_POOL
from tracekd_assets.defs.resources import ExperimentSettings, TraceKDHome
from tracekd_ops.evaluate.metrics import METRICS_VERSION
from tracekd_ops.published.trace_check_qa import FORMAT_VERSION
from tracekd_ops.steps.published import import_published


@asset(
    partitions_def=dataset_partitions,
    deps=["raw_examples", "answer_rules"],
    pool=DUCKDB_POOL,
    group_name="evaluation",
    kinds={"duckdb", "python"},
    metadata=table_metadata("external_files", "external_lines", "registry"),
    code_version=f"{FORMAT_VERSION}/{METRICS_VERSION}",
    output_required=False,
    description="Students of another study, from its published generations (the `experiment` resource's `published` sources, e.g. "
    "the reference study's CoTempQA outputs): each file's lines joined to canonical records (checked against "
    "`raw_examples` when loaded), read in the study's trace format and scored by TraceKD's step scorers into "
    "`predictions`, `metrics` and `contingency`, with `external_files`, `external_lines` (every line, left-out ones "
    "with the reason) and a registry row each (status `external`).",
)
def published_students(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings):
    dataset = context.partition_key
    published = experiment.published_config()
    sources = [s for s in published.sources if s.dataset == dataset]
    if not sources:
        context.log.warning(f"published_students[{dataset}] skipped: no published outputs of {dataset} configured "
                            "(experiment.published.sources in the launchpad, or TRACEKD_PUBLISHED_PATHS)")  # fmt: skip
        return
    outcomes = [import_published(home.store(), source, published.choice(), context.log.info) for source in sources]
    for outcome in outcomes:
        for line in outcome.left_out:
            context.log.warning(f"left out: {line}")
    metadata = outcomes[0].metadata() if len(outcomes) == 1 else {"sources": [o.metadata() for o in outcomes]}
    yield MaterializeResult(metadata=as_metadata(metadata))
