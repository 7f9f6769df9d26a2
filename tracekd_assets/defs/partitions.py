"""Partitions: datasets, trace conditions, and their product for per-student assets."""

from dagster import MultiPartitionKey, MultiPartitionsDefinition, StaticPartitionsDefinition

from tracekd_ops.datasets import DatasetSpec, dataset_names, dataset_spec
from tracekd_ops.traces.conditions import CONDITIONS, Condition, condition

dataset_partitions = StaticPartitionsDefinition(list(dataset_names()))
condition_partitions = StaticPartitionsDefinition(list(CONDITIONS))
run_partitions = MultiPartitionsDefinition({"dataset": dataset_partitions, "condition": condition_partitions})


def run_key(dataset: str, condition: str) -> MultiPartitionKey:
    return MultiPartitionKey({"dataset": dataset, "condition": condition})


def split_run_key(key: MultiPartitionKey | str) -> tuple[str, str]:
    """(dataset, condition) of a run partition key; a run submitted with only its `dagster/partition`
    tag hands its assets the key as a plain string (`condition|dataset`)."""
    parts = key if isinstance(key, MultiPartitionKey) else run_partitions.get_partition_key_from_str(key)
    return parts.keys_by_dimension["dataset"], parts.keys_by_dimension["condition"]


def resolve_run_key(key: MultiPartitionKey | str) -> tuple[DatasetSpec, Condition]:
    """The dataset spec and trace condition a run partition key names, resolved once here so the
    steps are handed what they mean, not names to look up."""
    dataset, name = split_run_key(key)
    return dataset_spec(dataset), condition(name)
