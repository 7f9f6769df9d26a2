"""The whole graph, materialized for real (Dagster, DuckDB, GX, TRL) on a tiny budget."""

from __future__ import annotations

from dagster import instance_for_test

from tracekd_assets.runner import materialize_everything
from tracekd_ops.conditions import CONDITIONS
from tracekd_ops.store import LINEAGE_COLUMNS

LINEAGE_KEYS = [c.split()[0] for c in LINEAGE_COLUMNS.replace("\n", " ").split(",") if c.strip()]


def test_whole_graph_materializes_and_rematerializing_leaves_no_duplicates(tmp_path, tiny_home, tiny_experiment):
    with instance_for_test() as instance:
        first = materialize_everything(instance, tiny_home, tiny_experiment, workers=2)
        assert first.failed == [], first.failed
        store = tiny_home.store()
        counts = {t: store.rows(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("raw_examples", "traces", "predictions", "metrics")}
        # raw: 3 tasks x (40 train + 8 test); traces: train rows per condition; predictions: test rows per condition
        assert counts == {"raw_examples": 144, "traces": 120 * len(CONDITIONS), "predictions": 24 * len(CONDITIONS), "metrics": len(CONDITIONS)}

        second = materialize_everything(instance, tiny_home, tiny_experiment)
        assert second.failed == []
        again = {t: store.rows(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in counts}
        assert again == counts
        # students are never overwritten: each training run is a new registry revision
        revisions = store.rows("SELECT condition, count(DISTINCT revision) AS n FROM registry GROUP BY condition")
        assert {r["condition"]: r["n"] for r in revisions} == {c: 2 for c in CONDITIONS}

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
        assert len(store.rows("SELECT * FROM condition_comparison")) == len(CONDITIONS)
