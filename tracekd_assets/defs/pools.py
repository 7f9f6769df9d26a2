"""Where steps run and how many at once: the Dagster pools (concurrency limits shared by every run
of the instance, declared here with their limits) and the pod shape of GPU steps on the cluster
profile. `apply_pool_limits` writes the limits into an instance; `tracekd demo`, `tracekd run`
and `tracekd dev` do it for theirs, `tracekd pools` for any other (a cluster's)."""

from __future__ import annotations

import os
from typing import Any

from tracekd_assets.home import HOME_VARIABLE, STORE_DATA_VARIABLE, STORE_VARIABLE, lake_store

DUCKDB_POOL = "duckdb"
"""Steps whose work is writing the results store: limit 1 on the DuckDB file (one writing process per
file); on a DuckLake store (`TRACEKD_STORE=ducklake:...`), whose writers take turns only to commit,
`TRACEKD_STORE_WRITER_SLOTS` (default 8)."""
TRAINING_POOL = "training"
"""Steps that train or generate with a student (one GPU each on the cluster): limit
`TRACEKD_TRAINING_SLOTS`, the GPUs (or, on one CPU machine, the students trained side by side)."""
TEACHER_POOL = "teacher_endpoint"
"""Steps that ask the teacher (each with `max_concurrency` requests per endpoint): limit
`TRACEKD_TEACHER_SLOTS`, so several runs cannot overload the endpoints together."""


def pool_limits() -> dict[str, int]:
    """Every pool TraceKD's assets use, with its limit (a test checks that none is missing)."""
    writers = _slots("TRACEKD_STORE_WRITER_SLOTS", 8) if lake_store() else 1
    limits = {DUCKDB_POOL: writers, TRAINING_POOL: _slots("TRACEKD_TRAINING_SLOTS", 4), TEACHER_POOL: _slots("TRACEKD_TEACHER_SLOTS", 1)}
    return limits


def _slots(variable: str, default: int) -> int:
    value = os.environ.get(variable, str(default))
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{variable} must be a whole number of slots, 1 or more; got {value!r}")
    return int(value)


def apply_pool_limits(instance: Any) -> dict[str, int]:
    """Set every pool's limit in the instance's storage (idempotent); the limits set."""
    limits = pool_limits()
    for pool, limit in limits.items():
        if instance.event_log_storage.get_concurrency_info(pool).slot_count != limit:
            instance.event_log_storage.set_concurrency_slots(pool, limit)
    return limits


CLUSTER_ENV_VARS = ["TRACEKD_DEPLOYMENT", HOME_VARIABLE, STORE_VARIABLE, STORE_DATA_VARIABLE, "TRACEKD_K8S_NAMESPACE"]
"""Settings every step pod and training pod gets from the process that launches it (plain values)."""
CLUSTER_SECRET = "tracekd-secrets"
"""The Kubernetes secret with every credential (PGPASSWORD, DAGSTER_PG_PASSWORD, HF_TOKEN,
TRACEKD_TEACHER_API_KEY): pods take it as a whole, so no credential is copied into a pod spec."""
HOME_VOLUME = {"name": "tracekd-home", "persistent_volume_claim": {"claim_name": "tracekd-home"}}
HOME_MOUNT = {"name": "tracekd-home", "mount_path": "/tracekd"}
"""`TRACEKD_HOME` on the cluster: one volume every pod mounts (deploy/values.yaml says the same)."""


def training_pod_spec(processes: int) -> dict[str, Any]:
    """The pod `PipesK8sClient` starts for a `torchrun` over `processes` GPUs: one GPU per process,
    the home volume (the job file, checkpoints and the student are there), the credentials secret."""
    return {
        "containers": [{
            "resources": {"limits": {"nvidia.com/gpu": str(processes)}},
            "volume_mounts": [HOME_MOUNT],
            "env_from": [{"secret_ref": {"name": CLUSTER_SECRET}}],
        }],
        "volumes": [HOME_VOLUME],
        "restart_policy": "Never",
    }  # fmt: skip


GPU_ASSET_TAGS = {"compute": "gpu"}
"""The assets whose steps want a GPU (training, generation): `dagster asset materialize --select
'tag:compute=gpu'`, or the UI's filter, finds them."""
GPU_STEP_TAGS = {"dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}}}
"""Op tags of a step that wants a GPU in its own pod (batched generation): on the `cluster`
profile the k8s executor gives the pod one GPU; other executors ignore the tag. Training asks in
the pod it starts (`training_pod_spec`), not in the step's."""
