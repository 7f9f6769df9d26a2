"""The Dagster code location: every TraceKD asset, check, job, sensor, schedule and resource."""

from __future__ import annotations

from dagster import Definitions

from tracekd_assets.assets.data import raw_examples, teacher_responses, traces
from tracekd_assets.assets.report import reference_results, report
from tracekd_assets.assets.sql import sql_model_assets
from tracekd_assets.assets.students import base_model_baseline, metrics, predictions, student
from tracekd_assets.automation import new_student_revision, nightly_reevaluation, report_after_evaluation
from tracekd_assets.jobs import condition_job, evaluation_job, raw_job, report_job
from tracekd_assets.resources import ExperimentSettings, RegistrySettings, TeacherSettings, TraceKDHome

ALL_ASSETS = [
    raw_examples, teacher_responses, traces, student, predictions, metrics, base_model_baseline, *sql_model_assets,
    reference_results, report,
]  # fmt: skip

RESOURCES = {
    "home": TraceKDHome(),
    "experiment": ExperimentSettings(),
    "teacher": TeacherSettings(),
    "registry": RegistrySettings(),
}

defs = Definitions(
    assets=ALL_ASSETS,
    jobs=[raw_job, condition_job, evaluation_job, report_job],
    sensors=[new_student_revision, report_after_evaluation],
    schedules=[nightly_reevaluation],
    resources=RESOURCES,
)
