"""A killed run blocks nothing. Submitted to the instance as the demo submits it, a run SIGKILLed
while its step holds the DuckDB write lock is failed and its `duckdb` pool slot freed by Dagster
alone (the code server that started it, then run monitoring); run by `dagster asset materialize`,
which no daemon watches, the next materialization frees what it left. Neither leaves an orphan
step or a half-written partition. And each private piece of recovery.py has a test that fails the
day Dagster can do its work."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, DefaultRunLauncher
from dagster._core.launcher import WorkerStatus

from tracekd_assets.defs.jobs import raw_job
from tracekd_assets.defs.pools import apply_pool_limits
from tracekd_assets.defs.recovery import QUEUE_AND_MONITORING, WORKER_GONE, LocalRunLauncher, free_dead_runs, process_alive, run_processes
from tracekd_assets.demo import InstanceServices, prepare_dagster_home
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
        health = instance.run_launcher.check_run_worker_health(killed[0])  # what Dagster's run monitoring asks, under a daemon
        assert health.status == WorkerStatus.FAILED and WORKER_GONE in (health.msg or "")

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


def test_a_submitted_run_killed_holding_the_write_lock_is_failed_and_freed_by_dagster(tmp_path, faults):
    """The demo's way: the run goes to the instance's run queue and runs in a process of the code
    server. SIGKILLed while its step holds the write lock, it is failed, and its slot freed, with
    no run of TraceKD's in between (the executor's recovery runs only when a run starts)."""
    home = tmp_path / "home"
    store = Store(home / "tracekd.duckdb", tables=CATALOG)
    resources = {"home": {"home": str(home)}, "experiment": {"synthetic_train_per_task": 12000, "synthetic_test_per_task": 20}}
    with DagsterInstance.from_config(str(prepare_dagster_home(tmp_path / "dagster"))) as instance:
        apply_pool_limits(instance)
        with InstanceServices(instance, log=lambda line: None) as services:
            assert services.run(raw_job.name, "synthetic", resources)[0]
            before = store.rows("SELECT count(*) AS n FROM raw_examples")[0]["n"]
            run_id = services.submit(raw_job.name, "synthetic", resources)
            lock, deadline = home / "tracekd.duckdb.lock", time.monotonic() + 300
            writer: set[int] = set()
            while not writer:  # the worst moment: the run's step holds the exclusive DuckDB lock
                assert not instance.get_run_by_id(run_id).is_finished, "the run ended before it took the write lock"
                assert time.monotonic() < deadline, "the run never took the write lock"
                writer = exclusive_holders(lock) & set(run_processes(instance, run_id))
                time.sleep(0.005)
            os.kill(writer.pop(), signal.SIGKILL)
            deadline = time.monotonic() + 120
            while instance.get_run_by_id(run_id).status != DagsterRunStatus.FAILURE or instance.event_log_storage.get_concurrency_run_ids():
                assert time.monotonic() < deadline, (instance.get_run_by_id(run_id).status, instance.event_log_storage.get_concurrency_run_ids())
                time.sleep(0.5)
            # Dagster failed it: the code server that started the run saw its process die, or (first
            # on a loaded machine, seen in CI) run monitoring, through the launcher's health check
            assert services.worker_killed(run_id), [entry.message for entry in instance.all_logs(run_id)][-5:]
            assert store.rows("SELECT count(*) AS n FROM raw_examples")[0]["n"] == before  # the old rows, whole
            assert services.run(raw_job.name, "synthetic", resources)[0]
            assert store.rows("SELECT count(*) AS n FROM raw_examples")[0]["n"] == before
        assert free_dead_runs(instance) == []  # nothing left to recover
    faults.held("kill")


def test_dagsters_local_launcher_still_cannot_see_a_killed_run_worker(tmp_path):
    """Why recovery.py's `LocalRunLauncher` exists: Dagster's run monitoring fails a run whose
    launcher died with it only through the run launcher's health check, which the local launcher
    lacks (the Kubernetes one has it, so the cluster profile leaves this to Dagster). When this
    fails, Dagster's local launcher checks its workers: drop `run_launcher` from the instance file
    and `LocalRunLauncher` with it."""
    from dagster_k8s import K8sRunLauncher

    home = prepare_dagster_home(tmp_path / "dagster")
    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.run_monitoring_enabled and instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 10
        assert type(instance.run_launcher) is LocalRunLauncher and instance.run_launcher.supports_check_run_worker_health
    assert not DefaultRunLauncher().supports_check_run_worker_health
    assert K8sRunLauncher.supports_check_run_worker_health.fget(None)  # type: ignore[attr-defined]


def test_dagster_daemon_still_cannot_run_only_some_daemons(tmp_path):
    """Why recovery.py's `serve_run_queue_and_monitoring` exists: `dagster-daemon run` runs every
    daemon the instance needs, the sensors' and automation's included, and has no option to run
    fewer. When it gains one (an option not listed here), the demo can start it instead."""
    help_text = subprocess.run([str(Path(sys.executable).parent / "dagster-daemon"), "run", "--help"], capture_output=True, text=True,
                               timeout=120).stdout  # fmt: skip
    options = set(re.findall(r"(?m)^\s+(-[-\w]+)", help_text))
    known = {"--code-server-log-level", "--log-level", "--log-format", "--shutdown-pipe", "--use-ssl", "--grpc-host", "--grpc-port",
             "--grpc-socket", "--empty-workspace", "-w", "--workspace", "-d", "--working-directory", "-f", "--python-file", "-m",
             "--module-name", "--package-name", "--autoload-defs-module-name", "-a", "--attribute", "--instance-ref", "--help"}  # fmt: skip
    assert options <= known, f"dagster-daemon run has new options: {sorted(options - known)}; can it run only some daemons now?"
    with DagsterInstance.from_config(str(prepare_dagster_home(tmp_path / "dagster"))) as instance:
        required = set(instance.get_required_daemon_types())
    assert set(QUEUE_AND_MONITORING) < required and {"SENSOR", "ASSET"} <= required
