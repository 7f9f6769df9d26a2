"""Partitions: datasets, trace conditions, and their product for per-student assets."""

from dagster import MultiPartitionKey, MultiPartitionsDefinition, StaticPartitionsDefinition

from tracekd_ops.traces.conditions import CONDITIONS
from tracekd_ops.datasets import dataset_names

dataset_partitions = StaticPartitionsDefinition(list(dataset_names()))
condition_partitions = StaticPartitionsDefinition(list(CONDITIONS))
run_partitions = MultiPartitionsDefinition({"dataset": dataset_partitions, "condition": condition_partitions})


def run_key(dataset: str, condition: str) -> MultiPartitionKey:
    return MultiPartitionKey({"dataset": dataset, "condition": condition})


def split_run_key(key: MultiPartitionKey) -> tuple[str, str]:
    """(dataset, condition) of a run partition key."""
    return key.keys_by_dimension["dataset"], key.keys_by_dimension["condition"]
