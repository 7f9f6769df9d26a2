"""The `cluster` deployment profile, as far as one machine can run it for real: the Dagster
instance of its profile in tracekd_assets/instance.yaml on a real Postgres server (Debian's
packages, a throwaway data directory, loopback only), concurrent runs queueing on the `duckdb` pool
there, the code location on the profile (k8s executor, GPU pod requests), and the Helm values and
image kept in step."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterInstance
from dagster._utils.concurrency import ConcurrencySlotStatus

from tests.assets.test_duckdb_pool import step_intervals
from tests.postgres import postgres_bin, running_postgres
from tracekd_assets.instance import INSTANCE_FILE, instance_config, instance_yaml
from tracekd_ops.steps.catalog import CATALOG
from tracekd_ops.store.store import Store

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def cluster_instance(dagster_home: Path) -> Path:
    """A Dagster home with the cluster profile's instance file, as `tracekd instance-config --profile cluster` writes it."""
    dagster_home.mkdir(exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(instance_yaml("cluster"))
    return dagster_home


@pytest.fixture
def postgres():
    if postgres_bin() is None:
        pytest.skip("Postgres is not installed (scripts/debian_packages.sh installs it as root)")
    with running_postgres() as server:
        yield server


def test_steps_claiming_a_pool_slot_at_the_same_instant_never_double_book_it(tmp_path, postgres, monkeypatch):
    """dagster-postgres's own claim double-books a slot under contention (10 of 20 tries below gave
    2 or more claims to 8 claimers of a 1-slot pool, and once in CI two runs' `duckdb` steps ran
    together); the cluster profile's instance claims atomically."""
    cluster_instance(tmp_path)
    for name, value in postgres.dagster_env().items():
        monkeypatch.setenv(name, value)
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        storage = instance.event_log_storage
        assert type(storage).__name__ == "AtomicSlotPostgresEventLogStorage"
        storage.set_concurrency_slots("duckdb", 1)
        claims_per_try = []
        for attempt in range(20):
            barrier, claimed = threading.Barrier(8), []

            def claim(run: int) -> None:
                barrier.wait()
                if storage._claim_concurrency_slot("duckdb", f"run-{attempt}-{run}", "raw_examples") == ConcurrencySlotStatus.CLAIMED:
                    claimed.append(run)

            claimers = [threading.Thread(target=claim, args=(run,)) for run in range(8)]
            for thread in claimers:
                thread.start()
            for thread in claimers:
                thread.join()
            claims_per_try.append(len(claimed))
            storage.free_concurrency_slots_for_run(f"run-{attempt}-{claimed[0]}")
    assert claims_per_try == [1] * 20, claims_per_try


def test_concurrent_runs_on_the_postgres_instance_take_the_duckdb_pool_in_turn(tmp_path, postgres, monkeypatch):
    """On the cluster profile's instance a pool slot is claimed atomically, so unlike the local
    profile's SQLite (see test_duckdb_pool) the `duckdb` steps of concurrent runs never overlap."""
    dagster_home = cluster_instance(tmp_path / "dagster")
    env = {**os.environ, **postgres.dagster_env(), "DAGSTER_HOME": str(dagster_home), "TRACEKD_HOME": str(tmp_path / "home")}
    env.pop("TRACEKD_DEPLOYMENT", None)  # steps in processes here: the k8s executor needs a cluster
    for name, value in postgres.dagster_env().items():
        monkeypatch.setenv(name, value)
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.get_ref().run_launcher_data.class_name == "K8sRunLauncher"  # configured, loaded when a run launches
    # as a deployment does before its first runs: concurrent first steps of a pool with no row yet
    # race to create it on Postgres (an IntegrityError in one run, seen here without this)
    pools = subprocess.run([str(Path(sys.executable).parent / "tracekd"), "pools"], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert pools.returncode == 0 and "pool limits: duckdb 1, training 4, teacher_endpoint 1" in pools.stdout, pools.stderr[-2000:]
    config = tmp_path / "small.yaml"
    config.write_text(json.dumps({"resources": {"experiment": {"config": {"synthetic_train_per_task": 1500, "synthetic_test_per_task": 20}}}}))
    command = [
        str(Path(sys.executable).parent / "dagster"), "job", "execute", "-m", "tracekd_assets.definitions",
        "-a", "defs", "-j", "raw_examples_job", "--tags", json.dumps({"dagster/partition": "synthetic"}), "-c", str(config),
    ]  # fmt: skip
    logs = [tmp_path / f"run{i}.log" for i in range(3)]
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT) for log in logs]
    for process in processes:
        process.wait(timeout=600)
    assert [p.returncode for p in processes] == [0, 0, 0], "\n".join(log.read_text()[-3000:] for log in logs)
    assert any("blocked by limit for pool duckdb" in log.read_text() for log in logs)
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        intervals = step_intervals(instance, "raw_examples")
        assert instance.get_runs_count() == 3
    assert len(intervals) == 3
    assert all(end <= next_start for (_, end), (next_start, _) in zip(intervals, intervals[1:])), intervals
    rows = Store(tmp_path / "home" / "tracekd.duckdb", tables=CATALOG).rows("SELECT count(*) AS n, count(DISTINCT example_id) AS ids FROM raw_examples")
    assert rows[0]["n"] == rows[0]["ids"] > 0


def test_the_code_location_on_the_cluster_profile_runs_steps_as_kubernetes_jobs_with_gpu_pods(tmp_path):
    env = {**os.environ, "TRACEKD_DEPLOYMENT": "cluster", "TRACEKD_K8S_NAMESPACE": "tracekd", "DAGSTER_HOME": str(tmp_path)}
    script = (
        "from tracekd_assets.definitions import defs; from dagster import AssetKey; import json;"
        "tags = lambda name: defs.resolve_assets_def(AssetKey(name)).op.tags.get('dagster-k8s/config');"
        "print(json.dumps({'executor': defs.resolve_implicit_global_asset_job_def().executor_def.name,"
        " 'student': tags('student'), 'predictions': tags('predictions'), 'raw': tags('raw_examples')}))"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["executor"] == "tracekd_k8s_job_executor"
    assert json.loads(seen["predictions"])["container_config"]["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert seen["raw"] is None  # data steps ask for no GPU
    assert seen["student"] is None  # it waits for its training pod, which holds the GPUs
    validate = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-m", "tracekd_assets.definitions"],
                              env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert validate.returncode == 0, validate.stdout[-2000:] + validate.stderr[-2000:]
    wrong = subprocess.run([sys.executable, "-c", "import tracekd_assets.definitions"], env={**env, "TRACEKD_DEPLOYMENT": "clustr"},
                           capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert wrong.returncode != 0 and "TRACEKD_DEPLOYMENT must be one of local, cluster; got 'clustr'" in wrong.stderr


def test_helm_values_and_the_instance_file_say_the_same():
    instance = instance_config("cluster")
    values = yaml.safe_load((DEPLOY / "values.yaml").read_text())
    assert values["runLauncher"]["type"] == instance["run_launcher"]["class"] == "K8sRunLauncher"
    assert values["concurrency"]["pools"]["defaultLimit"] == instance["concurrency"]["pools"]["default_limit"] == 1
    assert values["concurrency"]["pools"]["granularity"] == instance["concurrency"]["pools"]["granularity"] == "op"
    assert values["concurrency"]["runs"]["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert values["telemetry"]["enabled"] is instance["telemetry"]["enabled"] is False
    monitoring, run_monitoring = values["dagsterDaemon"]["runMonitoring"], instance["run_monitoring"]
    assert monitoring["enabled"] is run_monitoring["enabled"] is True
    assert (monitoring["startTimeoutSeconds"], monitoring["pollIntervalSeconds"], monitoring["freeSlotsAfterRunEndSeconds"]) == (
        run_monitoring["start_timeout_seconds"], run_monitoring["poll_interval_seconds"], run_monitoring["free_slots_after_run_end_seconds"])  # fmt: skip
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env["TRACEKD_DEPLOYMENT"] == "cluster" and deployment["dagsterApiGrpcArgs"] == ["-m", "tracekd_assets.definitions"]
    assert env["TRACEKD_STORE"].startswith("ducklake:postgres:") and "password" not in env["TRACEKD_STORE"]
    text = (DEPLOY / "values.yaml").read_text() + INSTANCE_FILE.read_text()
    assert "password:" not in text.replace("password: {env: DAGSTER_PG_PASSWORD}", "")  # secrets come from the environment
    assert {instance[storage]["config"]["postgres_db"]["password"]["env"] for storage in ("run_storage", "event_log_storage", "schedule_storage")} == {"DAGSTER_PG_PASSWORD"}  # fmt: skip


def test_the_image_builds(tmp_path):
    if shutil.which("docker") is None:
        pytest.skip("no docker on this machine: deploy/Dockerfile is not built here")
    if subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode != 0:
        pytest.skip("the docker CLI is here but no Docker daemon answers: deploy/Dockerfile is not built here")
    result = subprocess.run(["docker", "build", "-f", str(DEPLOY / "Dockerfile"), "-t", "tracekd-test", str(ROOT)],
                            capture_output=True, text=True, timeout=3600)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_asset_keys_are_the_same_on_both_profiles(tmp_path):
    script = "from tracekd_assets.definitions import defs; print(sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()))"
    outputs = []
    for profile in ("local", "cluster"):
        env = {**os.environ, "TRACEKD_DEPLOYMENT": profile, "TRACEKD_K8S_NAMESPACE": "tracekd", "DAGSTER_HOME": str(tmp_path)}
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert result.returncode == 0, result.stderr[-2000:]
        outputs.append(result.stdout.strip().splitlines()[-1])
    assert outputs[0] == outputs[1] and str(AssetKey("student").to_user_string()) in outputs[0]


def test_runs_on_a_ducklake_store_write_partitions_at_once_and_the_report_reads_it(tmp_path, postgres, monkeypatch):
    """The cluster profile's results store: DuckLake with its catalog on the same Postgres as the
    instance. Runs materialize different partitions of the same tables at once (three datasets'
    raw examples, then two conditions' traces -> student -> predictions -> metrics), their steps
    overlap (the `duckdb` pool is wide on a lake), and the report job and `tracekd query` read what
    they wrote: every row once."""
    import psycopg2

    from tests.conftest import SHARED_DATA
    from tracekd_ops.store.lake import LakeStore

    admin = psycopg2.connect(f"dbname={postgres.db} host={postgres.host} port={postgres.port} user={postgres.user}")
    admin.autocommit = True
    admin.cursor().execute("CREATE DATABASE lake")
    admin.close()
    conninfo = f"dbname=lake host={postgres.host} port={postgres.port} user={postgres.user}"
    dagster_home, home = cluster_instance(tmp_path / "dagster"), tmp_path / "home"
    env = {**os.environ, **postgres.dagster_env(), "DAGSTER_HOME": str(dagster_home), "TRACEKD_HOME": str(home),
           "TRACEKD_STORE": f"ducklake:postgres:{conninfo}"}  # fmt: skip
    env.pop("TRACEKD_DEPLOYMENT", None)
    bin_dir = Path(sys.executable).parent
    pools = subprocess.run([str(bin_dir / "tracekd"), "pools"], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert pools.returncode == 0 and "duckdb 8" in pools.stdout, pools.stdout + pools.stderr[-2000:]
    config = tmp_path / "small.yaml"
    config.write_text(json.dumps({"resources": {"experiment": {"config": {
        "synthetic_train_per_task": 30, "synthetic_test_per_task": 6, "per_category_limit": 3, "eval_batch_size": 16, "eval_max_new_tokens": 40,
        "sources": {"babi": str(SHARED_DATA / "babi" / "tasks_1-20_v1-2" / "en"), "cotempqa": str(SHARED_DATA / "cotempqa")},
        "training": {"max_steps": 3, "batch_size": 8, "model": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64}},
    }}}}))  # fmt: skip

    def runs(job: str, partitions: list[dict[str, str]]) -> None:
        logs = [tmp_path / f"{job}{i}.log" for i in range(len(partitions))]
        processes = [
            subprocess.Popen([str(bin_dir / "dagster"), "job", "execute", "-m", "tracekd_assets.definitions", "-a", "defs", "-j", job,
                              "-c", str(config), "--tags", json.dumps(tags)], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
            for tags, log in zip(partitions, logs)
        ]  # fmt: skip
        for process in processes:
            process.wait(timeout=900)
        assert [p.returncode for p in processes] == [0] * len(processes), "\n".join(log.read_text()[-3000:] for log in logs)

    runs("raw_examples_job", [{"dagster/partition": d} for d in ("synthetic", "babi", "cotempqa")])
    runs("condition_job", [{"dagster/partition": f"{c}|synthetic", "dagster/partition/condition": c, "dagster/partition/dataset": "synthetic"}
                           for c in ("solution_only", "correct")])  # fmt: skip
    runs("report_job", [{}])

    for name, value in postgres.dagster_env().items():
        monkeypatch.setenv(name, value)
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        raw = step_intervals(instance, "raw_examples")
    assert len(raw) == 3 and any(start < end for (_, end), (start, _) in zip(raw, raw[1:])), raw  # steps overlapped
    assert not (home / "tracekd.duckdb").exists()  # everything went to the lake
    lake = LakeStore(conninfo, home / "lake", tables=CATALOG)
    counts = lake.rows("SELECT dataset, count(*) AS n, count(DISTINCT (split, example_id)) AS ids FROM raw_examples GROUP BY ALL ORDER BY dataset")
    assert [c["dataset"] for c in counts] == ["babi", "cotempqa", "synthetic"] and all(c["n"] == c["ids"] > 0 for c in counts), counts
    metrics = lake.rows("SELECT condition, count(*) AS n FROM metrics GROUP BY ALL ORDER BY condition")
    assert metrics == [{"condition": "correct", "n": 1}, {"condition": "solution_only", "n": 1}]
    query = subprocess.run([str(bin_dir / "tracekd"), "query", "--format", "csv", "SELECT condition, n FROM condition_comparison ORDER BY condition"],
                           env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert query.returncode == 0 and query.stdout.splitlines()[0] == "condition,n", query.stdout + query.stderr[-2000:]
    assert [line.split(",")[0] for line in query.stdout.splitlines()[1:]] == ["correct", "solution_only"]
    report = (home / "reports" / "report.html").read_text()
    assert "solution_only" in report and "correct" in report


def test_on_the_cluster_every_student_trains_in_a_pod_of_its_own_and_locally_only_when_asked(monkeypatch):
    """The student step's pod holds no GPU, so training must never run inside it on the cluster:
    with `training_processes` 0 it too goes to a pod (which needs the image to run); locally 0
    means in the step's process."""
    from tracekd_assets.defs.students.launch import training_launcher

    monkeypatch.delenv("TRACEKD_IMAGE", raising=False)
    monkeypatch.delenv("DAGSTER_CURRENT_IMAGE", raising=False)
    for processes in (0, 2):
        with pytest.raises(ValueError, match="training in a pod needs the image"):
            training_launcher(None, processes, "cluster")  # type: ignore[arg-type]
    monkeypatch.setenv("TRACEKD_IMAGE", "registry.example.org/tracekd:0.1.0")
    assert callable(training_launcher(None, 0, "cluster"))  # type: ignore[arg-type]
    assert training_launcher(None, 0, "local") is None  # type: ignore[arg-type]
    assert callable(training_launcher(None, 2, "local"))  # type: ignore[arg-type]


def test_a_training_pod_asks_for_a_gpu_per_process_mounts_the_home_and_carries_no_credential(monkeypatch, faults):
    """`training_processes` on the cluster: the pod PipesK8sClient would create, built by
    dagster-k8s's own pod builder into a Kubernetes V1Pod (no cluster here to run it)."""
    from dagster_k8s.pipes import build_pod_body

    from tracekd_assets.defs.pools import CLUSTER_SECRET, training_pod_spec
    from tracekd_assets.defs.students.launch import torchrun_command

    command = torchrun_command(4, Path("/tracekd/work/job.json"))
    pod = build_pod_body("train", "registry.example.org/tracekd:0.1.0", command, {"TRACEKD_HOME": "/tracekd"}, None, training_pod_spec(4))
    (container,) = pod.spec.containers
    assert container.resources.limits == {"nvidia.com/gpu": "4"}
    assert container.command[:3] == ["torchrun", "--standalone", "--nproc-per-node=4"] and container.command[-1] == "/tracekd/work/job.json"
    assert [(m.name, m.mount_path) for m in container.volume_mounts] == [("tracekd-home", "/tracekd")]
    assert pod.spec.volumes[0].persistent_volume_claim.claim_name == "tracekd-home"
    assert container.env_from[0].secret_ref.name == CLUSTER_SECRET  # credentials by reference, never as values
    assert pod.spec.restart_policy == "Never"
    faults.held("secret")
