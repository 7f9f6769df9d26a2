"""Which questions of a loaded dataset an experiment uses, and how they split into train and test.

`reference` reproduces the reference study's subsets:
- bAbI: tasks qa1, 2, 4, 7, 8, 12, 14, 15, 16, 17, 18, the first question of each story; train is
  the task's train file, test a seeded 10% sample of the task's test file;
- CoTempQA: an 80/20 train/test split stratified by relation with a fixed seed;
- MS MARCO: the first 1,000 train and 200 validation (our `test`) queries of each query type.
`full` keeps every question (CoTempQA still gets the seeded 80/20 split, having none of its own).
Both can cap the questions per (split, category) for small runs.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Iterable

from tracekd_ops.records import QARecord

PROTOCOLS = ("reference", "full")
REFERENCE_BABI_TASKS = frozenset({1, 2, 4, 7, 8, 12, 14, 15, 16, 17, 18})
REFERENCE_BABI_TEST_SHARE = 0.10
COTEMPQA_TEST_SHARE = 0.20
REFERENCE_MSMARCO_PER_TYPE = {"train": 1000, "test": 200}


def _seeded_sample(records: list[QARecord], share: float, seed: int, salt: str) -> set[str]:
    rng = random.Random(f"{seed}/{salt}")
    chosen = rng.sample(records, round(len(records) * share))
    return {r.example_id for r in chosen}


def _with_split(record: QARecord, split: str) -> QARecord:
    return QARecord(**{**record.__dict__, "split": split})


def apply_protocol(
    records: Iterable[QARecord], protocol: str, seed: int = 0, per_category_limit: int | None = None
) -> list[QARecord]:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    by_group: dict[tuple[str, str], list[QARecord]] = defaultdict(list)
    for record in records:
        if record.dataset == "babi" and protocol == "reference":
            if record.extra.get("task") not in REFERENCE_BABI_TASKS or record.extra.get("question_in_story") != 0:
                continue
        by_group[(record.split, record.category)].append(record)
    kept: list[QARecord] = []
    for (split, category), group in sorted(by_group.items()):
        if split == "all":  # no split of its own (CoTempQA): seeded, stratified by category
            test_ids = _seeded_sample(group, COTEMPQA_TEST_SHARE, seed, category)
            group = [_with_split(r, "test" if r.example_id in test_ids else "train") for r in group]
        elif split == "test" and protocol == "reference" and group[0].dataset == "babi":
            test_ids = _seeded_sample(group, REFERENCE_BABI_TEST_SHARE, seed, category)
            group = [r for r in group if r.example_id in test_ids]
        if protocol == "reference" and group[0].dataset == "msmarco":
            group = group[: REFERENCE_MSMARCO_PER_TYPE[split]]
        kept += group
    if per_category_limit is None:
        return kept
    counts: dict[tuple[str, str], int] = defaultdict(int)
    limited = []
    for record in kept:
        key = (record.split, record.category)
        if counts[key] < per_category_limit:
            counts[key] += 1
            limited.append(record)
    return limited
