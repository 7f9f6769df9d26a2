"""Where steps run and how many at once: Dagster pools (concurrency limits shared by every run of
the instance) and the pod shape of GPU steps on the cluster profile."""

DUCKDB_POOL = "duckdb"
"""Steps whose work is writing DuckDB (one writing process per file): limit 1 in the instance config."""

GPU_STEP_TAGS = {"dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}}}
"""Op tags of the steps that want a GPU (training, batched generation): on the `cluster` profile
the k8s executor gives their pod one GPU; other executors ignore the tag."""
