"""Which questions of a loaded dataset an experiment uses, and how they split into train and test.

`reference` reproduces the reference study's subsets, as each dataset's spec states them
(`ProtocolRules`): bAbI tasks 1, 2, 4, 7, 8, 12, 14, 15, 16, 17, 18, first question of each story,
test a seeded 10% sample of each task's test file; CoTempQA an 80/20 split stratified by relation
with a fixed seed; MS MARCO the first 1,000 train and 200 validation (our `test`) queries of each
query type. `full` keeps every question (records without a split of their own still get the seeded
holdout split). Both can cap the questions per (split, category) for small runs.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from typing import Iterable

from tracekd_ops.core.records import QARecord
from tracekd_ops.datasets.specs import ProtocolRules

PROTOCOLS = ("reference", "full")


def _seeded_sample(records: list[QARecord], share: float, seed: int, salt: str) -> set[str]:
    rng = random.Random(f"{seed}/{salt}")
    chosen = rng.sample(records, round(len(records) * share))
    return {r.example_id for r in chosen}


def apply_protocol(
    rules: ProtocolRules, records: Iterable[QARecord], protocol: str, seed: int = 0, per_category_limit: int | None = None
) -> list[QARecord]:
    """One dataset's records under its protocol `rules` (`DatasetSpec.protocol`)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    reference = protocol == "reference"
    by_group: dict[tuple[str, str], list[QARecord]] = defaultdict(list)
    for record in records:
        if reference and rules.reference_keep is not None and not rules.reference_keep(record):
            continue
        by_group[(record.split, record.category)].append(record)
    kept: list[QARecord] = []
    for (split, category), group in sorted(by_group.items()):
        if split == "all":  # no split of its own: seeded, stratified by category
            test_ids = _seeded_sample(group, rules.holdout_share, seed, category)
            group = [replace(r, split="test" if r.example_id in test_ids else "train") for r in group]
        elif split == "test" and reference and rules.reference_test_share is not None:
            test_ids = _seeded_sample(group, rules.reference_test_share, seed, category)
            group = [r for r in group if r.example_id in test_ids]
        cap = (rules.reference_cap or {}).get(split) if reference else None
        if cap is not None:
            group = group[:cap]
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
