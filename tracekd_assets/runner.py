"""Materialize the whole asset graph, partition by partition, into a persistent Dagster instance.

Used by `tracekd demo` and by the end-to-end test. The graph spans three partitioning schemes
(dataset; dataset x condition; none), so "everything" is one run per partition in dependency
order: raw data, then each condition's chain, then the SQL models and the report. The runs land
in the instance, so `dagster dev` shows them afterwards with their metadata and lineage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from dagster import AssetSelection, DagsterInstance, materialize

from tracekd_assets.definitions import ALL_ASSETS, condition_job, raw_job, report_job
from tracekd_assets.partitions import run_key
from tracekd_assets.resources import ExperimentSettings, TraceKDHome
from tracekd_ops.conditions import CONDITIONS

DAGSTER_YAML = """\
# Written by TraceKD. DuckDB allows one writing process per file: steps in the `duckdb` pool
# run one at a time across all runs (op granularity).
concurrency:
  pools:
    granularity: op
    default_limit: 1
telemetry:
  enabled: false
"""


def prepare_dagster_home(path: Path) -> Path:
    """Create a Dagster home whose instance limits the `duckdb` pool to one step at a time."""
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return path


@dataclass
class Outcome:
    succeeded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def materialize_everything(
    instance: DagsterInstance,
    home: TraceKDHome,
    experiment: ExperimentSettings,
    datasets: Sequence[str] = ("synthetic",),
    conditions: Sequence[str] = CONDITIONS,
    log: Callable[[str], None] = print,
) -> Outcome:
    """Run every partition of the graph; a failed condition does not stop the others."""
    resources = {"home": home, "experiment": experiment}
    outcome = Outcome()

    def run(label: str, selection: AssetSelection, partition_key: str | None) -> None:
        log(f"materializing {label} ...")
        result = materialize(
            ALL_ASSETS,
            selection=selection,
            partition_key=partition_key,
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )
        (outcome.succeeded if result.success else outcome.failed).append(label)
        log(f"  {label}: {'ok' if result.success else 'FAILED'} (run {result.run_id})")

    for dataset in datasets:
        run(f"raw_examples[{dataset}]", raw_job.selection, dataset)
        for condition in conditions:
            run(f"{condition}[{dataset}]", condition_job.selection, str(run_key(dataset, condition)))
    run("sql models + report", report_job.selection, None)
    return outcome


def default_instance(home: TraceKDHome) -> DagsterInstance:
    """The instance under `$DAGSTER_HOME`, or `<tracekd home>/dagster` when that is unset."""
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or home.root / "dagster")
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(dagster_home))
    return DagsterInstance.get()
