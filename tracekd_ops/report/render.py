"""The experiment report: one self-contained HTML file (plots inlined, opens offline) and a
Markdown summary for the Dagster metadata.

Built only from the SQL models' tables (`ReportData`), so the report shows exactly what anyone
querying DuckDB sees, and names what it was built from: datasets, conditions, trace set versions,
registry revisions, scorer and code versions.

This module only assembles: which columns a table shows is `tables.py`'s, how a cell is written
`cells.py`'s, the plots `figures.py`'s, the sentences `findings.py`'s, and the page's markup the
template `templates/report.html.j2`'s (Jinja2, autoescaped: every value is escaped there).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Sequence

import jinja2

from tracekd_ops.report import figures, published
from tracekd_ops.report.cells import Rows, markdown_table, table_of
from tracekd_ops.report.findings import headline_lines, not_comparable, panel_lines, reading, simulated_panel, unequal_trace_sets
from tracekd_ops.report.tables import (
    CONSTRUCTION_COLUMNS, DELTA_COLUMNS, RATING_COLUMNS, RATING_TEST_COLUMNS, REFERENCE_COLUMNS, SUMMARY_COLUMNS,
    TERMINAL_SUMMARY_KEYS, category_table, lineage_columns, rating_rows, with_ci,
)  # fmt: skip

# the entry point: what callers import from here (the Markdown table and the findings re-exported from their homes)
__all__ = ["REPORT_VERSION", "KeyFigures", "ReportData", "Rows", "figures_markdown", "key_figures", "headline_lines", "markdown_summary", "markdown_table", "not_comparable",
           "reading", "render_html", "unequal_trace_sets"]  # fmt: skip

REPORT_VERSION = "report-7"
"""Bump when what the report shows, or how, changes."""


@dataclass
class ReportData:
    """The SQL models' rows a report is built from (empty where a model has no rows yet)."""

    leaderboard: Rows
    construction: Rows = ()
    contingency: Rows = ()
    runs: Rows = ()
    categories: Rows = ()
    deltas: Rows = ()
    reference: Rows = ()
    baselines: Rows = ()
    """Chance and majority accuracy per dataset and category (`evaluate.metrics.category_baselines`)."""
    code_versions: dict[str, str] = field(default_factory=dict)
    ratings: Rows = ()
    """The rating study per condition beside accuracy (`rating_comparison`)."""
    rating_tests: Rows = ()
    rating_panels: Rows = ()
    """Participants per dataset and panel, and how many were left out and why (`rating_panels`)."""
    published: Rows = ()
    """Students imported from another study's published outputs (`published_comparison`)."""
    rescoring: Rows = ()
    """Their 2x2 tables under each scoring choice and the study's own (`published_rescoring`)."""
    published_examples: Rows = ()
    condition_meanings: dict[str, str] = field(default_factory=dict)
    """What each trace condition's training traces are (its record's `meaning`), for the glossary."""


def markdown_summary(data: ReportData, table: Callable[[Rows, Sequence[tuple[str, str]]], str] | None = None) -> str:
    """The report's tables in Markdown, for Dagster's metadata. With `table` (the CLI passes
    `cells.terminal_table` at the terminal's width), for a terminal: drawn by it, the leaderboard's
    main columns only and no lineage table (both are in the report)."""
    draw = table or markdown_table
    columns = SUMMARY_COLUMNS if table is None else [(k, label) for k, label in SUMMARY_COLUMNS if k in TERMINAL_SUMMARY_KEYS]
    parts = [draw(with_ci(data.leaderboard), columns)]
    if data.construction:
        parts += ["**How the training traces were built**", draw(data.construction, CONSTRUCTION_COLUMNS)]
        parts += [f"Unequal: {note}." for note in unequal_trace_sets(data.construction)]
    if data.deltas:
        parts += ["**Against solution-only on the same questions (McNemar)**", draw(data.deltas, DELTA_COLUMNS)]
    if data.reference:
        parts += ["**Reference study, side by side**", draw(data.reference, REFERENCE_COLUMNS)]
    if data.rescoring:
        parts += ["**Published students: does trace correctness predict answer correctness?**", "\n".join(published.markdown_lines(data.rescoring))]
    if table is None:
        versions = ", ".join(f"{k} `{v}`" for k, v in sorted(data.code_versions.items()))
        parts += [f"**Lineage** (code versions: {versions or '–'})", draw(data.leaderboard, lineage_columns(header=False))]
    return "\n\n".join(parts)


@functools.cache
def _template() -> jinja2.Template:
    """The page template, loaded once from the package (so an installed wheel finds it too)."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("tracekd_ops.report", "templates"), autoescape=True, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )  # fmt: skip
    return environment.get_template("report.html.j2")


@dataclass(frozen=True)
class KeyFigures:
    """The two figures that say most at a glance, drawn once for both the page and the asset's metadata."""

    accuracy: str
    """Answer and trace accuracy per condition with CIs (base64 PNG)."""
    heatmaps: str | None
    """The step x answer tables as heatmaps (base64 PNG); None without contingency rows."""


def key_figures(data: ReportData) -> KeyFigures:
    return KeyFigures(figures.accuracy_png(with_ci(data.leaderboard)), figures.heatmaps_png(data.contingency))


def render_html(data: ReportData, title: str = "TraceKD report", drawn: KeyFigures | None = None) -> str:
    """The page: every table, figure and sentence of `data`, filled into the template (`drawn`: the
    key figures if they were drawn already)."""
    rows = with_ci(data.leaderboard)
    drawn = drawn or key_figures(data)
    ratings = None
    if data.ratings:
        ratings = {
            "simulated": simulated_panel(data.ratings),
            "tradeoff": figures.tradeoff_png(data.ratings),
            "table": table_of(rating_rows(data.ratings), RATING_COLUMNS),
            "panels": panel_lines(data.rating_panels),
            "tests": table_of(data.rating_tests, RATING_TEST_COLUMNS),
        }
    return _template().render(
        title=title,
        built=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        datasets=", ".join(sorted({str(r["dataset"]) for r in rows})),
        conditions=", ".join(sorted({str(r["condition"]) for r in rows})),
        code_versions=sorted(data.code_versions.items()),
        headline=headline_lines(rows),
        accuracy=drawn.accuracy,
        summary=table_of(rows, SUMMARY_COLUMNS),
        construction=table_of(data.construction, CONSTRUCTION_COLUMNS) if data.construction else None,
        unequal=unequal_trace_sets(data.construction),
        heatmaps=drawn.heatmaps,
        scatter=figures.scatter_png(data.runs),
        category_bars=figures.category_bars_png(data.categories),
        categories=table_of(*category_table(data.categories, data.baselines)),
        deltas=table_of(data.deltas, DELTA_COLUMNS) if data.deltas else None,
        ratings=ratings,
        reference=table_of(data.reference, REFERENCE_COLUMNS) if data.reference else None,
        published_section=published.render_section(data.published, data.rescoring, data.published_examples),
        lineage=table_of(rows, lineage_columns()),
        condition_meanings=list(data.condition_meanings.items()),
    )


def figures_markdown(data: ReportData, drawn: KeyFigures | None = None) -> str:
    """The key figures as Markdown images, for the report asset's page in the Dagster UI."""
    drawn = drawn or key_figures(data)
    captioned = {"Answer and trace accuracy per condition (95% CIs; dashed: chance)": drawn.accuracy,
                 "Step x answer tables (rows: step right/wrong; columns: answer right/wrong)": drawn.heatmaps}  # fmt: skip
    return "\n\n".join(f"**{caption}**\n\n![{caption}](data:image/png;base64,{png})" for caption, png in captioned.items() if png)

