"""Assets built from the SQL files in `dbt_like_sql/`: one asset per file, deps read off the SQL,
the file's tests as asset checks, and column-level lineage in the materialization metadata."""

import hashlib
from pathlib import Path

from dagster import AssetCheckSpec, AssetExecutionContext, AssetsDefinition, asset

from tracekd_assets.defs.column_lineage import producer
from tracekd_assets.defs.metadata import Materialized, materialized
from tracekd_assets.defs.pools import DUCKDB_POOL
from tracekd_assets.defs.reports.automation import FOLLOW_UPSTREAM
from tracekd_assets.defs.resources import TraceKDHome
from tracekd_ops.report.sql_models import SqlModel, discover_models
from tracekd_ops.steps.report import build_sql_model

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
    def _model(context: AssetExecutionContext, home: TraceKDHome) -> Materialized:
        yield from materialized(context, build_sql_model(home.store(), model))

    return _model


sql_model_assets: list[AssetsDefinition] = [sql_model_asset(model) for model in discover_models(SQL_DIR)]
