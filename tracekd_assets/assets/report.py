"""The experiment report asset: HTML file on disk, Markdown summary in the Dagster metadata."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from tracekd_assets.assets.data import DUCKDB_POOL
from tracekd_assets.resources import TraceKDHome
from tracekd_ops.report import markdown_summary, render_html

COMPARISON_MODEL = "condition_comparison"


@asset(
    deps=[AssetKey(COMPARISON_MODEL)],
    pool=DUCKDB_POOL,
    group_name="reports",
    code_version="report-1",
    description="HTML report (answer and trace accuracy per condition, chance level, lineage) built from the "
    f"`{COMPARISON_MODEL}` SQL model.",
)
def report(context: AssetExecutionContext, home: TraceKDHome) -> MaterializeResult:
    rows = home.store().rows(f"SELECT * FROM {COMPARISON_MODEL}")
    if not rows:
        raise ValueError(f"{COMPARISON_MODEL} is empty: evaluate at least one student first")
    path = home.reports_dir() / "report.html"
    staged = path.with_suffix(".html.tmp")
    staged.write_text(render_html(rows))
    staged.replace(path)  # atomic: a reader never sees half a report
    context.log.info(f"report written to {path}")
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(path)),
            "summary": MetadataValue.md(markdown_summary(rows)),
            "conditions": len(rows),
        }
    )
