"""Steps of the reporting end: the reference study's numbers as a table, each SQL model rebuilt
with its tests run, and the report written from the SQL models."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Sequence

from tracekd_ops.core.metadata import Markdown
from tracekd_ops.datasets import dataset_spec, scorer_versions
from tracekd_ops.datasets.synthetic import GENERATOR_VERSION
from tracekd_ops.datasets.tables import read_records
from tracekd_ops.evaluate.metrics import EVAL_SPLIT, METRICS_VERSION, category_baselines
from tracekd_ops.report.reference import (
    REFERENCE_CONTINGENCY_CSV,
    REFERENCE_CSV,
    REFERENCE_RATINGS_CSV,
    reference_contingency,
    reference_ratings,
    reference_results,
)
from tracekd_ops.registry.index import RegistryIndex
from tracekd_ops.report.cells import terminal_table
from tracekd_ops.report.findings import reading
from tracekd_ops.report.render import REPORT_VERSION, ReportData, figures_markdown, key_figures, markdown_summary, markdown_table, render_html
from tracekd_ops.report.sql_models import SqlModel, column_lineage, materialize_model, model_columns, read_model, run_tests
from tracekd_ops.steps.outcome import Check, StepOutcome
from tracekd_ops.store.store import Store
from tracekd_ops.teacher.requests import PROMPT_VERSION
from tracekd_ops.train.trainer import TRAINER_VERSION
from tracekd_ops.traces.conditions import CONDITIONS, condition
from tracekd_ops.traces.render import TRACE_FORMAT_VERSION

REPORT_MODELS = {
    "leaderboard": "condition_comparison",
    "construction": "trace_construction",
    "contingency": "contingency_tables",
    "runs": "run_metrics",
    "categories": "per_category_accuracy",
    "deltas": "condition_deltas",
    "reference": "reference_comparison",
    "ratings": "rating_comparison",
    "rating_tests": "rating_statistics",
    "rating_panels": "rating_panels",
    "published": "published_comparison",
    "rescoring": "published_rescoring",
    "published_examples": "published_examples",
}
"""ReportData field -> the SQL model it is read from."""


def scorer_code_version() -> str:
    """The evaluation assets' code version: every dataset's answer-rule version."""
    return ";".join(f"{name}={version}" for name, version in sorted(scorer_versions().items()))


def code_versions() -> dict[str, str]:
    """The version of each piece of logic a result depends on, as the report names them."""
    return {"generator": GENERATOR_VERSION, "trace format": TRACE_FORMAT_VERSION, "teacher prompts": PROMPT_VERSION,
            "student": TRAINER_VERSION, "scorers": scorer_code_version(), "metrics": METRICS_VERSION,
            "report": REPORT_VERSION}  # fmt: skip


def store_reference_results(store: Store) -> StepOutcome:
    """The published accuracies, mean ratings and 2x2 counts, replaced together (one transaction)."""
    results, ratings, tables = reference_results(), reference_ratings(), reference_contingency()
    store.replace_partitions([("reference_results", {}, results), ("reference_ratings", {}, ratings), ("reference_contingency", {}, tables)])
    metadata = {"rows": len(results), "file": REFERENCE_CSV, "rating_rows": len(ratings), "ratings_file": REFERENCE_RATINGS_CSV,
                "contingency_rows": len(tables), "contingency_file": REFERENCE_CONTINGENCY_CSV}  # fmt: skip
    return StepOutcome(metadata=metadata, tables=("reference_results", "reference_ratings", "reference_contingency"))


def build_sql_model(store: Store, model: SqlModel) -> StepOutcome:
    """Rebuild the model's table and run its tests (each a check: its failing rows, 0 when it
    passes); its column lineage and columns come from the built table."""
    rows = materialize_model(store, model)
    preview = read_model(store, model.name, limit=20)
    checks = tuple(Check(name, count == 0, "error", {"failing_rows": count}) for name, count in run_tests(store, model).items())
    lineage = {column: tuple(sources) for column, sources in column_lineage(store, model).items()}
    return StepOutcome(metadata={"rows": rows, "preview": Markdown(markdown_table(preview))}, tables=(model.name,), rows=rows,
                       messages=(("info", f"built {model.name}: {rows} rows"),), checks=checks, lineage=lineage,
                       columns=tuple(model_columns(store, model)))  # fmt: skip


def category_baselines_of(store: Store, categories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chance and majority per category of every dataset with evaluated students."""
    rows = []
    for dataset in sorted({r["dataset"] for r in categories}):
        train, test = read_records(store, dataset, "train"), read_records(store, dataset, EVAL_SPLIT)
        rows += [{"dataset": dataset, **row} for row in category_baselines(dataset_spec(dataset), train, test)]
    return rows


def run_summary(store: Store, datasets: Sequence[str], width: int | None = None) -> list[str]:
    """What `tracekd demo` and `tracekd run` print once their runs are done, from the SQL models
    the report was built from: the conditions compared on `datasets` (a terminal `width` wide), the
    result in one line, and a warning for each student its wall-time budget cut short (its accuracy
    says more about the machine than about its condition). Empty when no student was evaluated."""
    chosen = {name: [row for row in read_model(store, REPORT_MODELS[name]) if row["dataset"] in datasets]
              for name in ("leaderboard", "construction", "deltas")}  # fmt: skip
    if not chosen["leaderboard"]:
        return []
    data = ReportData(chosen["leaderboard"], chosen["construction"], code_versions=code_versions())
    lines = [markdown_summary(data, table=functools.partial(terminal_table, width=width)), "",
             f"reading:     {reading(chosen['leaderboard'], chosen['deltas'], construction=chosen['construction'])}"]  # fmt: skip
    for entry in RegistryIndex(store).cut_short(list(datasets)):
        lineage, planned = entry.lineage, entry.hyperparameters.get("max_steps")
        lines.append(f"warning:     {lineage.dataset}/{lineage.condition} {lineage.student} seed {lineage.seed} was stopped by its wall-time "
                     f"budget ({entry.hyperparameters.get('max_seconds')} s) at step {entry.train_summary.get('steps')} of {planned}: "
                     f"its accuracy is not comparable with the others'; re-run on a less busy machine, or raise --max-seconds "
                     f"(training.max_seconds in the launchpad)")  # fmt: skip
    return lines


def build_report(store: Store, reports_dir: Path) -> StepOutcome:
    """Write the HTML report (atomically: a reader never sees half of it)."""
    tables = {name: read_model(store, model) for name, model in REPORT_MODELS.items()}
    if not tables["leaderboard"]:
        raise ValueError(f"{REPORT_MODELS['leaderboard']} is empty: evaluate at least one student first")
    versions = code_versions()
    meanings = {name: condition(name).meaning for name in CONDITIONS}
    data = ReportData(**tables, baselines=category_baselines_of(store, tables["categories"]), code_versions=versions,
                      condition_meanings=meanings)  # fmt: skip
    path = reports_dir / "report.html"
    staged = path.with_suffix(".html.tmp")
    drawn = key_figures(data)  # on the page and on the asset's page, drawn once
    staged.write_text(render_html(data, drawn=drawn))
    staged.replace(path)
    revisions = sorted({r for row in tables["leaderboard"] for r in str(row["model_revisions"]).split(",")})
    metadata = {
        "path": path,
        "summary": Markdown(markdown_summary(data)),
        "figures": Markdown(figures_markdown(data, drawn)),
        "rows": len(tables["leaderboard"]),
        "built_from_revisions": revisions,
        "code_versions": versions,
    }
    return StepOutcome(metadata=metadata, messages=(("info", f"report written to {path}"),))
