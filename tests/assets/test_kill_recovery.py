"""A killed run blocks nothing: `dagster asset materialize` SIGKILLed while its pooled step holds
the DuckDB write lock leaves no orphan step, no half-written partition, and no claimed `duckdb`
pool slot; the next materialization of the same partition frees what it left and succeeds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus

from tracekd_assets.defs.recovery import free_dead_runs, process_alive
from tracekd_assets.demo import prepare_dagster_home
from tracekd_ops.steps.catalog import CATALOG
from tracekd_ops.store.store import Store

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).parent / "dagster")


def exclusive_holders(lock: Path) -> set[int]:
    """PIDs holding a write (exclusive) flock on `lock`."""
    if not lock.exists():
        return set()
    inode = str(lock.stat().st_ino)
    pids = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[3] == "WRITE" and fields[5].rsplit(":", 1)[-1] == inode:
            pids.add(int(fields[4]))
    return pids


def descendants(pid: int) -> set[int]:
    children = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                children |= {int(entry.name)} | descendants(int(entry.name))
    return children


def test_a_run_killed_holding_the_write_lock_is_recovered_by_the_next_materialization(tmp_path, faults):
    home = tmp_path / "home"
    dagster_home = prepare_dagster_home(tmp_path / "dagster")
    store = Store(home / "tracekd.duckdb", tables=CATALOG)
    config = tmp_path / "run.yaml"
    settings = {"synthetic_train_per_task": 12000, "synthetic_test_per_task": 20}
    config.write_text(json.dumps({"resources": {"experiment": {"config": settings}, "home": {"config": {"home": str(home)}}}}))
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    command = [DAGSTER, "asset", "materialize", "-m", "tracekd_assets.definitions", "--select", "raw_examples",
               "--partition", "synthetic", "-c", str(config)]  # fmt: skip

    # a first complete materialization: the rows a kill must not lose
    first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    before = store.rows("SELECT count(*) AS n FROM raw_examples")[0]["n"]
    assert before == 3 * 12000 + 3 * 20

    log = (tmp_path / "killed.log").open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    lock = home / "tracekd.duckdb.lock"
    deadline = time.monotonic() + 300
    writer: set[int] = set()
    while not writer:  # the worst moment: a step of this run holds the exclusive DuckDB lock
        assert process.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the step never took the write lock"
        writer = exclusive_holders(lock) & descendants(process.pid)
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)  # the parent only: its step process must not outlive it
    process.wait()
    step = writer.pop()
    for _ in range(200):
        if not process_alive(step, time.time() - 600):
            break
        time.sleep(0.05)
    assert not process_alive(step, time.time() - 600), "the step process outlived the killed run"
    assert store.rows("SELECT count(*) AS n FROM raw_examples")[0]["n"] == before  # the old rows, whole

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        killed = [r for r in instance.get_runs() if r.status == DagsterRunStatus.STARTED]
        assert len(killed) == 1 and instance.event_log_storage.get_concurrency_run_ids() == {killed[0].run_id}

    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = again.stdout + again.stderr
    assert again.returncode == 0, output[-3000:]
    assert f"run {killed[0].run_id}" in output and "freed its pool slots" in output
    assert store.rows("SELECT count(*) AS n FROM raw_examples")[0]["n"] == before
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert instance.get_run_by_id(killed[0].run_id).status == DagsterRunStatus.FAILURE
        assert instance.event_log_storage.get_concurrency_run_ids() == set()
        assert free_dead_runs(instance) == []  # nothing left to recover
    faults.held("kill")


def test_dagsters_local_launcher_still_cannot_see_a_killed_run_worker(tmp_path):
    """Why recovery.py is TraceKD's own on the local profile: Dagster's run monitoring fails a run
    whose worker died only through the run launcher's health check, which the local launcher lacks
    (the Kubernetes one has it, so the cluster profile leaves this to Dagster). The instance TraceKD
    makes has run monitoring on; when this fails, Dagster's local launcher checks its workers: mark
    killed runs failed through run monitoring and retire recovery.py's detection."""
    from dagster_k8s import K8sRunLauncher

    home = prepare_dagster_home(tmp_path / "dagster")
    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.run_monitoring_enabled and instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 60
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
        assert not instance.run_launcher.supports_check_run_worker_health
    assert K8sRunLauncher.supports_check_run_worker_health.fget(None)  # type: ignore[attr-defined]
