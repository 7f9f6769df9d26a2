"""The teacher model's replies about a dataset's training questions."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from tracekd_assets.defs.metadata import as_metadata, table_metadata
from tracekd_assets.defs.partitions import dataset_partitions
from tracekd_assets.defs.pools import TEACHER_POOL
from tracekd_assets.defs.resources import TeacherSettings, TraceKDHome
from tracekd_ops.steps.teacher import ask_teacher
from tracekd_ops.teacher.requests import PROMPT_VERSION
from tracekd_ops.traces.conditions import NO_TEACHER


@asset(
    partitions_def=dataset_partitions,
    deps=["raw_examples"],
    group_name="teacher",
    kinds={"openai", "duckdb"},
    metadata=table_metadata("teacher_requests"),
    pool=TEACHER_POOL,
    output_required=False,
    code_version=PROMPT_VERSION,
    description="The teacher model's answers to a dataset's training questions, and for the ones it got right "
    "a summary and a post-hoc explanation, from an OpenAI-compatible endpoint (the `teacher` resource). Every "
    "request is cached in DuckDB table `teacher_requests`: re-materializing asks only what is missing or failed. "
    "In the `teacher_endpoint` pool, not the `duckdb` one: its work is HTTP, and its writes are short transactions under the store's lock. "
    "Skipped when no teacher is configured.",
)
def teacher_responses(context: AssetExecutionContext, home: TraceKDHome, teacher: TeacherSettings):
    dataset = context.partition_key
    if not teacher.configured:
        context.log.warning(f"teacher_responses[{dataset}] skipped: {NO_TEACHER}")
        return
    yield MaterializeResult(metadata=as_metadata(ask_teacher(home.store(), dataset, teacher.config(), context.log.info)))
