"""Step outcomes as Dagster shows them: metadata (dicts and lists as JSON, `Markdown` rendered,
paths as file links, plain values as they are), messages, checks, failures and skips. The one
place that converts, so every asset is: resolve the inputs, run the step, `materialized`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    MetadataValue,
    MultiPartitionsDefinition,
    TableColumn,
    TableSchema,
)

from tracekd_assets.defs.column_lineage import column_lineage
from tracekd_assets.defs.partitions import split_run_key
from tracekd_ops.core.metadata import Markdown
from tracekd_ops.steps.outcome import StepOutcome

Materialized = Iterator[MaterializeResult | AssetCheckResult]
SEVERITIES = {"error": AssetCheckSeverity.ERROR, "warn": AssetCheckSeverity.WARN}


def as_metadata(values: Mapping[str, Any]) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, Markdown):
            return MetadataValue.md(str(value))
        if isinstance(value, Path):
            return MetadataValue.path(str(value))
        if isinstance(value, (dict, list, tuple)):
            return MetadataValue.json(value)
        return value

    return {key: convert(value) for key, value in values.items()}


def table_metadata(*tables: str) -> dict[str, Any]:
    """The DuckDB tables an asset writes, as Dagster shows a table: the first one's columns as its
    column schema (name, type, NOT NULL, what the column holds), and what each table holds (their
    DuckDB comments)."""
    from dagster import TableColumn, TableColumnConstraints, TableSchema

    from tracekd_ops.steps.catalog import CATALOG
    from tracekd_ops.store.store import schema_columns

    columns = [TableColumn(name, type_, description=CATALOG.column_comment(tables[0], name), constraints=TableColumnConstraints(nullable=not not_null))
               for name, type_, not_null in schema_columns(CATALOG)[tables[0]]]  # fmt: skip
    return {
        "dagster/column_schema": TableSchema(columns=columns),
        "dagster/table_name": tables[0],
        "duckdb_tables": MetadataValue.md("\n".join(f"- `{table}`: {CATALOG[table].comment}" for table in tables)),
    }


def materialized(context: AssetExecutionContext, outcome: StepOutcome) -> Materialized:
    """What an asset yields for its step's outcome: its messages logged, then its materialization
    (metadata, column lineage of its primary table, row count, checks), or a `Failure` when it
    must fail. A skipped step materializes nothing: it warns, and its checks fail as warnings (the
    run succeeds: nothing went wrong)."""
    if outcome.skipped:
        key = context.partition_key if context.has_partition_key else None
        where = "|".join(split_run_key(key)) if key and isinstance(context.assets_def.partitions_def, MultiPartitionsDefinition) else key
        context.log.warning(f"{context.asset_key.to_user_string()}{f'[{where}]' if where else ''} skipped: {outcome.skipped}")
        for spec in context.assets_def.check_specs:
            yield AssetCheckResult(check_name=spec.name, passed=False, severity=AssetCheckSeverity.WARN, metadata={"skipped": outcome.skipped})
        return
    say = {"info": context.log.info, "warning": context.log.warning, "error": context.log.error}
    for level, text in outcome.messages:
        say[level](text)
    metadata = as_metadata(outcome.metadata)
    if outcome.failure:
        raise Failure(outcome.failure, metadata=metadata)
    lineage = column_lineage(outcome.tables[0], outcome.lineage) if outcome.tables else {}
    rows = {"dagster/row_count": outcome.rows} if outcome.rows is not None else {}
    schema = {"dagster/column_schema": TableSchema([TableColumn(name, type_, description=comment) for name, type_, comment in outcome.columns])} if outcome.columns else {}  # fmt: skip
    checks = [AssetCheckResult(check_name=c.name, passed=c.passed, severity=SEVERITIES[c.severity], metadata=as_metadata(c.metadata))
              for c in outcome.checks]  # fmt: skip
    yield MaterializeResult(metadata={**metadata, **lineage, **rows, **schema}, check_results=checks)
