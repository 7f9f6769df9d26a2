"""Scheduled re-evaluation: every night, the newest revision of every student, so a scorer change
reaches all results."""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from tracekd_assets.defs import jobs
from tracekd_assets.defs.partitions import run_key
from tracekd_assets.defs.resources import TraceKDHome
from tracekd_ops.registry.index import RegistryIndex


@schedule(
    job=jobs.evaluation_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Nightly: re-evaluate the newest revision of every registered student with the current scorer.",
)
def nightly_reevaluation(context: ScheduleEvaluationContext, home: TraceKDHome):
    partitions = RegistryIndex(home.store()).trained_partitions()
    if not partitions:
        return SkipReason("no registered student yet")
    stamp = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [
        RunRequest(run_key=f"nightly-{stamp}-{dataset}|{condition}", partition_key=str(run_key(dataset, condition)))
        for dataset, condition in partitions
    ]
