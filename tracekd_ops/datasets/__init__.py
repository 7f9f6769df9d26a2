"""Datasets: sources (files, Hub ids, the generator) turned into canonical `QARecord`s.

Owns the dataset specs (`specs.py`: what a dataset is; `catalog.py`: the only place a dataset name means anything), the loaders of
each published format, the answer rules, and the split protocol. Imports only `core`: it knows
nothing of traces, training, storage or Dagster.
"""

from tracekd_ops.datasets.catalog import dataset_names, dataset_spec, load_source, loadable_datasets, scorer_versions
from tracekd_ops.datasets.inspection import inspect_dataset
from tracekd_ops.datasets.specs import DatasetSpec, split_records

__all__ = [
    "DatasetSpec", "dataset_names", "dataset_spec", "inspect_dataset", "load_source", "loadable_datasets",
    "scorer_versions", "split_records",
]  # fmt: skip
