"""The private pieces of run orchestration on the local profile, each kept because Dagster 1.13
cannot do it there, each with a test that fails the day it can (tests/assets/test_kill_recovery.py).

A killed run is Dagster's to fail where Dagster can see it: a run the code server started (the
demo's, `tracekd run`'s, the UI's) is failed by that code server the moment its process dies, and
Dagster's run monitoring (on in the instance TraceKD makes, tracekd_assets/instance.yaml) frees its
pool slots. What Dagster cannot see on this profile:

- **A run whose launcher died with it** (the demo or `tracekd dev` killed, a machine restarted, a
  `dagster asset materialize` killed): run monitoring would fail it only through the run launcher's
  worker health check, which the local `DefaultRunLauncher` lacks
  (`test_dagsters_local_launcher_still_cannot_see_a_killed_run_worker`). `LocalRunLauncher` is
  Dagster's launcher plus that check, named by the instance file; failing the run and freeing its
  slots stay Dagster's. (The Kubernetes launcher has the check: the cluster profile uses Dagster's.)
- **Runs no daemon watches** (`dagster asset materialize`, a test's `materialize`): the executor
  does what run monitoring would, with the same check, before the run's first step
  (`free_dead_runs`); `tracekd doctor` does it on demand.
- **A daemon of only the run queue and run monitoring.** `dagster-daemon run` runs every daemon an
  instance has, sensors and declarative automation included: under the demo they would request
  evaluation and SQL-model runs of their own beside the demo's (a student registered before its
  chain evaluated it looks new to `new_student_revision`). `serve_run_queue_and_monitoring` starts
  Dagster's daemon controller with those two daemons only
  (`test_dagster_daemon_still_cannot_run_only_some_daemons`).

A run's worker is dead when every process that started the run or one of its steps is gone
(checked through /proc, with the process start time so a reused PID is not mistaken for the
run's). Step processes die with the process that started them (`die_with_parent`), so a killed run
leaves no orphan step writing on its own.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultRunLauncher,
    Executor,
    ExecutorDefinition,
    RunsFilter,
    multi_or_in_process_executor,
)
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

from tracekd_ops.core.lifetime import die_with_parent_process

UNFINISHED = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
WORKER_GONE = "every process of this run is gone (killed?)"
"""The health check's words for a dead worker, in the failure Dagster's run monitoring records."""
TORCH_THREADS_TAG = "tracekd/torch_threads"
"""A run tag: the CPU threads the run's steps get (the demo gives each condition chain its share)."""
IMPORTED_BEFORE_THE_RUN = ("great_expectations", "trl")
"""Libraries a condition chain's steps import late, imported by a run with a thread share before its
first step. Why: Great Expectations alone takes ~10 s to import here, and its first import falls
inside the `traces` step, which holds the `duckdb` pool; four chains importing it in turn inside
the pool pushed the last student's start back by that much each. Imported before, the chains pay
it side by side instead."""
QUEUE_AND_MONITORING = ("QUEUED_RUN_COORDINATOR", "MONITORING")
"""The daemons `serve_run_queue_and_monitoring` runs (Dagster's daemon type names)."""


def _process_start(pid: int) -> tuple[float | None, str | None]:
    """(start time as a Unix timestamp, state letter) of a process, from /proc; Nones elsewhere.

    The start time is now minus the process's age on the boot clock (/proc/uptime), not the boot
    time plus its start: /proc/stat's `btime` is stale wherever the wall clock moved since boot (a
    VM restored from a snapshot, NTP steps), and a live run judged "started after its own events"
    would be failed under it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError):
        return None, None
    fields = stat[stat.rfind(")") + 2 :].split()
    age = uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return time.time() - age, fields[0]


def process_alive(pid: int, seen_at: float) -> bool:
    """Whether the process `pid` that wrote an event at `seen_at` still runs: it exists, is not a
    zombie, and did not start after `seen_at` (which would make it another process with its PID)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and not ours to judge
    started, state = _process_start(pid)
    if state == "Z":
        return False
    return started is None or started <= seen_at + 2.0


def run_processes(instance: DagsterInstance, run_id: str) -> dict[int, float]:
    """Every process that started the run or one of its steps, with when it first did."""
    seen: dict[int, float] = {}
    for entry in instance.all_logs(run_id, of_type={DagsterEventType.RUN_START, DagsterEventType.STEP_START}):
        pid = entry.dagster_event.pid if entry.dagster_event is not None else None
        if pid is not None:
            seen[pid] = min(seen.get(pid, entry.timestamp), entry.timestamp)
    return seen


def worker_health(instance: DagsterInstance, run: DagsterRun) -> CheckRunHealthResult:
    """RUNNING while a process of the run lives (or none has started yet), else FAILED."""
    processes = run_processes(instance, run.run_id)
    if not processes or any(process_alive(pid, seen) for pid, seen in processes.items()):
        return CheckRunHealthResult(WorkerStatus.RUNNING)
    pids = ", ".join(str(pid) for pid in sorted(processes))
    return CheckRunHealthResult(WorkerStatus.FAILED, f"TraceKD: {WORKER_GONE}: processes {pids}")


class LocalRunLauncher(DefaultRunLauncher):
    """Dagster's local run launcher with the worker health check Dagster's run monitoring needs to
    fail a run whose worker was killed (the instance file names it as its `run_launcher`)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        return worker_health(self._instance, run)


def free_dead_runs(instance: DagsterInstance, skip_run_id: str | None = None) -> list[str]:
    """What run monitoring does, for runs no daemon watches: mark runs whose worker is dead failed
    and free the pool slots of dead or finished runs; one line per thing done. Local runs only."""
    done: list[str] = []
    storage = instance.event_log_storage
    holders = storage.get_concurrency_run_ids() if storage.supports_global_concurrency_limits else set()
    unfinished = {r.run_id for r in instance.get_runs(filters=RunsFilter(statuses=UNFINISHED))}
    for run_id in sorted((holders | unfinished) - {skip_run_id}):
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            health = worker_health(instance, run)
            if health.status != WorkerStatus.FAILED:
                continue  # not started yet, or still running
            instance.report_run_failed(run, message=f"{health.msg}; marked failed so its pool slots can be freed")
            done.append(f"run {run_id} ({run.job_name}): {health.msg}; marked failed")
        if run_id in holders:
            storage.free_concurrency_slots_for_run(run_id)
            status = run.status.value if run is not None else "deleted"
            done.append(f"run {run_id}: freed its pool slots (run {status})")
    return done


def die_with_parent() -> None:
    """For step processes started by a run: a killed run leaves no orphan step behind."""
    if multiprocessing.parent_process() is None:
        return  # started by a shell or a launcher, not by a run: nothing to follow
    die_with_parent_process()


def take_thread_share(threads: int) -> None:
    """Give this process (and the step processes it starts) `threads` CPU threads, and import
    `IMPORTED_BEFORE_THE_RUN`."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    for module in IMPORTED_BEFORE_THE_RUN:
        importlib.import_module(module)


class RecoveringExecutor(Executor):
    """Dagster's default executor, after freeing what killed runs left behind (for runs no daemon
    watches) and taking the run's thread share (`TORCH_THREADS_TAG`), before any step claims a pool."""

    def __init__(self, inner: Executor) -> None:
        self._inner = inner

    @property
    def retries(self) -> Any:
        return self._inner.retries

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[Any]:
        for line in free_dead_runs(plan_context.instance, skip_run_id=plan_context.run_id):
            plan_context.log.warning(f"recovered before starting: {line}")
        threads = plan_context.dagster_run.tags.get(TORCH_THREADS_TAG)
        if threads:
            take_thread_share(int(threads))
        yield from self._inner.execute(plan_context, execution_plan)


def _recovering(init_context: Any) -> Executor:
    create: Callable[[Any], Executor] = multi_or_in_process_executor.executor_creation_fn  # type: ignore[assignment]
    return RecoveringExecutor(create(init_context))


recovering_executor = ExecutorDefinition(
    name="multi_or_in_process_recovering",
    config_schema=multi_or_in_process_executor.config_schema,
    requirements=multi_or_in_process_executor.get_requirements,
    executor_creation_fn=_recovering,
    description="Dagster's default executor (multiprocess, or in-process) that first frees the pool slots of killed runs "
    f"no daemon watches, and gives the run the CPU threads its `{TORCH_THREADS_TAG}` tag says.",
)


def serve_run_queue_and_monitoring(workspace_file: str) -> None:
    """Dagster's daemon for the instance at $DAGSTER_HOME, with only the run queue and run
    monitoring (`QUEUE_AND_MONITORING`), until killed: Dagster's own controller and daemons."""
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._daemon.controller import create_daemon_of_type, daemon_controller_from_instance

    with DagsterInstance.get() as instance:
        daemons = lambda instance: [create_daemon_of_type(kind, instance) for kind in QUEUE_AND_MONITORING]  # noqa: E731
        with daemon_controller_from_instance(instance, WorkspaceFileTarget(paths=[workspace_file]), gen_daemons=daemons) as controller:
            controller.check_daemon_loop()


if __name__ == "__main__":
    serve_run_queue_and_monitoring(sys.argv[1])
