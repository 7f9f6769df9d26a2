"""The reference study's numbers as a table, and the experiment report: an HTML file on disk and
a Markdown summary in the Dagster metadata, both built from the SQL models."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from tracekd_assets.assets.data import DUCKDB_POOL
from tracekd_assets.assets.students import METRICS_VERSION, STUDENT_VERSION
from tracekd_assets.resources import TraceKDHome
from tracekd_ops.reference import REFERENCE_CSV, reference_results as read_reference_results
from tracekd_ops.report import ReportData, markdown_summary, render_html
from tracekd_ops.scoring import SCORER_VERSION
from tracekd_ops.traces import TRACE_FORMAT_VERSION

REPORT_MODELS = {
    "leaderboard": "condition_comparison",
    "construction": "trace_construction",
    "contingency": "contingency_tables",
    "runs": "run_metrics",
    "categories": "per_category_accuracy",
    "deltas": "condition_deltas",
    "reference": "reference_comparison",
}
"""ReportData field -> the SQL model it is read from."""
REPORT_VERSION = "report-2"


@asset(
    pool=DUCKDB_POOL,
    group_name="reports",
    code_version="reference-1",
    description=f"The reference study's published numbers with their source ({REFERENCE_CSV.name}), as DuckDB table "
    "`reference_results`, for the report's side-by-side.",
)
def reference_results(context: AssetExecutionContext, home: TraceKDHome) -> MaterializeResult:
    rows = read_reference_results()
    home.store().replace_partition("reference_results", {}, rows)
    return MaterializeResult(metadata={"rows": len(rows), "file": MetadataValue.path(str(REFERENCE_CSV))})


@asset(
    deps=[AssetKey(model) for model in REPORT_MODELS.values()],
    pool=DUCKDB_POOL,
    group_name="reports",
    code_version=REPORT_VERSION,
    description="HTML report (one offline file: accuracy per condition with CIs, how traces were built, the three "
    "step x answer tables as heatmaps, trace vs answer accuracy of every run, per-category bars, McNemar against "
    "solution-only, the reference study side by side, lineage) and its Markdown summary, from the SQL models.",
)
def report(context: AssetExecutionContext, home: TraceKDHome) -> MaterializeResult:
    store = home.store()
    tables = {name: store.rows(f'SELECT * FROM "{model}"') for name, model in REPORT_MODELS.items()}
    if not tables["leaderboard"]:
        raise ValueError(f"{REPORT_MODELS['leaderboard']} is empty: evaluate at least one student first")
    versions = {"trace format": TRACE_FORMAT_VERSION, "student": STUDENT_VERSION, "scorer": SCORER_VERSION,
                "metrics": METRICS_VERSION, "report": REPORT_VERSION}  # fmt: skip
    data = ReportData(**tables, code_versions=versions)
    path = home.reports_dir() / "report.html"
    staged = path.with_suffix(".html.tmp")
    staged.write_text(render_html(data))
    staged.replace(path)  # atomic: a reader never sees half a report
    context.log.info(f"report written to {path}")
    revisions = sorted({r for row in tables["leaderboard"] for r in str(row["model_revisions"]).split(",")})
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(path)),
            "summary": MetadataValue.md(markdown_summary(data)),
            "rows": len(tables["leaderboard"]),
            "built_from_revisions": MetadataValue.json(revisions),
            "code_versions": MetadataValue.json(versions),
        }
    )
