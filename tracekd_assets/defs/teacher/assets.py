"""The teacher model's replies about a dataset's training questions."""

from dagster import AssetExecutionContext, asset

from tracekd_assets.defs.metadata import Materialized, materialized, table_metadata
from tracekd_assets.defs.partitions import dataset_partitions
from tracekd_assets.defs.pools import TEACHER_POOL
from tracekd_assets.defs.resources import TeacherSettings, TraceKDHome
from tracekd_ops.datasets import dataset_spec
from tracekd_ops.steps.teacher import ask_teacher
from tracekd_ops.teacher.requests import PROMPT_VERSION


@asset(
    partitions_def=dataset_partitions,
    deps=["raw_examples"],
    group_name="teacher",
    kinds={"openai", "duckdb"},
    metadata=table_metadata("teacher_requests", "teacher_request_questions"),
    pool=TEACHER_POOL,
    output_required=False,
    code_version=PROMPT_VERSION,
    description="The teacher model's answers to a dataset's training questions, and for the ones it got right "
    "a summary and a post-hoc explanation, from an OpenAI-compatible endpoint (the `teacher` resource). Every "
    "request is cached in DuckDB table `teacher_requests`: re-materializing asks only what is missing or failed; "
    "`teacher_request_questions` says which question each was about. "
    "In the `teacher_endpoint` pool, not the `duckdb` one: its work is HTTP, and its writes are short transactions under the store's lock. "
    "Skipped when no teacher is configured.",
)
def teacher_responses(context: AssetExecutionContext, home: TraceKDHome, teacher: TeacherSettings) -> Materialized:
    yield from materialized(context, ask_teacher(home.store(), dataset_spec(context.partition_key), teacher.config(), context.log.info))
