"""Re-evaluation: a sensor that evaluates each newly registered student revision, a nightly
schedule that re-evaluates the latest revision of every student (so a scorer change reaches all
results), and a run-status sensor that rebuilds the SQL models and the report after either."""

from datetime import datetime

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    DagsterRunStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    run_status_sensor,
    schedule,
    sensor,
)

from tracekd_assets.assets.students import REVISION_TAG
from tracekd_assets.jobs import evaluation_job, report_job
from tracekd_assets.partitions import run_key
from tracekd_assets.resources import TraceKDHome


@sensor(
    job=evaluation_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests evaluation of exactly each student revision registered since the last tick.",
)
def new_student_revision(context: SensorEvaluationContext, home: TraceKDHome):
    """The cursor is the newest `registered_at` seen. On its first tick the sensor only sets the
    cursor: students registered before it existed were evaluated by the runs that trained them."""
    store = home.store()
    newest = store.rows("SELECT max(registered_at) AS t FROM registry WHERE status = 'registered'")[0]["t"]
    if context.cursor is None:
        context.update_cursor(newest.isoformat() if newest else datetime.min.isoformat())
        return SkipReason("first tick: watching for revisions registered from now on")
    rows = store.rows(
        """SELECT revision, dataset, condition, model_name, registered_at FROM registry
           WHERE status = 'registered' AND registered_at > ? ORDER BY registered_at""",
        [datetime.fromisoformat(context.cursor)],
    )
    if not rows:
        return SkipReason("no new student revision")
    context.update_cursor(rows[-1]["registered_at"].isoformat())
    return [
        RunRequest(
            run_key=f"evaluate-{row['revision']}",
            partition_key=str(run_key(row["dataset"], row["condition"])),
            tags={REVISION_TAG: row["revision"], "tracekd/model_name": row["model_name"]},
        )
        for row in rows
    ]


@schedule(
    job=evaluation_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Nightly: re-evaluate the newest revision of every registered student with the current scorer.",
)
def nightly_reevaluation(context: ScheduleEvaluationContext, home: TraceKDHome):
    partitions = home.store().rows(
        "SELECT DISTINCT dataset, condition FROM registry WHERE status = 'registered' ORDER BY ALL"
    )
    if not partitions:
        return SkipReason("no registered student yet")
    stamp = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [
        RunRequest(run_key=f"nightly-{stamp}-{p['dataset']}|{p['condition']}", partition_key=str(run_key(p["dataset"], p["condition"])))
        for p in partitions
    ]


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[evaluation_job],
    request_job=report_job,
    default_status=DefaultSensorStatus.RUNNING,
    description="Rebuilds the SQL models and the report after every successful evaluation run, so the report "
    "always names the revisions and scorer it was built from.",
)
def report_after_evaluation(context):
    return RunRequest(run_key=f"report-after-{context.dagster_run.run_id}")
