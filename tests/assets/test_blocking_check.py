"""A failing Great Expectations suite blocks that condition's student, and stores nothing."""

from dagster import AssetKey, instance_for_test, materialize

from tracekd_assets.definitions import ALL_ASSETS
from tracekd_assets.defs.jobs import condition_job, raw_job
from tracekd_assets.defs.partitions import run_key


def test_failing_suite_stops_the_student_and_keeps_stored_traces(tiny_home, tiny_experiment, no_teacher, local_registry):
    resources = {"home": tiny_home, "experiment": tiny_experiment, "teacher": no_teacher, "registry": local_registry}
    key = str(run_key("synthetic", "correct"))
    with instance_for_test() as instance:
        assert materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="synthetic",
                           instance=instance, resources=resources).success
        store = tiny_home.store()
        # Upstream data goes bad: a question whose class label the dataset does not know.
        store.execute("UPDATE raw_examples SET category = 'made-up-task' WHERE example_id = 'train-1-00000'")

        result = materialize(ALL_ASSETS, selection=condition_job.selection, partition_key=key,
                             instance=instance, resources=resources, raise_on_error=False)

        assert not result.success
        checks = result.get_asset_check_evaluations()
        assert [(c.check_name, c.passed) for c in checks] == [("great_expectations_suite", False)]
        assert "made-up-task" in str(checks[0].metadata["failures"].value)
        materialized = {e.asset_key for e in result.get_asset_materialization_events()}
        assert AssetKey("student") not in materialized and AssetKey("predictions") not in materialized
        assert store.rows("SELECT count(*) AS n FROM traces") == [{"n": 0}]
        assert store.rows("SELECT count(*) AS n FROM registry") == [{"n": 0}]
