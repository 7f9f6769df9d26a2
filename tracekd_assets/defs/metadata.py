"""Step outcomes' metadata as Dagster shows it: dicts and lists as JSON, `Markdown` rendered,
paths as file links, plain values as they are. The one place that converts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from dagster import MetadataValue

from tracekd_ops.core.metadata import Markdown


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
