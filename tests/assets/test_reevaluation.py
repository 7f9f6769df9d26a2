"""Re-evaluation: the new-revision sensor asks for exactly the new student, the evaluation run
uses that revision, and the nightly schedule covers every registered student."""

from __future__ import annotations

from datetime import datetime, timezone

from dagster import (
    AssetKey, AssetSelection, SkipReason, build_schedule_context, build_sensor_context, evaluate_automation_conditions,
    instance_for_test, materialize,
)  # fmt: skip

from tracekd_assets.defs.evaluation.assets import REVISION_TAG
from tracekd_assets.defs.evaluation.schedules import nightly_reevaluation
from tracekd_assets.defs.evaluation.sensors import new_student_revision
from tracekd_assets.definitions import ALL_ASSETS, defs
from tracekd_assets.defs.jobs import condition_job, evaluation_job, raw_job, report_job
from tracekd_assets.defs.partitions import run_key


def test_a_new_revision_is_evaluated_exactly_and_the_schedule_covers_every_student(tiny_home, tiny_experiment, no_teacher, local_registry):
    resources = {"home": tiny_home, "experiment": tiny_experiment, "teacher": no_teacher, "registry": local_registry}
    correct = str(run_key("synthetic", "correct"))
    store = tiny_home.store()
    with instance_for_test() as instance:
        assert materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="synthetic", instance=instance, resources=resources).success
        assert materialize(ALL_ASSETS, selection=condition_job.selection, partition_key=correct, instance=instance, resources=resources).success
        first = store.rows("SELECT revision FROM registry")[0]["revision"]

        context = build_sensor_context(instance=instance, resources={"home": tiny_home})
        assert isinstance(new_student_revision(context), SkipReason)  # first tick: only sets the cursor
        cursor = context.cursor
        assert isinstance(new_student_revision(build_sensor_context(instance=instance, cursor=cursor, resources={"home": tiny_home})), SkipReason)

        # a new training run of the same student: a new revision for the sensor to find
        assert materialize(ALL_ASSETS, selection=[AssetKey("student")], partition_key=correct, instance=instance, resources=resources).success
        second = store.rows("SELECT revision FROM registry WHERE revision != ?", [first])[0]["revision"]
        context = build_sensor_context(instance=instance, cursor=cursor, resources={"home": tiny_home})
        requests = new_student_revision(context)
        assert [(r.partition_key, r.tags[REVISION_TAG]) for r in requests] == [(correct, second)]

        request = requests[0]
        evaluated = materialize(ALL_ASSETS, selection=evaluation_job.selection, partition_key=request.partition_key,
                                tags=request.tags, instance=instance, resources=resources)  # fmt: skip
        assert evaluated.success
        assert store.rows("SELECT DISTINCT model_revision FROM predictions") == [{"model_revision": second}]
        assert store.rows("SELECT model_revision FROM metrics") == [{"model_revision": second}]
        assert isinstance(new_student_revision(context), SkipReason)  # the cursor moved past it

        # a revision trained and evaluated by its own run (a demo while the UI was off) is not evaluated again
        assert materialize(ALL_ASSETS, selection=condition_job.selection, partition_key=correct, instance=instance, resources=resources).success
        skipped = new_student_revision(context)
        assert isinstance(skipped, SkipReason) and "1 new revisions, each evaluated already" in skipped.skip_message, skipped

        # and the SQL models and the report follow the new metrics on their own (declarative automation)
        built = materialize(ALL_ASSETS, selection=report_job.selection, instance=instance, resources=resources)
        assert built.success
        follow = AssetSelection.groups("sql_models") | AssetSelection.assets("report")
        first_tick = evaluate_automation_conditions(defs, instance, asset_selection=follow)
        assert first_tick.total_requested == 0  # up to date
        again = materialize(ALL_ASSETS, selection=evaluation_job.selection, partition_key=request.partition_key,
                            tags=request.tags, instance=instance, resources=resources)  # fmt: skip
        assert again.success
        requested = evaluate_automation_conditions(defs, instance, asset_selection=follow, cursor=first_tick.cursor)
        assert all(requested.get_num_requested(AssetKey(model)) == 1 for model in ("condition_comparison", "run_metrics"))

        when = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)
        nightly = nightly_reevaluation(build_schedule_context(instance=instance, scheduled_execution_time=when, resources={"home": tiny_home}))
        assert [(r.partition_key, r.tags.get(REVISION_TAG)) for r in nightly] == [(correct, None)]  # newest of every student

    assert defs.get_sensor_def("results_follow_upstream") is not None


def test_an_answer_rule_is_observed_only_when_its_version_changed():
    import json

    from tracekd_assets.defs.evaluation.sensors import answer_rule_changed

    with instance_for_test() as instance:
        context = build_sensor_context(instance=instance)
        assert isinstance(answer_rule_changed(context), SkipReason)  # first tick: records the versions
        assert isinstance(answer_rule_changed(build_sensor_context(instance=instance, cursor=context.cursor)), SkipReason)
        earlier = {**json.loads(context.cursor), "cotempqa": "cotempqa-em-0"}  # as if the rule changed since
        requests = answer_rule_changed(build_sensor_context(instance=instance, cursor=json.dumps(earlier)))
        assert [(r.partition_key, r.run_key) for r in requests] == [("cotempqa", "answer-rule-cotempqa-cotempqa-em-1")]
        assert defs.get_job_def("answer_rules_job") is not None


def test_the_rating_analysis_follows_peoples_ratings(tiny_home):
    from datetime import datetime

    from tracekd_assets.defs.ratings.sensors import new_ratings

    store = tiny_home.store()
    with instance_for_test() as instance:
        context = build_sensor_context(instance=instance, resources={"home": tiny_home})
        assert isinstance(new_ratings(context), SkipReason)  # first tick: records the mark
        assert isinstance(new_ratings(build_sensor_context(instance=instance, cursor=context.cursor, resources={"home": tiny_home})), SkipReason)
        store.append("ratings", [{"item_set_version": "v1", "item_id": "i1", "participant_id": "p1", "panel": "real", "source": "rating page",
                                  "dataset": "synthetic", "condition": "correct", "trace_set_version": "t", "interpretability": 4,
                                  "cognitive_load": 2, "comment": None, "submitted_at": datetime(2026, 12, 5, 3, 0)}])  # fmt: skip
        request = new_ratings(build_sensor_context(instance=instance, cursor=context.cursor, resources={"home": tiny_home}))
        assert request.run_key == "ratings-1@2026-12-05T03:00:00"
        assert defs.get_job_def("rating_analysis_job") is not None
