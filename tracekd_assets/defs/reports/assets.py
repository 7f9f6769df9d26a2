"""The reference study's numbers as a table, and the experiment report: an HTML file on disk and
a Markdown summary in the Dagster metadata, both built from the SQL models. The SQL models and the
report follow their upstream on their own (`FOLLOW_UPSTREAM`, evaluated by the sensor
`results_follow_upstream` under `tracekd dev`): new metrics, from any job, refresh them."""

from dagster import AssetExecutionContext, AssetKey, asset

from tracekd_assets.defs.metadata import Materialized, materialized, table_metadata
from tracekd_assets.defs.pools import DUCKDB_POOL
from tracekd_assets.defs.reports.automation import FOLLOW_UPSTREAM
from tracekd_assets.defs.resources import TraceKDHome
from tracekd_ops.report.reference import REFERENCE_CSV
from tracekd_ops.report.render import REPORT_VERSION
from tracekd_ops.steps.report import REPORT_MODELS, build_report, store_reference_results


@asset(
    pool=DUCKDB_POOL,
    group_name="reports",
    kinds={"duckdb", "csv"},
    metadata=table_metadata("reference_results", "reference_ratings", "reference_contingency"),
    code_version="reference-1",
    description=f"The reference study's published numbers with their source ({REFERENCE_CSV.name}), as DuckDB table "
    "`reference_results`, for the report's side-by-side.",
)
def reference_results(context: AssetExecutionContext, home: TraceKDHome) -> Materialized:
    yield from materialized(context, store_reference_results(home.store()))


@asset(
    deps=[AssetKey(model) for model in REPORT_MODELS.values()],
    automation_condition=FOLLOW_UPSTREAM,
    pool=DUCKDB_POOL,
    group_name="reports",
    kinds={"html"},
    code_version=REPORT_VERSION,
    description="HTML report (one offline file: accuracy per condition with CIs, how traces were built, the three "
    "step x answer tables as heatmaps, trace vs answer accuracy of every run, per-category bars, McNemar against "
    "solution-only, the reference study side by side, lineage) and its Markdown summary, from the SQL models.",
)
def report(context: AssetExecutionContext, home: TraceKDHome) -> Materialized:
    yield from materialized(context, build_report(home.store(), home.reports_dir()))
