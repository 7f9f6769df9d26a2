"""The Dagster code location: every TraceKD asset, check, job and resource."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from tracekd_assets.assets.data import raw_examples, teacher_responses, traces
from tracekd_assets.assets.report import report
from tracekd_assets.assets.sql import sql_model_assets
from tracekd_assets.assets.students import metrics, predictions, student
from tracekd_assets.resources import ExperimentSettings, RegistrySettings, TeacherSettings, TraceKDHome

ALL_ASSETS = [raw_examples, teacher_responses, traces, student, predictions, metrics, *sql_model_assets, report]

raw_job = define_asset_job(
    "raw_examples_job",
    selection=AssetSelection.assets(raw_examples, teacher_responses),
    description="Load (or generate) one dataset's canonical records, and ask the teacher about them when one is configured.",
)
condition_job = define_asset_job(
    "condition_job",
    selection=AssetSelection.assets(traces, student, predictions, metrics),
    description="Traces -> student -> predictions -> metrics for one dataset x trace condition.",
)
report_job = define_asset_job(
    "report_job",
    selection=AssetSelection.groups("sql_models") | AssetSelection.assets(report),
    description="Rebuild the SQL models and the report from whatever metrics are stored.",
)

RESOURCES = {
    "home": TraceKDHome(),
    "experiment": ExperimentSettings(),
    "teacher": TeacherSettings(),
    "registry": RegistrySettings(),
}

defs = Definitions(assets=ALL_ASSETS, jobs=[raw_job, condition_job, report_job], resources=RESOURCES)
