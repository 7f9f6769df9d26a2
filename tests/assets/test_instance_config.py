"""Every deployment profile's Dagster instance comes from the one checked-in file
(tracekd_assets/instance.yaml): each profile's merged settings pass Dagster's own instance schema
and keep what all profiles share, the local one is what the demo's instances run on, and
`tracekd instance-config` prints them for a deployment without the Helm chart."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config

from tests.postgres import Postgres
from tracekd_assets.defs.resources import RESOURCES_BY_DEPLOYMENT
from tracekd_assets.demo import prepare_dagster_home
from tracekd_assets.instance import instance_config, instance_yaml, profiles

TRACEKD = str(Path(sys.executable).parent / "tracekd")
SHARED = {"pools": {"granularity": "op", "default_limit": 1}, "run_monitoring": True, "telemetry": False}


def shared_settings(config: dict) -> dict:
    """What every profile must have, read from a (validated) instance config."""
    pools = config["concurrency"]["pools"]
    return {"pools": {"granularity": pools["granularity"], "default_limit": pools["default_limit"]},
            "run_monitoring": config["run_monitoring"]["enabled"], "telemetry": config["telemetry"]["enabled"]}  # fmt: skip


def test_the_profiles_are_the_deployment_profiles_and_an_unknown_one_is_named():
    assert profiles() == tuple(RESOURCES_BY_DEPLOYMENT) == ("local", "cluster")
    with pytest.raises(ValueError, match="no Dagster instance profile 'clustr' in instance.yaml: one of local, cluster"):
        instance_config("clustr")


def test_each_profile_passes_dagsters_instance_schema_and_keeps_the_shared_settings(tmp_path, monkeypatch):
    """Dagster's instance schema, and each class the instance names (storage, run launcher, run
    coordinator) with its own config schema: what Dagster checks when it loads the instance, short
    of connecting to Postgres and Kubernetes (tests/assets/test_cluster_profile.py does, to Postgres)."""
    for name, value in Postgres("127.0.0.1", 5432, "tracekd", "dagster").dagster_env().items():  # the variables the cluster's names
        monkeypatch.setenv(name, value)
    validated = {}
    for profile in profiles():
        (tmp_path / profile).mkdir()
        (tmp_path / profile / "dagster.yaml").write_text(instance_yaml(profile))
        validated[profile], _ = dagster_instance_config(str(tmp_path / profile))
        assert shared_settings(validated[profile]) == SHARED, profile
        for key, value in validated[profile].items():
            if isinstance(value, dict) and "class" in value:
                named = getattr(importlib.import_module(value["module"]), value["class"])
                checked = process_config(named.config_type(), value.get("config") or {})
                assert checked.success, (profile, key, checked.errors)
    local, cluster = validated["local"], validated["cluster"]
    assert local["run_launcher"]["class"] == "LocalRunLauncher" and local["run_queue"]["dequeue_use_threads"] is True
    assert (local["run_monitoring"]["poll_interval_seconds"], local["concurrency"]["runs"]["max_concurrent_runs"]) == (5, 4)
    assert cluster["event_log_storage"]["class"] == "AtomicSlotPostgresEventLogStorage" and cluster["run_launcher"]["class"] == "K8sRunLauncher"
    assert cluster["run_storage"]["config"] == cluster["event_log_storage"]["config"] == cluster["schedule_storage"]["config"]
    assert (cluster["run_monitoring"]["poll_interval_seconds"], cluster["concurrency"]["runs"]["max_concurrent_runs"]) == (120, 64)
    assert "run_queue" not in cluster  # Dagster refuses it beside the cluster's run_coordinator


def test_the_demos_instance_runs_the_local_profile_with_the_runs_asked_for(tmp_path):
    home = prepare_dagster_home(tmp_path / "dagster", max_concurrent_runs=3)
    with DagsterInstance.from_config(str(home)) as instance:
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config.max_concurrent_runs == 3
        assert (concurrency.pool_config.default_pool_limit, concurrency.pool_config.op_granularity_run_buffer) == (1, 4)
        assert type(instance.run_launcher).__name__ == "LocalRunLauncher" and type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_monitoring_enabled and instance.run_monitoring_poll_interval_seconds == 5 and not instance.telemetry_enabled
    config = home / "dagster.yaml"
    os.utime(config, ns=(0, 0))
    prepare_dagster_home(home, max_concurrent_runs=3)
    assert config.stat().st_mtime_ns == 0  # unchanged: not rewritten under the services reading it
    prepare_dagster_home(home)
    assert yaml.safe_load(config.read_text())["concurrency"]["runs"]["max_concurrent_runs"] == 4


def test_instance_config_prints_a_profiles_dagster_yaml():
    env = {key: value for key, value in os.environ.items() if key != "TRACEKD_DEPLOYMENT"}

    def printed(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([TRACEKD, "instance-config", *args], env={**env, **extra}, capture_output=True, text=True, timeout=120)

    cluster = printed("--profile", "cluster", "--max-concurrent-runs", "8")
    assert cluster.returncode == 0, cluster.stderr
    config = yaml.safe_load(cluster.stdout)
    assert shared_settings(config) == SHARED and config["concurrency"]["runs"]["max_concurrent_runs"] == 8
    assert config["run_launcher"]["config"]["instance_config_map"] == "tracekd-dagster-instance"
    assert config["event_log_storage"]["config"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    assert "&" not in cluster.stdout and "*" not in cluster.stdout  # the shared Postgres settings in full, no YAML aliases
    assert yaml.safe_load(printed().stdout)["run_launcher"]["class"] == "LocalRunLauncher"  # no profile, no TRACEKD_DEPLOYMENT: local
    assert yaml.safe_load(printed(TRACEKD_DEPLOYMENT="cluster").stdout)["run_launcher"]["class"] == "K8sRunLauncher"
    wrong = printed(TRACEKD_DEPLOYMENT="clustr")
    assert wrong.returncode == 2 and "one of local, cluster" in wrong.stderr and wrong.stdout == ""
