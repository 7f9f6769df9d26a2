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
    TableColumn,
    TableColumnDep,
    TableColumnLineage,
    TableSchema,
    asset,
)

from tracekd_assets.defs.column_lineage import producer
from tracekd_assets.defs.pools import DUCKDB_POOL
from tracekd_assets.defs.reports.automation import FOLLOW_UPSTREAM
from tracekd_assets.defs.resources import TraceKDHome
from tracekd_ops.report.sql_models import SqlModel, discover_models
from tracekd_ops.steps.report import build_sql_model, preview_markdown
from tracekd_assets.defs.metadata import as_metadata

SQL_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql"
"""The SQL models, inside the package (a link to the top-level `dbt_like_sql/` in a checkout, copies in a wheel)."""


def sql_model_asset(model: SqlModel) -> AssetsDefinition:
    """An asset that (re)builds the model's DuckDB table, then runs the model's tests as checks."""

    @asset(
        name=model.name,
        deps=sorted({producer(table) for table in model.upstream_tables}),
        pool=DUCKDB_POOL,
        group_name="sql_models",
        automation_condition=FOLLOW_UPSTREAM,
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:12],
        description=model.description or f"SQL model {model.path.name}",
        kinds={"duckdb", "sql"},
        metadata={"sql_file": str(model.path.relative_to(SQL_DIR.parent)), "upstream_tables": list(model.upstream_tables),
                  "dagster/table_name": model.name},  # fmt: skip
        check_specs=[
            AssetCheckSpec(test.name, asset=model.name, description=f"{test.kind} on {', '.join(test.columns)}")
            for test in model.tests
        ],
    )
    def _model(context: AssetExecutionContext, home: TraceKDHome) -> MaterializeResult:
        built = build_sql_model(home.store(), model)
        context.log.info(f"built {model.name}: {built.rows} rows")
        lineage = TableColumnLineage(
            deps_by_column={
                column: [TableColumnDep(asset_key=producer(table), column_name=source) for table, source in sources]
                for column, sources in built.lineage.items()
            }
        )
        return MaterializeResult(
            metadata={**as_metadata({"rows": built.rows, "preview": preview_markdown(built.preview)}), "dagster/column_lineage": lineage,
                      "dagster/row_count": built.rows,
                      "dagster/column_schema": TableSchema([TableColumn(name, type_, description=comment) for name, type_, comment in built.columns])},  # fmt: skip
            check_results=[
                AssetCheckResult(check_name=name, passed=count == 0, metadata={"failing_rows": count})
                for name, count in built.failing.items()
            ],
        )

    return _model


sql_model_assets: list[AssetsDefinition] = [sql_model_asset(model) for model in discover_models(SQL_DIR)]
