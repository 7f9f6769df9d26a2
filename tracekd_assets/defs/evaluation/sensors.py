"""Re-evaluation on arrival: a sensor that evaluates each newly registered student revision, and
one that observes a dataset's answer rule when its version changed. Neither starts a run on a UI's
first start: automation runs when something changed, not on every start."""

import json
from datetime import datetime

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from tracekd_assets.defs.evaluation.assets import REVISION_TAG
from tracekd_assets.defs import jobs
from tracekd_assets.defs.partitions import run_key
from tracekd_assets.defs.resources import TraceKDHome
from tracekd_ops.datasets import dataset_names, dataset_spec
from tracekd_ops.registry.index import RegistryIndex


@sensor(
    job=jobs.evaluation_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests evaluation of exactly each student revision registered since the last tick.",
)
def new_student_revision(context: SensorEvaluationContext, home: TraceKDHome):
    """The cursor is the newest `registered_at` seen. On its first tick the sensor only sets the
    cursor: students registered before it existed were evaluated by the runs that trained them;
    so were those registered since that already have metrics (a demo run while the UI was off)."""
    index = RegistryIndex(home.store())
    if context.cursor is None:
        newest = index.latest_registration()
        context.update_cursor(newest.isoformat() if newest else datetime.min.isoformat())
        return SkipReason("first tick: watching for revisions registered from now on")
    entries = index.registered_since(datetime.fromisoformat(context.cursor))
    if not entries:
        return SkipReason("no new student revision")
    context.update_cursor(max(e.registered_at for e in entries if e.registered_at).isoformat())
    evaluated = index.evaluated([e.revision for e in entries])
    entries = [e for e in entries if e.revision not in evaluated]
    if not entries:  # a UI started after a run that trained and evaluated them has nothing to do
        return SkipReason(f"{len(evaluated)} new revisions, each evaluated already by the run that trained it")
    return [
        RunRequest(
            run_key=f"evaluate-{entry.revision}",
            partition_key=str(run_key(entry.lineage.dataset, entry.lineage.condition)),
            tags={REVISION_TAG: entry.revision, "tracekd/model_name": entry.model_name},
        )
        for entry in entries
    ]


@sensor(
    job=jobs.answer_rules_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Observes a dataset's answer rule when its version differs from the one seen last, which marks exactly "
    "that dataset's predictions and metrics stale.",
)
def answer_rule_changed(context: SensorEvaluationContext):
    """The cursor is every dataset's rule version seen last; the first tick only records them (what
    was evaluated before was evaluated under the rules of its own run)."""
    current = {name: dataset_spec(name).scorer_version for name in dataset_names()}
    seen = json.loads(context.cursor) if context.cursor else None
    context.update_cursor(json.dumps(current, sort_keys=True))
    if seen is None:
        return SkipReason("first tick: watching the answer rules' versions from now on")
    changed = sorted(name for name, version in current.items() if seen.get(name) != version)
    if not changed:
        return SkipReason("no answer rule changed")
    return [RunRequest(run_key=f"answer-rule-{name}-{current[name]}", partition_key=name) for name in changed]
