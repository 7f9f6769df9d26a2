"""The whole graph, materialized for real (Dagster, DuckDB, GX, TRL) on a tiny budget."""

from __future__ import annotations

from dagster import instance_for_test

from tracekd_assets.demo import materialize_everything
from tracekd_ops.core.tables import LINEAGE_COLUMNS
from tracekd_ops.traces.conditions import CONDITIONS, TEACHER_CONDITIONS

WITHOUT_TEACHER = [c for c in CONDITIONS if c not in TEACHER_CONDITIONS]
LINEAGE_KEYS = [c.split()[0] for c in LINEAGE_COLUMNS.replace("\n", " ").split(",") if c.strip()]


def test_whole_graph_materializes_and_rematerializing_leaves_no_duplicates(tmp_path, tiny_home, tiny_experiment):
    with instance_for_test() as instance:
        first = materialize_everything(instance, tiny_home, tiny_experiment, workers=2)
        assert first.failed == [], first.failed
        assert sorted(first.skipped) == sorted(f"{c}[synthetic]" for c in TEACHER_CONDITIONS)
        store = tiny_home.store()
        tables = ("raw_examples", "traces", "trace_sets", "predictions", "metrics")
        counts = {t: store.rows(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in tables}
        # raw: 3 tasks x (40 train + 8 test); traces: train rows per condition; predictions: test rows per condition
        n = len(WITHOUT_TEACHER)
        assert counts == {"raw_examples": 144, "traces": 120 * n, "trace_sets": n, "predictions": 24 * n, "metrics": n}

        # the rating study: items of the three trace-writing conditions, rated by the simulated panel, beside accuracy
        ratings = store.rows("SELECT * FROM rating_comparison ORDER BY condition")
        assert [(r["condition"], r["panel"]) for r in ratings] == [(c, "simulated") for c in ("correct", "incorrect", "swapped")]
        assert all(1 <= r["interpretability_mean"] <= 5 and r["answer_accuracy"] is not None for r in ratings)
        assert "Simulated panel" in (tiny_home.reports_dir() / "report.html").read_text()
        rating_counts = {t: store.rows(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("rating_item_sets", "rating_items", "ratings")}
        assert rating_counts == {"rating_item_sets": 1, "rating_items": 3 * 4 + 2, "ratings": 24 * 14}

        second = materialize_everything(instance, tiny_home, tiny_experiment)
        assert second.failed == []
        again = {t: store.rows(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in counts}
        assert again == counts
        assert {t: store.rows(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in rating_counts} == rating_counts
        # students are never overwritten: each training run is a new registry revision
        revisions = store.rows("SELECT condition, count(DISTINCT revision) AS n FROM registry GROUP BY condition")
        assert {r["condition"]: r["n"] for r in revisions} == {c: 2 for c in WITHOUT_TEACHER}

        metric_rows = store.rows("SELECT * FROM metrics")
        for row in metric_rows:
            for key in LINEAGE_KEYS:
                assert row[key] not in (None, ""), (key, row)
        # the metrics name the newest revision, which is the one evaluated
        latest = store.rows(
            "SELECT condition, arg_max(revision, created_at) AS revision FROM registry GROUP BY condition"
        )
        assert {r["condition"]: r["model_revision"] for r in metric_rows} == {r["condition"]: r["revision"] for r in latest}

        report = tiny_home.reports_dir() / "report.html"
        assert report.exists() and "data:image/png;base64," in report.read_text()
        assert "How the training traces were built" in report.read_text()
        construction = {r["condition"]: r for r in store.rows("SELECT * FROM trace_construction")}
        assert sorted(construction) == sorted(WITHOUT_TEACHER)
        assert construction["incorrect"]["corrupted_rows"] == 120 and construction["correct"]["corrupted_rows"] == 0
        assert all(r["students"] == 2 and r["mean_completion_tokens"] > 0 for r in construction.values())

        # every SQL model built, and its tests (the asset checks) pass on real results
        from tests.conftest import SQL_DIR
        from tracekd_ops.report.sql_models import discover_models, run_tests

        for model in discover_models(SQL_DIR):
            assert set(run_tests(store, model).values()) <= {0}, model.name
        assert len(store.rows("SELECT * FROM condition_deltas")) == n - 1  # each condition against solution-only
        steps = store.rows("SELECT condition, count(*) AS k FROM contingency_tables GROUP BY condition ORDER BY condition")
        assert steps == [{"condition": c, "k": 3} for c in ("correct", "incorrect", "swapped")]
        assert {r["category"] for r in store.rows("SELECT category FROM per_category_accuracy")} == {
            "single-supporting-fact", "two-supporting-facts", "yes-no-questions"}  # fmt: skip
        assert len(store.rows("SELECT * FROM reference_comparison")) == 6
        from dagster import AssetKey, TableColumnDep

        event = instance.get_latest_materialization_event(AssetKey("condition_comparison"))
        lineage = event.asset_materialization.metadata["dagster/column_lineage"]
        assert lineage.value.deps_by_column["answer_accuracy"] == [TableColumnDep(AssetKey("metrics"), "answer_accuracy")]
        schema = event.asset_materialization.metadata["dagster/column_schema"].value
        assert "runs_stopped_early" in {c.name for c in schema.columns} and all(c.description for c in schema.columns)
        for asset, column, source in (("traces", "gold_class", TableColumnDep(AssetKey("raw_examples"), "category")),  # the core tables too
                                      ("metrics", "answer_accuracy", TableColumnDep(AssetKey("predictions"), "answer_correct")),
                                      ("student", "trace_set_version", TableColumnDep(AssetKey("traces"), "trace_set_version"))):  # fmt: skip
            core = instance.get_latest_materialization_event(AssetKey(asset)).asset_materialization.metadata["dagster/column_lineage"]
            assert source in core.value.deps_by_column[column], (asset, column)
        figures = instance.get_latest_materialization_event(AssetKey("report")).asset_materialization.metadata["figures"]
        assert type(figures).__name__ == "MarkdownMetadataValue" and figures.value.count("](data:image/png;base64,") == 2  # plots on the asset page
        assert all(0 <= r["answer_accuracy_ci_low"] <= r["answer_accuracy"] <= r["answer_accuracy_ci_high"] <= 1
                   for r in store.rows("SELECT * FROM metrics"))  # fmt: skip
        assert len(store.rows("SELECT * FROM condition_comparison")) == n


def test_real_babi_and_cotempqa_samples_run_end_to_end(tmp_path, tiny_home, tiny_experiment):
    from tests.conftest import SHARED_DATA

    experiment = tiny_experiment.with_changes(**{
        "sources": {"babi": str(SHARED_DATA / "babi" / "tasks_1-20_v1-2" / "en"), "cotempqa": str(SHARED_DATA / "cotempqa")},
        "per_category_limit": 3,
    })  # fmt: skip
    with instance_for_test() as instance:
        outcome = materialize_everything(instance, tiny_home, experiment, datasets=("babi", "cotempqa"))
        assert outcome.failed == [], outcome.failed
        store = tiny_home.store()
        raw = store.rows("SELECT dataset, split, count(*) AS n FROM raw_examples GROUP BY ALL ORDER BY ALL")
        # reference protocol: 11 bAbI tasks and 3 CoTempQA relations, 3 questions per split and category
        assert raw == [{"dataset": "babi", "split": "test", "n": 33}, {"dataset": "babi", "split": "train", "n": 33},
                       {"dataset": "cotempqa", "split": "test", "n": 9}, {"dataset": "cotempqa", "split": "train", "n": 9}]  # fmt: skip
        metrics = store.rows("SELECT dataset, condition, n, model_revision FROM metrics ORDER BY ALL")
        assert [(m["dataset"], m["condition"], m["n"]) for m in metrics] == [
            (d, c, n) for d, n in (("babi", 33), ("cotempqa", 9)) for c in sorted(WITHOUT_TEACHER)
        ]
        sources = store.rows("SELECT DISTINCT split_part(source, ':', 1) AS f FROM raw_examples WHERE dataset = 'cotempqa'")
        assert {s["f"] for s in sources} == {"equal.json", "mix.json", "overlap.json"}


def test_a_file_dataset_without_a_source_fails_with_a_clear_error(tiny_home, tiny_experiment, no_teacher, local_registry, monkeypatch):
    from dagster import materialize

    from tracekd_assets.definitions import ALL_ASSETS
    from tracekd_assets.defs.jobs import raw_job

    monkeypatch.delenv("TRACEKD_BABI_PATH", raising=False)
    experiment = tiny_experiment.with_changes(sources={})
    with instance_for_test() as instance:
        result = materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="babi", instance=instance,
                             resources={"home": tiny_home, "experiment": experiment, "teacher": no_teacher, "registry": local_registry}, raise_on_error=False)  # fmt: skip
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert "TRACEKD_BABI_PATH" in str(failure.step_failure_data.error)


def test_malformed_source_fails_and_leaves_the_stored_partition_as_it_was(tmp_path, tiny_home, tiny_experiment, no_teacher, local_registry, faults):
    from dagster import materialize

    from tests.conftest import SHARED_DATA
    from tracekd_assets.definitions import ALL_ASSETS
    from tracekd_assets.defs.jobs import raw_job

    good = tiny_experiment.with_changes(**{"sources": {"cotempqa": str(SHARED_DATA / "cotempqa")}, "per_category_limit": 2})
    broken = tmp_path / "equal.json"
    broken.write_text('{"index": 0, "question": "q", "facts": ["x a"], "answer": ["a"]}\n{"index": 1, "question": \n')
    with instance_for_test() as instance:
        def run(experiment):
            return materialize(ALL_ASSETS, selection=raw_job.selection, partition_key="cotempqa", instance=instance,
                               resources={"home": tiny_home, "experiment": experiment, "teacher": no_teacher, "registry": local_registry}, raise_on_error=False)  # fmt: skip

        assert run(good).success
        before = tiny_home.store().rows("SELECT example_id, split FROM raw_examples ORDER BY ALL")
        result = run(good.with_changes(sources={"cotempqa": str(broken)}))
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert "equal.json line 2 (json)" in str(failure.step_failure_data.error)
        assert tiny_home.store().rows("SELECT example_id, split FROM raw_examples ORDER BY ALL") == before
    faults.held("bad_input")


def test_msmarco_files_run_through_the_same_chain(tmp_path, tiny_home, tiny_experiment):
    import json

    folder = tmp_path / "msmarco"
    folder.mkdir()
    for split, count in (("train_v1.1.jsonl", 6), ("dev_v1.1.jsonl", 3)):
        rows = [
            {"query_id": i, "query": f"where is thing {i}", "query_type": ("LOCATION", "numeric")[i % 2],
             "answers": [f"place {i}"], "passages": [
                 {"is_selected": 1, "url": "a", "passage_text": f"Thing {i} is at place {i}."},
                 {"is_selected": 0, "url": "b", "passage_text": f"Thing {i + 1} is elsewhere."}]}
            for i in range(count)
        ]  # fmt: skip
        (folder / split).write_text("\n".join(json.dumps(r) for r in rows))
    experiment = tiny_experiment.with_changes(sources={"msmarco": str(folder)})
    with instance_for_test() as instance:
        outcome = materialize_everything(instance, tiny_home, experiment, datasets=("msmarco",))
        assert outcome.failed == [], outcome.failed
        metrics = tiny_home.store().rows("SELECT condition, n, eval_split FROM metrics ORDER BY condition")
        assert metrics == [{"condition": c, "n": 3, "eval_split": "test"} for c in sorted(WITHOUT_TEACHER)]


def test_a_worker_the_kernel_kills_is_reported_in_one_line(tiny_home, tiny_experiment, faults):
    """SIGKILL one condition chain's run process while it trains, as the kernel's OOM killer would:
    Dagster fails that run (the code server that started it sees it die), the demo says which
    chain, what each student was planned for and the memory there is, in one line, and the other
    chain runs on to the end."""
    import os
    import signal
    import threading
    import time

    from dagster import DagsterRunStatus, RunsFilter

    from tracekd_assets.defs.jobs import condition_job
    from tracekd_assets.defs.recovery import run_processes

    logged: list[str] = []
    slow = tiny_experiment.with_changes(training={"max_steps": 5000, "max_seconds": 120.0})

    with instance_for_test() as instance:
        def kill_a_worker() -> None:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                started = instance.get_runs(filters=RunsFilter(job_name=condition_job.name, statuses=[DagsterRunStatus.STARTED]))
                processes = run_processes(instance, started[0].run_id) if started else {}
                if processes:
                    time.sleep(2)  # into its chain
                    os.kill(min(processes), signal.SIGKILL)
                    return
                time.sleep(0.2)

        killer = threading.Thread(target=kill_a_worker)
        killer.start()
        outcome = materialize_everything(instance, tiny_home, slow, conditions=("solution_only", "correct"), workers=2, log=logged.append)
        killer.join()
    assert any(line.startswith("memory: condition chains 2 at once: each student's plan fits its") for line in logged)
    killed = [line for line in logged if "its worker process was killed (by the kernel's OOM killer?)" in line]
    assert len(killed) == 1 and len(outcome.failed) == 1 and "each student was planned for" in killed[0] and "GiB now available" in killed[0]
    assert len(outcome.succeeded) == 3  # raw data, the other chain, the report
    faults.held("kill")
