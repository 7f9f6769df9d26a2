"""What `tracekd datasets inspect` shows: what the files hold, and what a split protocol would use of it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence

from tracekd_ops.core.records import QARecord
from tracekd_ops.datasets.catalog import dataset_spec, load_source
from tracekd_ops.datasets.files import READ_LIMITS, ReadLimits
from tracekd_ops.datasets.protocol import apply_protocol


def inspect_dataset(
    name: str, path: Path | str, limits: ReadLimits = READ_LIMITS, protocol: str | None = None, **options: str
) -> dict[str, object]:
    """What `tracekd datasets inspect` prints: sizes per split and category, how many questions the
    decomposition rule gives exactly one, several or no gold fact, and, given a protocol, what it
    would use of them (questions per split and category)."""
    by_split: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    gold: Counter[str] = Counter({"one": 0, "several": 0, "none": 0})
    loaded = load_source(name, path, limits, **options)
    records = list(loaded)
    for record in records:
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
        "left_out": dict(sorted(loaded.left_out.items())),
        "notes": dict(sorted(loaded.notes.items())),
        **({"protocol": protocol_use(apply_protocol(dataset_spec(name).protocol, records, protocol), protocol)} if protocol else {}),
    }


def protocol_use(records: Sequence[QARecord], protocol: str) -> dict[str, object]:
    """What a protocol uses of a dataset: questions per split, and per split and category."""
    return {
        "name": protocol,
        "questions": len(records),
        "by_split": dict(sorted(Counter(r.split for r in records).items())),
        "by_split_category": dict(sorted(Counter(f"{r.split}/{r.category}" for r in records).items())),
    }
