"""Assets built from the SQL files in `dbt_like_sql/`: one asset per file, deps read off the SQL."""

import hashlib
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset

from tracekd_assets.assets.data import DUCKDB_POOL
from tracekd_assets.resources import TraceKDHome
from tracekd_ops.report import markdown_table
from tracekd_ops.sql_models import SqlModel, discover_models, materialize_model

SQL_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql"
TABLE_PRODUCERS = {"trace_sets": "traces", "registry": "student", "teacher_requests": "teacher_responses"}
"""DuckDB tables written by an asset of another name (as a side table); every other table is the
asset of its own name."""


def sql_model_asset(model: SqlModel) -> AssetsDefinition:
    """An asset that (re)builds the model's DuckDB table; each upstream table is the asset of that name."""

    @asset(
        name=model.name,
        deps=sorted({AssetKey(TABLE_PRODUCERS.get(table, table)) for table in model.upstream_tables}),
        pool=DUCKDB_POOL,
        group_name="sql_models",
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:12],
        description=model.description or f"SQL model {model.path.name}",
        metadata={"sql_file": str(model.path.relative_to(SQL_DIR.parent)), "upstream_tables": list(model.upstream_tables)},
    )
    def _model(context: AssetExecutionContext, home: TraceKDHome) -> MaterializeResult:
        rows = materialize_model(home.store(), model)
        preview = home.store().rows(f'SELECT * FROM "{model.name}" LIMIT 20')
        context.log.info(f"built {model.name}: {rows} rows")
        return MaterializeResult(
            metadata={"rows": rows, "preview": MetadataValue.md(markdown_table(preview))}
        )

    return _model


sql_model_assets: list[AssetsDefinition] = [sql_model_asset(model) for model in discover_models(SQL_DIR)]
