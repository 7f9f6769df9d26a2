"""The experiment report asset: HTML file on disk, Markdown summary in the Dagster metadata."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from tracekd_assets.assets.data import DUCKDB_POOL
from tracekd_assets.resources import TraceKDHome
from tracekd_ops.report import markdown_summary, render_html

COMPARISON_MODEL = "condition_comparison"
CONSTRUCTION_MODEL = "trace_construction"


@asset(
    deps=[AssetKey(COMPARISON_MODEL), AssetKey(CONSTRUCTION_MODEL)],
    pool=DUCKDB_POOL,
    group_name="reports",
    code_version="report-1",
    description="HTML report (answer and trace accuracy per condition, chance level, how each condition's traces "
    f"were built, lineage) built from the `{COMPARISON_MODEL}` and `{CONSTRUCTION_MODEL}` SQL models.",
)
def report(context: AssetExecutionContext, home: TraceKDHome) -> MaterializeResult:
    store = home.store()
    rows = store.rows(f"SELECT * FROM {COMPARISON_MODEL}")
    if not rows:
        raise ValueError(f"{COMPARISON_MODEL} is empty: evaluate at least one student first")
    construction = store.rows(f"SELECT * FROM {CONSTRUCTION_MODEL}")
    path = home.reports_dir() / "report.html"
    staged = path.with_suffix(".html.tmp")
    staged.write_text(render_html(rows, construction))
    staged.replace(path)  # atomic: a reader never sees half a report
    context.log.info(f"report written to {path}")
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(path)),
            "summary": MetadataValue.md(markdown_summary(rows, construction)),
            "conditions": len(rows),
        }
    )
