"""Shared fixtures: tiny budgets so the real components (Dagster, DuckDB, GX, TRL) run in seconds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
SQL_DIR = PROJECT_ROOT / "dbt_like_sql"

pytest_plugins = ["tests.fault_tally"]


@pytest.fixture
def tiny_experiment():
    from tracekd_assets.defs.resources import ExperimentSettings

    return ExperimentSettings(
        synthetic_train_per_task=40,
        synthetic_test_per_task=8,
        training={
            "max_steps": 4,
            "batch_size": 8,
            "max_seconds": 420.0,
            "model": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64},
        },
        eval_batch_size=16,
        eval_max_new_tokens=40,
    )


@pytest.fixture
def tiny_home(tmp_path: Path):
    from tracekd_assets.defs.resources import TraceKDHome

    return TraceKDHome(home=str(tmp_path / "home"))


@pytest.fixture
def no_teacher():
    """An unconfigured teacher, whatever the environment says."""
    from tracekd_assets.defs.resources import TeacherSettings

    return TeacherSettings(base_url=None, model=None, summary_model=None)


@pytest.fixture
def local_registry():
    """The local registry backend, whatever the environment says."""
    from tracekd_assets.defs.resources import RegistrySettings

    return RegistrySettings(backend="local")


def store_traces(store: Any, conditions=("solution_only", "correct", "incorrect", "swapped"), train_per_task: int = 10) -> None:
    """Trace sets of generated data, stored as the traces step stores them (its Great Expectations
    suite is tested elsewhere): what the rating study samples from."""
    from tracekd_ops.datasets.synthetic import TASKS, SyntheticConfig, generate
    from tracekd_ops.traces.conditions import TraceOptions, condition
    from tracekd_ops.traces.trace_set import build

    records = [r for r in generate(SyntheticConfig(train_per_task=train_per_task, test_per_task=2)) if r.split == "train"]
    for name in conditions:
        trace_set = build("synthetic", condition(name), records, TASKS, TraceOptions())
        keys = {"dataset": "synthetic", "condition": name}
        store.replace_partitions([("traces", keys, trace_set.frame()), ("trace_sets", keys, [trace_set.summary_row()])])
