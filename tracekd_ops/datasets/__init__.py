"""Datasets the platform knows: how to get their records, their class labels, their answer rule.

One `DatasetSpec` per dataset is the only place that ties a dataset name to its format-specific
pieces; traces, students and evaluation look a dataset up here and know nothing else about it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from tracekd_ops.records import QARecord
from tracekd_ops.scoring import AnswerScorer, babi_answer_correct, cotempqa_answer_correct, msmarco_answer_correct


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    labels: tuple[str, ...]
    """The known classification labels (the class step's answer set)."""
    answer_correct: AnswerScorer
    load: Callable[..., Iterable[QARecord]] | None = None
    """Reads the dataset from a file or folder; None for generated data."""


def _synthetic_spec() -> DatasetSpec:
    from tracekd_ops.datasets import synthetic

    return DatasetSpec(synthetic.DATASET, synthetic.TASKS, babi_answer_correct)


def _babi_spec() -> DatasetSpec:
    from tracekd_ops.datasets import babi

    return DatasetSpec(babi.DATASET, babi.LABELS, babi_answer_correct, babi.load_babi)


def _cotempqa_spec() -> DatasetSpec:
    from tracekd_ops.datasets import cotempqa

    return DatasetSpec(cotempqa.DATASET, cotempqa.LABELS, cotempqa_answer_correct, cotempqa.load_cotempqa)


def _msmarco_spec() -> DatasetSpec:
    from tracekd_ops.datasets import msmarco

    return DatasetSpec(msmarco.DATASET, msmarco.LABELS, msmarco_answer_correct, msmarco.load_msmarco)


_SPECS: dict[str, Callable[[], DatasetSpec]] = {
    "synthetic": _synthetic_spec,
    "babi": _babi_spec,
    "cotempqa": _cotempqa_spec,
    "msmarco": _msmarco_spec,
}
DATASET_NAMES: tuple[str, ...] = tuple(_SPECS)


def dataset_spec(name: str) -> DatasetSpec:
    try:
        return _SPECS[name]()
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(_SPECS)}") from None


def split_records(records: Sequence[QARecord], split: str) -> list[QARecord]:
    return [r for r in records if r.split == split]


def load_source(name: str, source: str | Path, **options: str) -> Iterable[QARecord]:
    """Records of a file dataset from a path, or from the Hub given `hf:<repo id>[:<config>]`.
    `options` are the loader's own (MS MARCO: `gold_rule`)."""
    from tracekd_ops.datasets.hub import HF_PREFIX, HubSource, load_from_hub

    spec = dataset_spec(name)
    if spec.load is None:
        raise ValueError(f"dataset {name!r} is generated, not loaded")
    if str(source).startswith(HF_PREFIX):
        return load_from_hub(name, HubSource.parse(str(source)), **options)
    return spec.load(Path(source), **options)


def loadable_datasets() -> tuple[str, ...]:
    """Datasets read from files (as opposed to generated)."""
    return tuple(name for name in _SPECS if dataset_spec(name).load is not None)


def inspect_dataset(name: str, path: Path | str, **options: str) -> dict[str, object]:  # path: file, folder or hf: id
    """What `tracekd datasets inspect` prints: sizes per split and category, and how many
    questions the decomposition rule gives exactly one, several or no gold fact."""
    by_split: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    gold: Counter[str] = Counter({"one": 0, "several": 0, "none": 0})
    for record in load_source(name, path, **options):
        by_split[record.split] += 1
        by_category[record.category] += 1
        count = len(record.gold_fact_ids)
        gold["none" if count == 0 else "one" if count == 1 else "several"] += 1
    return {
        "dataset": name,
        "path": str(path),
        "questions": sum(by_split.values()),
        "by_split": dict(sorted(by_split.items())),
        "by_category": dict(sorted(by_category.items())),
        "gold_facts": dict(gold),
    }
