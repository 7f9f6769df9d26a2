"""Recovery from killed runs, without manual steps: the one private piece of run orchestration on
the local profile, kept because Dagster cannot do it there. Dagster's run monitoring (on in the
instance TraceKD makes, tracekd_assets/dagster.yaml) fails a run whose worker died only through the
run launcher's worker health check, which the local launcher does not have (the Kubernetes launcher
does: the cluster profile leaves this to Dagster). `test_dagsters_local_launcher_still_cannot_see_a_
killed_run_worker` (tests/assets/test_kill_recovery.py) fails the day it gains one.

A run killed with SIGKILL cannot report its own end: Dagster keeps it STARTED, and the pool slots
its steps claimed (the `duckdb` pool, limit 1) stay claimed, so every later DuckDB writer waits
forever on "blocked by limit for pool duckdb". TraceKD frees them in three ways:

- every run starts with `free_dead_runs` (the code location's executor wraps Dagster's default
  one), so the next materialization of anything clears what a killed one left, and says so in its
  log;
- the sensor `free_slots_of_dead_runs` does the same every 30 s under `dagster dev`;
- `tracekd doctor` does it on demand and prints what it freed.

A run is dead when every process that wrote its events is gone (checked on this machine through
/proc, with the process start time so a reused PID is not mistaken for the run's). A dead run is
marked failed, with the reason, and its slots are freed; a finished run's leftover slots are freed.
And step processes die with the process that started them (`die_with_parent`), so a killed
`dagster asset materialize` leaves no orphan step writing on its own.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    Executor,
    ExecutorDefinition,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    multi_or_in_process_executor,
    sensor,
)

from tracekd_ops.core.lifetime import die_with_parent_process

UNFINISHED = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def _process_start(pid: int) -> tuple[float | None, str | None]:
    """(start time as a Unix timestamp, state letter) of a process, from /proc; Nones elsewhere.

    The start time is now minus the process's age on the boot clock (/proc/uptime), not the boot
    time plus its start: /proc/stat's `btime` is stale wherever the wall clock moved since boot (a
    VM restored from a snapshot, NTP steps), and a live run judged "started after its own events"
    would have its pool slots freed under it."""
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
    """Every process that wrote an event of the run, with when it first did."""
    seen: dict[int, float] = {}
    for entry in instance.all_logs(run_id):
        pid = entry.dagster_event.pid if entry.dagster_event is not None else None
        if pid is not None:
            seen[pid] = min(seen.get(pid, entry.timestamp), entry.timestamp)
    return seen


def free_dead_runs(instance: DagsterInstance, skip_run_id: str | None = None) -> list[str]:
    """Mark runs whose every process is gone as failed and free the pool slots of dead or finished
    runs; one line per thing done. Only for runs on this machine (the local deployment)."""
    done: list[str] = []
    storage = instance.event_log_storage
    holders = storage.get_concurrency_run_ids() if storage.supports_global_concurrency_limits else set()
    unfinished = {r.run_id for r in instance.get_runs(filters=RunsFilter(statuses=UNFINISHED))}
    for run_id in sorted((holders | unfinished) - {skip_run_id}):
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            processes = run_processes(instance, run_id)
            if not processes or any(process_alive(pid, seen) for pid, seen in processes.items()):
                continue  # not started yet, or still running
            pids = ", ".join(str(pid) for pid in sorted(processes))
            instance.report_run_failed(
                run, message=f"TraceKD: every process of this run ({pids}) is gone (killed?); marked failed so its pool slots can be freed"
            )
            done.append(f"run {run_id} ({run.job_name}): processes {pids} are gone; marked failed")
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


class RecoveringExecutor(Executor):
    """Dagster's default executor, after freeing what killed runs left behind."""

    def __init__(self, inner: Executor) -> None:
        self._inner = inner

    @property
    def retries(self) -> Any:
        return self._inner.retries

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[Any]:
        for line in free_dead_runs(plan_context.instance, skip_run_id=plan_context.run_id):
            plan_context.log.warning(f"recovered before starting: {line}")
        yield from self._inner.execute(plan_context, execution_plan)


def _recovering(init_context: Any) -> Executor:
    create: Callable[[Any], Executor] = multi_or_in_process_executor.executor_creation_fn  # type: ignore[assignment]
    return RecoveringExecutor(create(init_context))


recovering_executor = ExecutorDefinition(
    name="multi_or_in_process_recovering",
    config_schema=multi_or_in_process_executor.config_schema,
    requirements=multi_or_in_process_executor.get_requirements,
    executor_creation_fn=_recovering,
    description="Dagster's default executor (multiprocess, or in-process) that first frees the pool slots of killed runs.",
)


@sensor(
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Marks runs whose processes were killed as failed and frees their pool slots, so no later run waits forever.",
)
def free_slots_of_dead_runs(context: SensorEvaluationContext):
    done = free_dead_runs(context.instance)
    for line in done:
        context.log.warning(line)
    return SkipReason("; ".join(done) if done else "no killed run holds a pool slot")
