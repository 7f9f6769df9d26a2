"""DuckDB writers are serialized across concurrent runs by the `duckdb` pool (limit 1).

Two `dagster job execute` processes run the same DuckDB-writing job at once against one
instance configured as `tracekd demo` configures it; the event log must show their pooled
steps one after the other, never overlapping.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance

from tracekd_assets.demo import prepare_dagster_home

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


def test_pooled_steps_of_concurrent_runs_never_overlap(tmp_path):
    dagster_home = prepare_dagster_home(tmp_path / "dagster")
    DagsterInstance.from_config(str(dagster_home)).dispose()  # create its storage once, before the runs race
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
        intervals = step_intervals(instance, "raw_examples")  # the job's pooled step (teacher_responses is not pooled)
        assert len(intervals) == 3
        for (_, end), (next_start, _) in zip(intervals, intervals[1:]):
            assert end <= next_start, f"two DuckDB-writing steps ran at the same time: {intervals}"
        assert instance.event_log_storage.get_concurrency_info("duckdb").slot_count == 1
