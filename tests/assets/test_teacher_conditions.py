"""Teacher conditions end to end against a real OpenAI-compatible server (`transformers serve`
on loopback, serving a tiny model trained here): ask, cache, build and validate traces, train and
evaluate students; kill a run halfway and resume it; and never let the API key out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, instance_for_test, materialize

from tests.leaks import assert_secret_absent
from tests.teacher_server import build_teacher_model
from tracekd_ops.teacher.local import serve
from tracekd_assets.definitions import ALL_ASSETS
from tracekd_assets.defs.jobs import condition_job, raw_job
from tracekd_assets.defs.partitions import run_key
from tracekd_assets.defs.resources import TeacherSettings
from tracekd_assets.demo import prepare_dagster_home
from tracekd_ops.traces.conditions import TEACHER_CONDITIONS
from tracekd_ops.datasets.synthetic import generate
from tracekd_ops.teacher.config import TeacherConfig

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-test-NEVER-SHOWN-7731"
TEACHER_SETTINGS = {"max_tokens": 96, "max_concurrency": 2, "flush_every_s": 0.0, "timeout_s": 60.0}


@pytest.fixture(scope="module")
def served_teacher(tmp_path_factory):
    """The tiny teacher, trained on the tiny experiment's synthetic training questions, served."""
    from tracekd_assets.defs.resources import ExperimentSettings

    experiment = ExperimentSettings(synthetic_train_per_task=3, synthetic_test_per_task=2)
    records = [r for r in generate(experiment.synthetic()) if r.split == "train"]
    root = tmp_path_factory.mktemp("teacher")
    model_dir = root / "model"
    # the requests TraceKD will send: same model name and sampling parameters as the resource below
    config = TeacherConfig(base_url="http://not-used.invalid/v1", model=str(model_dir), **TEACHER_SETTINGS)
    wrong = {records[1].example_id, records[5].example_id}
    model = build_teacher_model(model_dir, records, config, wrong)
    with serve(model_dir, root / "serve.log") as server:
        yield server, model, records, wrong


def settings_for(server, model) -> TeacherSettings:
    return TeacherSettings(base_url=server.base_url, model=str(model.path), **TEACHER_SETTINGS)


@pytest.fixture
def tiny_teacher_experiment(tiny_experiment):
    return tiny_experiment.with_changes(synthetic_train_per_task=3, synthetic_test_per_task=2)


def test_teacher_conditions_run_end_to_end_and_the_cache_prevents_repeat_requests(
    served_teacher, tiny_home, tiny_teacher_experiment, monkeypatch, local_registry, faults
):
    server, model, records, wrong = served_teacher
    monkeypatch.setenv("TRACEKD_TEACHER_API_KEY", SECRET)
    teacher = settings_for(server, model)
    resources = {"home": tiny_home, "experiment": tiny_teacher_experiment, "teacher": teacher, "registry": local_registry}
    served_before = server.requests_served()
    with instance_for_test() as instance:
        raw = materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="synthetic", instance=instance, resources=resources)
        assert raw.success
        assert server.requests_served() - served_before == model.requests  # 9 answers + 7 summaries + 7 explanations
        meta = next(e for e in raw.get_asset_materialization_events() if e.asset_key == AssetKey("teacher_responses"))
        metadata = meta.materialization.metadata
        assert metadata["answers_correct"].value == len(records) - len(wrong)
        assert metadata["kept_rate"].value == pytest.approx(7 / 9)

        for condition in sorted(TEACHER_CONDITIONS):
            result = materialize(ALL_ASSETS, selection=condition_job.selection, partition_key=str(run_key("synthetic", condition)),
                                 instance=instance, resources=resources)  # fmt: skip
            assert result.success, condition
            checks = result.get_asset_check_evaluations()
            assert [(c.check_name, c.passed) for c in checks] == [("great_expectations_suite", True)]

        store = tiny_home.store()
        kept = store.rows("SELECT condition, count(*) AS n FROM traces GROUP BY condition ORDER BY condition")
        assert kept == [{"condition": c, "n": 7} for c in sorted(TEACHER_CONDITIONS)]
        teacher_rows = store.rows("SELECT example_id, completion FROM traces WHERE condition = 'teacher'")
        assert not {r["example_id"] for r in teacher_rows} & wrong  # wrong teacher answers never become traces
        for row in teacher_rows:
            assert row["completion"].startswith(f"<think>{model.reasoning[row['example_id']]}</think><answer>")
        summaries = store.rows("SELECT completion FROM traces WHERE condition = 'teacher_summary'")
        assert all(r["completion"].startswith("<think>Summary: facts [") for r in summaries)
        sets = {r["condition"]: r for r in store.rows("SELECT * FROM trace_sets")}
        assert json.loads(sets["teacher"]["teacher"])["kept_rate"] == pytest.approx(7 / 9)
        assert json.loads(sets["posthoc"]["teacher"])["answers_correct"] == 7
        assert store.rows("SELECT count(*) AS n FROM metrics") == [{"n": 3}]

        # materializing again asks nothing: every reply comes from the DuckDB cache
        served = server.requests_served()
        assert materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="synthetic", instance=instance, resources=resources).success
        assert server.requests_served() == served

        # the key was sent (the server needs it) but is nowhere TraceKD writes
        assert_secret_absent(SECRET, instance, tiny_home.root)
    faults.held("secret")


def test_a_killed_teacher_run_resumes_where_it_stopped(served_teacher, tmp_path, tiny_home, tiny_teacher_experiment, no_teacher, local_registry, faults):
    server, model, _, _ = served_teacher
    with instance_for_test() as instance:
        assert materialize(ALL_ASSETS, selection=[AssetKey("raw_examples")], partition_key="synthetic", instance=instance,
                           resources={"home": tiny_home, "experiment": tiny_teacher_experiment, "teacher": no_teacher, "registry": local_registry}).success  # fmt: skip
    dagster_home = prepare_dagster_home(tmp_path / "dagster")
    run_config = tmp_path / "run.yaml"
    run_config.write_text(json.dumps({"resources": {"teacher": {"config": {
        "base_url": server.base_url, "model": str(model.path), **TEACHER_SETTINGS, "max_concurrency": 1}}}}))  # fmt: skip
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "TRACEKD_HOME": str(tiny_home.root), "TRACEKD_TEACHER_API_KEY": SECRET}
    command = [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m", "tracekd_assets.definitions",
               "--select", "teacher_responses", "--partition", "synthetic", "-c", str(run_config)]  # fmt: skip
    store = tiny_home.store()

    def cached_ok() -> int:
        return store.rows("SELECT count(*) AS n FROM teacher_requests WHERE status = 'ok'")[0]["n"]

    first_log = tmp_path / "first.log"
    served_before = server.requests_served()
    with first_log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while server.requests_served() - served_before < 3:  # kill it a few replies in
        assert process.poll() is None, first_log.read_text()[-3000:]
        assert time.monotonic() < deadline, first_log.read_text()[-3000:]
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    time.sleep(0.5)
    kept = cached_ok()
    assert 0 < kept < model.requests, kept  # some replies were saved before the kill, not all

    served_at_resume = server.requests_served()
    second_log = tmp_path / "second.log"
    with second_log.open("w") as out:
        resumed = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=300)
    assert resumed.returncode == 0, second_log.read_text()[-3000:]
    assert server.requests_served() - served_at_resume == model.requests - kept  # only what was missing
    assert cached_ok() == model.requests
    assert "requests cached; asking" in second_log.read_text()  # the run says how much came from the cache
    assert SECRET not in first_log.read_text() + second_log.read_text()
    faults.held("kill")


def test_without_a_teacher_the_teacher_conditions_are_skipped_with_a_message(tiny_home, tiny_teacher_experiment, no_teacher, local_registry):
    resources = {"home": tiny_home, "experiment": tiny_teacher_experiment, "teacher": no_teacher, "registry": local_registry}
    with instance_for_test() as instance:
        raw = materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="synthetic", instance=instance, resources=resources)
        assert raw.success
        assert AssetKey("teacher_responses") not in {e.asset_key for e in raw.get_asset_materialization_events()}
        result = materialize(ALL_ASSETS, selection=condition_job.selection, partition_key=str(run_key("synthetic", "teacher")),
                             instance=instance, resources=resources)  # fmt: skip
        assert result.success
        assert result.get_asset_materialization_events() == []
        skipped = {e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_SKIPPED}
        assert skipped == {"student", "predictions", "metrics"}
        check = result.get_asset_check_evaluations()[0]
        assert not check.passed and check.severity.value == "WARN"
        messages = [r.user_message for r in instance.all_logs(result.run_id)]
        assert any("no teacher configured" in m and "TRACEKD_TEACHER_BASE_URL" in m for m in messages)
