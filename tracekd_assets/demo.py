"""Materialize the whole asset graph, partition by partition, by submitting runs to the Dagster
instance of a TraceKD home: its run queue starts them, its run monitoring watches them.

Used by `tracekd demo`, `tracekd run` and the end-to-end tests. The graph spans three partitioning
schemes (dataset; dataset x condition; none), so "everything" is one run per partition in
dependency order: raw data, then each condition's chain, then the SQL models and the report. The
condition chains are independent: they are submitted together, and the instance's run queue starts
`max_concurrent_runs` of them at a time (the demo's `--workers`, written into the instance file),
each with its share of the CPU threads (a run tag) and of the memory (its training settings).
DuckDB writes stay serialized by the store's lock and the `duckdb` pool. The runs land in the
instance, so `tracekd dev` shows them afterwards with their metadata and lineage.

`InstanceServices` starts, in the background on free loopback ports, what `dagster dev` starts:
a code server, a webserver (whose GraphQL API takes the submissions) and the daemon (the run queue
and run monitoring only: tracekd_assets/defs/recovery.py says why).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, MultiPartitionKey
from dagster_graphql import DagsterGraphQLClient

from tracekd_assets.defs.jobs import condition_job, raw_job, report_job
from tracekd_assets.defs.partitions import run_key
from tracekd_assets.defs.pools import apply_pool_limits
from tracekd_assets.defs.recovery import TORCH_THREADS_TAG, WORKER_GONE
from tracekd_assets.home import HOME_OF_INSTANCE, INSTANCE_OF_HOME
from tracekd_assets.instance import instance_yaml
from tracekd_assets.defs.resources import (ExperimentSettings, RegistrySettings, TeacherSettings,
                                            TraceKDHome)  # fmt: skip
from tracekd_ops.core.lifetime import die_with_parent_process, stop_process_group
from tracekd_ops.traces.conditions import CONDITIONS, runnable
from tracekd_ops.train.memory import GIB, available_memory, fits_side_by_side

LOCATION = "tracekd"
"""The code location's name, as `tracekd dev` and the recorded runs name it."""
REPOSITORY = "__repository__"
"""The repository a `Definitions` object becomes."""
KILLED = "was terminated by signal 9 (SIGKILL)"
"""What Dagster's code server records when a run's process was SIGKILLed (the kernel's OOM killer's signal)."""


def prepare_dagster_home(path: Path, max_concurrent_runs: int | None = None) -> Path:
    """Create (or bring up to date) a Dagster home with the local profile's instance settings
    (tracekd_assets/instance.yaml), the run queue's limit set to `max_concurrent_runs` when given;
    an unchanged file is not rewritten, so the services reading it never see it half-written."""
    path.mkdir(parents=True, exist_ok=True)
    text = instance_yaml("local", max_concurrent_runs)
    config = path / "dagster.yaml"
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    return path


@dataclass
class Outcome:
    succeeded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall seconds of each stage (raw data, condition chains, SQL models + report)."""
    reported: bool = False
    """Whether the SQL models and the report were built (the last run)."""


def run_config(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A run's config: its resources' settings (plain values), its steps in the run's own process
    (as `materialize` ran them: no process started and no code loaded per step), INFO logs."""
    return {
        "resources": {name: {"config": values} for name, values in resources.items()},
        "execution": {"config": {"in_process": {}}},
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    }


def partition_tags(key: str | MultiPartitionKey | None) -> dict[str, str]:
    """The tags that make a run materialize one partition: a multi-partition's run reads its key
    back from the per-dimension tags (Dagster's own, though its tag check calls them non-compliant)."""
    if key is None:
        return {}
    dimensions = key.keys_by_dimension.items() if isinstance(key, MultiPartitionKey) else ()
    return {"dagster/partition": str(key), **{f"dagster/partition/{name}": value for name, value in dimensions}}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class InstanceServices:
    """The instance's code server, webserver and daemon (run queue and run monitoring), started in
    the background on free loopback ports as one process group that dies with this process; on
    exit they are stopped, and with them the runs they started (runs left unfinished by an
    interruption are marked canceled first, so no queue starts them later)."""

    def __init__(self, instance: DagsterInstance, log: Callable[[str], None] = print) -> None:
        self.instance, self.log = instance, log
        self.home = Path(instance.root_directory)
        self.code_port, self.web_port = _free_port(), _free_port()
        self.processes: list[subprocess.Popen[bytes]] = []
        self.output: Any = None
        self.submitted: list[str] = []
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=self.web_port)

    def _start(self, command: list[str], quiet: bool = True) -> None:
        """Start one service in the group; the webserver's and the daemon's output goes to
        services.log, the code server's (where the runs log) is ours."""
        if quiet and self.output is None:
            self.output = (self.home / "services.log").open("ab")
        group = self.processes[0].pid if self.processes else 0
        self.processes.append(subprocess.Popen(command, env={**os.environ, "DAGSTER_HOME": str(self.home)}, process_group=group,
                                               stdout=self.output if quiet else None, stderr=subprocess.STDOUT if quiet else None,
                                               preexec_fn=die_with_parent_process))  # fmt: skip

    def _wait_for(self, ready: Callable[[], bool], what: str, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            self.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come up in {timeout_s:.0f} s; its log: {self.home / 'services.log'}")
            time.sleep(0.2)

    def check(self) -> None:
        """Raise if a service has stopped: nothing would start or watch the runs."""
        for process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"a Dagster service ({' '.join(map(str, process.args[:4]))}) stopped with code {process.returncode}; "
                                   f"its log: {self.home / 'services.log'}")  # fmt: skip

    def _location_loaded(self) -> bool:
        query = "{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { __typename } } } } }"
        request = urllib.request.Request(f"http://127.0.0.1:{self.web_port}/graphql", data=json.dumps({"query": query}).encode(),
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                entries = json.loads(response.read())["data"]["workspaceOrError"]["locationEntries"]
        except (OSError, KeyError, TypeError, ValueError):
            return False
        return any(e["name"] == LOCATION and (e["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation" for e in entries)

    def __enter__(self) -> "InstanceServices":
        workspace = self.home / "services-workspace.yaml"
        workspace.write_text(f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {self.code_port}\n"
                             f"      location_name: {LOCATION}\n")  # fmt: skip
        try:
            self._start([sys.executable, "-m", "dagster", "api", "grpc", "-m", "tracekd_assets.definitions", "-a", "defs", "--location-name", LOCATION,
                         "-h", "127.0.0.1", "-p", str(self.code_port), "--log-level", "warning"], quiet=False)  # fmt: skip
            self._wait_for(lambda: _listening(self.code_port), "the code server")
            self._start([sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(self.web_port), "-w", str(workspace)])
            self._start([sys.executable, "-m", "tracekd_assets.defs.recovery", str(workspace)])
            self._wait_for(self._location_loaded, "the webserver")
        except BaseException:
            self._stop()
            raise
        self.log(f"dagster:    runs go to the instance at {self.home}; watch them at http://127.0.0.1:{self.web_port}")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self, grace_s: float = 5.0) -> None:
        unfinished = [r for r in self.submitted if not self._finished(r)]
        webserver_up = len(self.processes) > 1 and self.processes[1].poll() is None
        if unfinished and webserver_up:
            mutation = ("mutation($ids: [String!]!) { terminateRuns(runIds: $ids, terminatePolicy: MARK_AS_CANCELED_IMMEDIATELY) "
                        "{ __typename } }")  # fmt: skip
            request = urllib.request.Request(f"http://127.0.0.1:{self.web_port}/graphql", headers={"Content-Type": "application/json"},
                                             data=json.dumps({"query": mutation, "variables": {"ids": unfinished}}).encode())  # fmt: skip
            try:
                urllib.request.urlopen(request, timeout=10).close()
            except OSError:
                pass  # the next daemon's run monitoring fails them instead
        if not self.processes:
            return
        stop_process_group(self.processes[0].pid, self.processes, grace_s)
        self.processes = []
        if self.output is not None:
            self.output.close()

    def _finished(self, run_id: str) -> bool:
        run = self.instance.get_run_by_id(run_id)
        return run is None or run.is_finished

    def submit(self, job_name: str, partition: str | MultiPartitionKey | None, resources: dict[str, dict[str, Any]],
               tags: dict[str, str] | None = None) -> str:  # fmt: skip
        """Submit one run of a job for one partition to the instance's run queue; its id."""
        run_id = self.client.submit_job_execution(job_name, repository_location_name=LOCATION, repository_name=REPOSITORY,
                                                  run_config=run_config(resources), tags={**partition_tags(partition), **(tags or {})})  # fmt: skip
        self.submitted.append(run_id)
        return run_id

    def finished(self, run_ids: Sequence[str]) -> Iterator[tuple[str, bool]]:
        """(run id, succeeded) of each run, as each finishes."""
        waiting = list(run_ids)
        while waiting:
            self.check()
            for run_id in list(waiting):
                run = self.instance.get_run_by_id(run_id)
                if run is not None and run.is_finished:
                    waiting.remove(run_id)
                    yield run_id, run.status == DagsterRunStatus.SUCCESS
            time.sleep(0.5)

    def run(self, job_name: str, partition: str | None, resources: dict[str, dict[str, Any]]) -> tuple[bool, str]:
        """One run, submitted and waited for: (success, run id)."""
        run_id = self.submit(job_name, partition, resources)
        return next(iter(self.finished([run_id])))[1], run_id

    def worker_killed(self, run_id: str) -> bool:
        """Whether the run failed because its process was killed: as the code server that started it
        says (Dagster's words), or the launcher's health check (`WORKER_GONE`)."""
        events = self.instance.all_logs(run_id, of_type={DagsterEventType.ENGINE_EVENT, DagsterEventType.RUN_FAILURE})
        return any(KILLED in (e.message or "") or WORKER_GONE in (e.message or "") for e in events)


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
    """Run every partition of the graph through the instance; a failed condition does not stop the
    others. Without a configured teacher the teacher conditions are left out, and said so."""
    teacher = teacher or TeacherSettings()
    conditions, left_out = runnable(conditions, teacher.configured)
    for reason in sorted(set(left_out.values())):
        log(f"skipping {', '.join(c for c, r in left_out.items() if r == reason)}: {reason}")
    share = None
    if workers > 1:  # side by side only as many students as fit, each planning within its share of the memory
        available = available_memory()
        configs = [s.training_config(seed, experiment.training_defaults()) for s in experiment.experiment().students for seed in s.seeds]
        fitting, why = fits_side_by_side(configs, workers, available)
        log(f"memory: condition chains {why}" + (f" (fewer than the {workers} asked for)" if fitting < workers else ""))
        workers, share = fitting, available / fitting / GIB
        if experiment.training_defaults().memory_gib is None:
            experiment = experiment.with_changes(training={"memory_gib": round(share, 2)})
    prepare_dagster_home(Path(instance.root_directory), max_concurrent_runs=max(1, workers))
    apply_pool_limits(instance)
    resources = {
        "home": {"home": home.home},
        "experiment": experiment.as_config(),
        "teacher": teacher.as_config(),
        "registry": (registry or RegistrySettings()).as_config(),
    }
    chain_tags = {TORCH_THREADS_TAG: str(max(1, (os.cpu_count() or 1) // workers))} if workers > 1 else {}
    outcome = Outcome(skipped=[f"{c}[{d}]" for d in datasets for c in left_out])

    def record(label: str, success: bool, run_id: str) -> None:
        (outcome.succeeded if success else outcome.failed).append(label)
        log(f"  {label}: {'ok' if success else 'FAILED'} (run {run_id})")

    with InstanceServices(instance, log) as services:
        for dataset in datasets:
            log(f"materializing raw_examples[{dataset}] ...")
            started = time.monotonic()
            raw_ok, raw_run = services.run(raw_job.name, dataset, resources)
            record(f"raw_examples[{dataset}]", raw_ok, raw_run)
            outcome.seconds[f"raw data [{dataset}]"] = time.monotonic() - started
            if not raw_ok:  # the stored rows are the previous source's: training on them would pass them off as this one's
                outcome.skipped += [f"{c}[{dataset}]" for c in conditions]
                log(f"  raw_examples[{dataset}] failed (the source was refused; its error is in run {raw_run}): "
                    f"no condition chain of {dataset} runs in this invocation")  # fmt: skip
                continue
            started = time.monotonic()
            log(f"materializing traces -> student -> predictions -> metrics for {len(conditions)} conditions "
                f"({workers} at a time) ...")  # fmt: skip
            labels = {services.submit(condition_job.name, run_key(dataset, c), resources, chain_tags): f"{c}[{dataset}]" for c in conditions}
            for run_id, success in services.finished(list(labels)):
                if not success and services.worker_killed(run_id):  # the kernel killed it (out of memory?): say so, in one line
                    outcome.failed.append(labels[run_id])
                    planned = f"each student was planned for {share:.1f} GiB of " if share else "with "
                    log(f"  {labels[run_id]}: FAILED: its worker process was killed (by the kernel's OOM killer?) while {len(labels)} chains "
                        f"ran {workers} at a time; {planned}{available_memory() / GIB:.1f} GiB now available: run fewer at once (--workers) "
                        f"or give less (training.memory_gib) (run {run_id})")  # fmt: skip
                else:
                    record(labels[run_id], success, run_id)
            outcome.seconds[f"traces, students, evaluation [{dataset}]"] = time.monotonic() - started
        log("materializing rating items and statistics (simulated panel), SQL models and report ...")
        started = time.monotonic()
        outcome.reported, report_run = services.run(report_job.name, None, resources)
        record("sql models + report", outcome.reported, report_run)
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
