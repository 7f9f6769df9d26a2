"""Datasets the platform knows: how to get their records, their class labels, their answer rule.

One `DatasetSpec` per dataset is the only place that ties a dataset name to its format-specific
pieces; traces, students and evaluation look a dataset up here and know nothing else about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from tracekd_ops.records import QARecord
from tracekd_ops.scoring import AnswerScorer, babi_answer_correct


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    labels: tuple[str, ...]
    """The known classification labels (the class step's answer set)."""
    answer_correct: AnswerScorer


def _synthetic_spec() -> DatasetSpec:
    from tracekd_ops.datasets import synthetic

    return DatasetSpec(synthetic.DATASET, synthetic.TASKS, babi_answer_correct)


_SPECS: dict[str, Callable[[], DatasetSpec]] = {"synthetic": _synthetic_spec}
DATASET_NAMES: tuple[str, ...] = tuple(_SPECS)


def dataset_spec(name: str) -> DatasetSpec:
    try:
        return _SPECS[name]()
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(_SPECS)}") from None


def split_records(records: Sequence[QARecord], split: str) -> list[QARecord]:
    return [r for r in records if r.split == split]
