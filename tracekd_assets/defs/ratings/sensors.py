"""The rating section follows people's ratings: a sensor that re-analyses them when they changed,
so the report stops saying nobody has rated once somebody has (the SQL models and the report then
follow `rating_analysis` on their own, `results_follow_upstream`)."""

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from tracekd_assets.defs import jobs
from tracekd_assets.defs.resources import TraceKDHome
from tracekd_ops.ratings.storage import real_ratings_mark


@sensor(
    job=jobs.rating_analysis_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Re-analyses the ratings when people's ratings changed (the rating page, an import).",
)
def new_ratings(context: SensorEvaluationContext, home: TraceKDHome):
    """The cursor is the real ratings' count and newest submission; the first tick only records it."""
    mark = real_ratings_mark(home.store())
    seen = context.cursor
    context.update_cursor(mark)
    if seen is None:
        return SkipReason("first tick: watching people's ratings from now on")
    if seen == mark:
        return SkipReason("no new rating")
    return RunRequest(run_key=f"ratings-{mark}")
