"""Concurrent runs that write DuckDB all succeed, queue on the `duckdb` pool, and store each
partition exactly once.

Three `dagster job execute` processes run the same DuckDB-writing job at once against one
instance configured as `tracekd demo` configures it. The pool (limit 1) makes later runs wait
("blocked by limit for pool duckdb"), but it is a scheduling aid, not the guarantee: Dagster's
SQLite storage claims a free slot with a read and then a write, not atomically, so two steps that
ask at the same instant can both get the one slot (seen in CI: two `raw_examples` steps running
at once). The guarantee is the Store's own OS file lock, exclusive per write transaction; what it
promises is checked here: every run succeeds, and the rows are one copy, not two or none.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance

from tracekd_assets.defs.pools import apply_pool_limits
from tracekd_assets.demo import prepare_dagster_home
from tracekd_ops.datasets.synthetic import TASKS
from tracekd_ops.steps.catalog import CATALOG
from tracekd_ops.store.store import Store

ROOT = Path(__file__).resolve().parents[2]


def step_intervals(instance: DagsterInstance, step_key: str) -> list[tuple[float, float]]:
    intervals = []
    for run in instance.get_runs():
        starts, ends = {}, {}
        for record in instance.all_logs(run.run_id):
            event = record.dagster_event
            if event is None or event.step_key != step_key:
                continue
            if event.event_type == DagsterEventType.STEP_START:
                starts[event.step_key] = record.timestamp
            elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                ends[event.step_key] = record.timestamp
        intervals += [(starts[k], ends[k]) for k in starts]
    return sorted(intervals)


def test_concurrent_duckdb_writers_queue_and_store_one_copy(tmp_path):
    dagster_home = prepare_dagster_home(tmp_path / "dagster")
    with DagsterInstance.from_config(str(dagster_home)) as instance:  # storage and pool limits once, before the runs race
        apply_pool_limits(instance)
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "TRACEKD_HOME": str(tmp_path / "home")}
    config = tmp_path / "small.yaml"  # a small dataset: the runs' overlap is the point, not their size
    config.write_text(json.dumps({"resources": {"experiment": {"config": {"synthetic_train_per_task": 3000, "synthetic_test_per_task": 20}}}}))
    command = [
        str(Path(sys.executable).parent / "dagster"), "job", "execute", "-m", "tracekd_assets.definitions",
        "-a", "defs", "-j", "raw_examples_job", "--tags", json.dumps({"dagster/partition": "synthetic"}), "-c", str(config),
    ]  # fmt: skip
    logs = [tmp_path / f"run{i}.log" for i in range(3)]  # files, not pipes: a full pipe would stall a step
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT) for log in logs
    ]
    for process in processes:
        process.wait(timeout=600)
    assert [p.returncode for p in processes] == [0, 0, 0], "\n".join(log.read_text()[-3000:] for log in logs)
    assert any("blocked by limit for pool duckdb" in log.read_text() for log in logs)

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert len(step_intervals(instance, "raw_examples")) == 3
        assert instance.event_log_storage.get_concurrency_info("duckdb").slot_count == 1
    rows = Store(tmp_path / "home" / "tracekd.duckdb", tables=CATALOG).rows(
        "SELECT split, count(*) AS n, count(DISTINCT example_id) AS ids FROM raw_examples WHERE dataset = 'synthetic' GROUP BY split ORDER BY split"
    )
    assert rows and all(row["n"] == row["ids"] for row in rows), rows  # no example stored twice
    assert {row["split"]: row["n"] for row in rows}["train"] == 3000 * len(TASKS)
