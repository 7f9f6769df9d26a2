"""Materialize the whole asset graph, partition by partition, into a persistent Dagster instance.

Used by `tracekd demo` and by the end-to-end test. The graph spans three partitioning schemes
(dataset; dataset x condition; none), so "everything" is one run per partition in dependency
order: raw data, then each condition's chain, then the SQL models and the report. The condition
chains are independent and run in parallel worker processes (each with its share of the CPU
threads); DuckDB writes stay serialized by the store's lock and the `duckdb` pool. The runs land
in the instance, so `dagster dev` shows them afterwards with their metadata and lineage.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from dagster import DagsterInstance, materialize

from tracekd_assets.definitions import ALL_ASSETS
from tracekd_assets.defs.jobs import condition_job, published_job, raw_job, report_job
from tracekd_assets.defs.partitions import run_key
from tracekd_assets.defs.pools import apply_pool_limits
from tracekd_assets.defs.recovery import die_with_parent, free_dead_runs
from tracekd_assets.home import HOME_OF_INSTANCE, INSTANCE_OF_HOME
from tracekd_assets.defs.resources import (ExperimentSettings, RegistrySettings, TeacherSettings,
                                            TraceKDHome)  # fmt: skip
from tracekd_ops.traces.conditions import CONDITIONS, runnable
from tracekd_ops.train.memory import GIB, available_memory, fits_side_by_side

INSTANCE_FILE = Path(__file__).with_name("dagster.yaml")
"""The local profile's Dagster instance settings (pools, run monitoring), the one checked-in copy."""

JOB_SELECTIONS = {job.name: job.selection for job in (raw_job, condition_job, report_job, published_job)}

RESOURCE_KINDS = {"home": TraceKDHome, "experiment": ExperimentSettings, "teacher": TeacherSettings, "registry": RegistrySettings}
"""Each resource a run gets, built from plain values (resources do not pickle); unset: its defaults."""

IMPORTED_BEFORE_THE_RUN = ("great_expectations", "trl")
"""Libraries a condition chain's steps import late, imported by each worker before its run starts.
Why: Great Expectations alone takes ~10 s to import here, and its first import falls inside the
`traces` step, which holds the `duckdb` pool; four workers importing it in turn inside the pool
pushed the last student's start back by that much each. Imported before the run, the workers pay
it side by side instead."""


def prepare_dagster_home(path: Path) -> Path:
    """Create a Dagster home with TraceKD's instance settings (`INSTANCE_FILE`)."""
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_FILE.read_text())
    return path


@dataclass
class Outcome:
    succeeded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall seconds of each stage (raw data, condition chains, SQL models + report)."""


def _run_partition(
    instance_ref: Any,  # what `DagsterInstance.get_ref()` returns; picklable, so it crosses to workers
    job_name: str,
    partition_key: str | None,
    resources: dict[str, dict[str, Any]],
    torch_threads: int | None = None,
) -> tuple[bool, str]:
    """One run of a job's assets for one partition; (success, run id). Runs in a worker process;
    a condition chain's worker gets `torch_threads` (its share of the cores) and imports
    `IMPORTED_BEFORE_THE_RUN` first."""
    die_with_parent()  # a worker must not outlive the demo, even before its run sets anything up
    if torch_threads:
        import torch

        torch.set_num_threads(torch_threads)
        for module in IMPORTED_BEFORE_THE_RUN:
            importlib.import_module(module)
    with DagsterInstance.from_ref(instance_ref) as instance:
        result = materialize(
            ALL_ASSETS,
            selection=JOB_SELECTIONS[job_name],
            partition_key=partition_key,
            instance=instance,
            resources={name: kind(**resources.get(name, {})) for name, kind in RESOURCE_KINDS.items()},
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            raise_on_error=False,
        )
        return result.success, result.run_id


def _stop_workers(grace_s: float = 5.0) -> None:
    """TERM every worker, then KILL those still running after `grace_s`: Dagster inside a worker
    defers TERM to the end of the running step. A killed write is rolled back by DuckDB, and the
    killed runs are recovered by the next run (`free_dead_runs`)."""
    workers = multiprocessing.active_children()
    for worker in workers:
        worker.terminate()
    deadline = time.monotonic() + grace_s
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            worker.kill()
            worker.join()


def materialize_everything(
    instance: DagsterInstance,
    home: TraceKDHome,
    experiment: ExperimentSettings,
    teacher: TeacherSettings | None = None,
    registry: RegistrySettings | None = None,
    datasets: Sequence[str] = ("synthetic",),
    conditions: Sequence[str] = CONDITIONS,
    workers: int = 1,
    log: Callable[[str], None] = print,
) -> Outcome:
    """Run every partition of the graph; a failed condition does not stop the others. Without a
    configured teacher the teacher conditions are left out, and said so."""
    teacher = teacher or TeacherSettings()
    conditions, left_out = runnable(conditions, teacher.configured)
    for reason in sorted(set(left_out.values())):
        log(f"skipping {', '.join(c for c, r in left_out.items() if r == reason)}: {reason}")
    for line in free_dead_runs(instance):
        log(f"recovered: {line}")
    ref = instance.get_ref()
    share = None
    if workers > 1:  # side by side only as many students as fit, each planning within its share of the memory
        available = available_memory()
        configs = [s.training_config(seed, experiment.training_defaults()) for s in experiment.experiment().students for seed in s.seeds]
        fitting, why = fits_side_by_side(configs, workers, available)
        log(f"memory: condition chains {why}" + (f" (fewer than the {workers} asked for)" if fitting < workers else ""))
        workers, share = fitting, available / fitting / GIB
        if experiment.training_defaults().memory_gib is None:
            experiment = experiment.with_changes(training={"memory_gib": round(share, 2)})
    # plain values cross to worker processes: resources themselves do not pickle
    resources = {
        "home": {"home": home.home},
        "experiment": experiment.as_config(),
        "teacher": teacher.as_config(),
        "registry": (registry or RegistrySettings()).as_config(),
    }
    outcome = Outcome(skipped=[f"{c}[{d}]" for d in datasets for c in left_out])

    def record(label: str, success: bool, run_id: str) -> None:
        (outcome.succeeded if success else outcome.failed).append(label)
        log(f"  {label}: {'ok' if success else 'FAILED'} (run {run_id})")

    for dataset in datasets:
        log(f"materializing raw_examples[{dataset}] ...")
        started = time.monotonic()
        raw_ok, raw_run = _run_partition(ref, raw_job.name, dataset, resources)
        record(f"raw_examples[{dataset}]", raw_ok, raw_run)
        outcome.seconds[f"raw data [{dataset}]"] = time.monotonic() - started
        if not raw_ok:  # the stored rows are the previous source's: training on them would pass them off as this one's
            outcome.skipped += [f"{c}[{dataset}]" for c in conditions]
            log(f"  raw_examples[{dataset}] failed (the source was refused; its error is in run {raw_run}): "
                f"no condition chain of {dataset} runs in this invocation")  # fmt: skip
            continue
        started = time.monotonic()
        chains = [(f"{c}[{dataset}]", str(run_key(dataset, c))) for c in conditions]
        log(f"materializing traces -> student -> predictions -> metrics for {len(chains)} conditions "
            f"({workers} at a time) ...")  # fmt: skip
        if workers <= 1:
            for label, key in chains:
                record(label, *_run_partition(ref, condition_job.name, key, resources))
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)
            spawn = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=spawn)
            try:
                futures = {
                    label: pool.submit(_run_partition, ref, condition_job.name, key, resources, threads)
                    for label, key in chains
                }
                broken = False
                for label, future in futures.items():
                    try:
                        record(label, *future.result())
                    except BrokenProcessPool:  # the kernel killed a worker (out of memory?): say so, not a traceback
                        broken = True
                        outcome.failed.append(label)
                        log(f"  {label}: FAILED: its worker process was killed (by the kernel's OOM killer?) while {len(futures)} "
                            f"chains ran side by side; each student was planned for {share:.1f} GiB of "
                            f"{available_memory() / GIB:.1f} GiB now available: run fewer at once (--workers) or give less (training.memory_gib)")  # fmt: skip
                if broken:  # the pool's other workers would train on for chains already counted as failed
                    _stop_workers()
            except BaseException:  # interrupted (Ctrl-C, TERM): stop the workers instead of waiting for them
                _stop_workers()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown(wait=not broken, cancel_futures=True)
        outcome.seconds[f"traces, students, evaluation [{dataset}]"] = time.monotonic() - started
    log("materializing rating items and statistics (simulated panel), SQL models and report ...")
    started = time.monotonic()
    record("sql models + report", *_run_partition(ref, report_job.name, None, resources))
    outcome.seconds["ratings, SQL models and report"] = time.monotonic() - started
    return outcome


def bind_instance(home: Path) -> Path:
    """The Dagster instance of a TraceKD home, made and bound both ways, and set as $DAGSTER_HOME:
    `$DAGSTER_HOME` when set, else the one the home was bound to before, else `<home>/dagster`.
    The home names its instance and the instance its home, so any entry point given either one
    (`tracekd dev --home`, `dagster dev` with `DAGSTER_HOME`) finds the other."""
    recorded = home / INSTANCE_OF_HOME
    chosen = os.environ.get("DAGSTER_HOME") or (recorded.read_text().strip() if recorded.is_file() else str(home / "dagster"))
    dagster_home = prepare_dagster_home(Path(chosen).resolve())
    home.mkdir(parents=True, exist_ok=True)
    recorded.write_text(f"{dagster_home}\n")
    (dagster_home / HOME_OF_INSTANCE).write_text(f"{home.resolve()}\n")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home


def default_instance(home: TraceKDHome) -> DagsterInstance:
    """The instance bound to the home (`bind_instance`), with TraceKD's pool limits."""
    bind_instance(home.root)
    instance = DagsterInstance.get()
    apply_pool_limits(instance)
    return instance
