"""Assets built from the SQL files in `dbt_like_sql/`: one asset per file, deps read off the SQL,
the file's tests as asset checks, and column-level lineage in the materialization metadata."""

import hashlib
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    TableColumnDep,
    TableColumnLineage,
    asset,
)

from tracekd_assets.assets.data import DUCKDB_POOL
from tracekd_assets.resources import TraceKDHome
from tracekd_ops.report import markdown_table
from tracekd_ops.sql_models import SqlModel, column_lineage, discover_models, materialize_model, run_tests

SQL_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql"
TABLE_PRODUCERS = {
    "trace_sets": "traces",
    "registry": "student",
    "teacher_requests": "teacher_responses",
    "contingency": "metrics",
}
"""DuckDB tables written by an asset of another name (as a side table); every other table is the
asset of its own name."""


def producer(table: str) -> AssetKey:
    return AssetKey(TABLE_PRODUCERS.get(table, table))


def sql_model_asset(model: SqlModel) -> AssetsDefinition:
    """An asset that (re)builds the model's DuckDB table, then runs the model's tests as checks."""

    @asset(
        name=model.name,
        deps=sorted({producer(table) for table in model.upstream_tables}),
        pool=DUCKDB_POOL,
        group_name="sql_models",
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:12],
        description=model.description or f"SQL model {model.path.name}",
        metadata={"sql_file": str(model.path.relative_to(SQL_DIR.parent)), "upstream_tables": list(model.upstream_tables)},
        check_specs=[
            AssetCheckSpec(test.name, asset=model.name, description=f"{test.kind} on {', '.join(test.columns)}")
            for test in model.tests
        ],
    )
    def _model(context: AssetExecutionContext, home: TraceKDHome) -> MaterializeResult:
        store = home.store()
        rows = materialize_model(store, model)
        preview = store.rows(f'SELECT * FROM "{model.name}" LIMIT 20')
        context.log.info(f"built {model.name}: {rows} rows")
        lineage = TableColumnLineage(
            deps_by_column={
                column: [TableColumnDep(asset_key=producer(table), column_name=source) for table, source in sources]
                for column, sources in column_lineage(store, model).items()
            }
        )
        failing = run_tests(store, model)
        return MaterializeResult(
            metadata={
                "rows": rows,
                "preview": MetadataValue.md(markdown_table(preview)),
                "dagster/column_lineage": lineage,
            },
            check_results=[
                AssetCheckResult(check_name=name, passed=count == 0, metadata={"failing_rows": count})
                for name, count in failing.items()
            ],
        )

    return _model


sql_model_assets: list[AssetsDefinition] = [sql_model_asset(model) for model in discover_models(SQL_DIR)]
