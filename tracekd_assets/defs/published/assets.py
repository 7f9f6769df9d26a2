"""Published students: another study's per-question generations imported as external students
(no weights), scored step by step into the same tables as TraceKD's own students."""

from dagster import AssetExecutionContext, asset

from tracekd_assets.defs.metadata import Materialized, materialized, table_metadata
from tracekd_assets.defs.partitions import dataset_partitions
from tracekd_assets.defs.pools import DUCKDB_POOL
from tracekd_assets.defs.resources import ExperimentSettings, TraceKDHome
from tracekd_ops.datasets import dataset_spec
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
def published_students(context: AssetExecutionContext, home: TraceKDHome, experiment: ExperimentSettings) -> Materialized:
    yield from materialized(context, import_published(home.store(), dataset_spec(context.partition_key), experiment.published_config(), context.log.info))
