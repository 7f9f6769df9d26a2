"""The report follows the results: rebuilt after every successful evaluation run."""

from dagster import DagsterRunStatus, DefaultSensorStatus, RunRequest, run_status_sensor

from tracekd_assets.defs import jobs


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[jobs.evaluation_job],
    request_job=jobs.report_job,
    default_status=DefaultSensorStatus.RUNNING,
    description="Rebuilds the SQL models and the report after every successful evaluation run, so the report "
    "always names the revisions and scorer it was built from.",
)
def report_after_evaluation(context):
    return RunRequest(run_key=f"report-after-{context.dagster_run.run_id}")
