"""Datasets: sources (files, Hub ids, the generator) turned into canonical `QARecord`s.

Owns the dataset specs (`specs.py`: the only place a dataset name means anything), the loaders of
each published format, the answer rules, and the split protocol. Imports only `core`: it knows
nothing of traces, training, storage or Dagster.
"""

from tracekd_ops.datasets.specs import (
    DatasetSpec,
    dataset_names,
    dataset_spec,
    inspect_dataset,
    load_source,
    loadable_datasets,
    scorer_versions,
    split_records,
)

__all__ = [
    "DatasetSpec", "dataset_names", "dataset_spec", "inspect_dataset", "load_source", "loadable_datasets",
    "scorer_versions", "split_records",
]  # fmt: skip
