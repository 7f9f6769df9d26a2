"""Re-evaluation on arrival: a sensor that evaluates each newly registered student revision."""

from datetime import datetime

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from tracekd_assets.defs.evaluation.assets import REVISION_TAG
from tracekd_assets.defs import jobs
from tracekd_assets.defs.partitions import run_key
from tracekd_assets.defs.resources import TraceKDHome
from tracekd_ops.registry.index import RegistryIndex


@sensor(
    job=jobs.evaluation_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests evaluation of exactly each student revision registered since the last tick.",
)
def new_student_revision(context: SensorEvaluationContext, home: TraceKDHome):
    """The cursor is the newest `registered_at` seen. On its first tick the sensor only sets the
    cursor: students registered before it existed were evaluated by the runs that trained them."""
    index = RegistryIndex(home.store())
    if context.cursor is None:
        newest = index.latest_registration()
        context.update_cursor(newest.isoformat() if newest else datetime.min.isoformat())
        return SkipReason("first tick: watching for revisions registered from now on")
    entries = index.registered_since(datetime.fromisoformat(context.cursor))
    if not entries:
        return SkipReason("no new student revision")
    context.update_cursor(max(e.registered_at for e in entries if e.registered_at).isoformat())
    return [
        RunRequest(
            run_key=f"evaluate-{entry.revision}",
            partition_key=str(run_key(entry.lineage.dataset, entry.lineage.condition)),
            tags={REVISION_TAG: entry.revision, "tracekd/model_name": entry.model_name},
        )
        for entry in entries
    ]
