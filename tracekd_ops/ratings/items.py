"""Rating items: what a participant is shown (the question with its facts, a trace, the answer),
sampled from the stored trace sets, balanced across conditions, seeded, with attention checks.

An item's trace is the very completion the student was trained on in its condition (the stored
`traces.completion`, markup and answer included): what people rate is what the student learned
from, not a rewording of it. The rating page's instructions explain its labels (`glossary.py`).

An item set is versioned like a trace set: its version is a content hash of its items and the
protocol version, so the same traces, seed and sizes always give the same version, and every
rating carries the item set and trace set it was given on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from tracekd_ops.ratings.study import ATTENTION_EXPECTED, ATTENTION_TEXT, ITEMS_VERSION, OrderItem
from tracekd_ops.traces.render import parse_completion, split_prompt


@dataclass(frozen=True)
class RatingItem:
    item_id: str
    """Opaque (a hash): a participant must not learn the condition from the page."""
    dataset: str
    condition: str
    trace_set_version: str
    example_id: str
    facts: str
    question: str
    trace: str
    """The training completion as the condition rendered it (attention checks: their instruction)."""
    answer: str
    trace_words: int
    trace_corrupted: bool
    """A step of the trace differs from the question's gold step (e.g. `incorrect`, `swapped`)."""
    attention_check: bool = False
    expected_interpretability: int | None = None
    expected_cognitive_load: int | None = None

    def as_order_item(self) -> OrderItem:
        return OrderItem(self.item_id, self.condition, self.attention_check, self.example_id)

    def expected(self) -> dict[str, int | None]:
        return {"interpretability": self.expected_interpretability, "cognitive_load": self.expected_cognitive_load}


@dataclass(frozen=True)
class ItemSet:
    version: str
    dataset: str
    conditions: tuple[str, ...]
    trace_set_versions: dict[str, str]
    seed: int
    per_condition: int
    attention_checks: int
    paired: bool
    """True when every condition shows the same questions (differences come from the traces)."""
    items: tuple[RatingItem, ...]

    def summary_row(self) -> dict[str, Any]:
        return {"item_set_version": self.version, "dataset": self.dataset, "conditions": list(self.conditions),
                "trace_set_versions": json.dumps(self.trace_set_versions, sort_keys=True), "seed": self.seed,
                "per_condition": self.per_condition, "attention_checks": self.attention_checks, "paired": self.paired,
                "items": len(self.items)}  # fmt: skip

    def item_rows(self) -> list[dict[str, Any]]:
        return [{"item_set_version": self.version, **dataclasses.asdict(item)} for item in self.items]


def _item_id(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:12]


def _differs_from_gold(row: Mapping[str, Any]) -> bool:
    """A stated step that is not the question's gold step (corrupted, or borrowed by `swapped`)."""
    wrong_class = row.get("rendered_class") is not None and row["rendered_class"] != row["gold_class"]
    facts = row.get("rendered_fact_ids")
    return wrong_class or (facts is not None and sorted(facts) != sorted(row["gold_fact_ids"]))


def _item(dataset: str, row: Mapping[str, Any], seed: int) -> RatingItem | None:
    """The item of one stored trace row; None for a row with no trace to rate (answer only). The
    trace shown is the row's completion, unchanged: the string the student was trained on."""
    think = parse_completion(row["completion"]).think
    if not think or not think.strip():
        return None
    facts, question = split_prompt(row["prompt"])
    return RatingItem(
        item_id=_item_id(seed, row["condition"], row["trace_set_version"], row["example_id"]),
        dataset=dataset, condition=row["condition"], trace_set_version=row["trace_set_version"],
        example_id=row["example_id"], facts=facts, question=question, trace=row["completion"],
        answer=row["rendered_answer"], trace_words=len(think.split()),
        trace_corrupted=_differs_from_gold(row),
    )  # fmt: skip


def sample_item_set(
    dataset: str,
    traces: Mapping[str, Sequence[Mapping[str, Any]]],
    per_condition: int,
    seed: int,
    attention_checks: int,
) -> ItemSet:
    """`per_condition` items of every condition that has traces to rate (conditions without a
    trace, like `solution_only`, are not rated); fewer, the same number in every condition, when a
    condition has fewer traces (the item set records how many). The same questions in every condition where the
    conditions share enough of them (paired), else an independent sample per condition.
    `traces`: condition -> stored `traces` rows of one trace set."""
    if per_condition < 1:
        raise ValueError(f"per_condition must be at least 1; got {per_condition}")
    if attention_checks < 0:
        raise ValueError(f"attention_checks must not be negative; got {attention_checks}")
    candidates: dict[str, dict[str, RatingItem]] = {}
    for name, rows in sorted(traces.items()):
        versions = {row["trace_set_version"] for row in rows}
        if len(versions) > 1:
            raise ValueError(f"{dataset}/{name}: rows of several trace sets ({', '.join(sorted(versions))}); give one")
        items = {item.example_id: item for item in (_item(dataset, row, seed) for row in rows) if item is not None}
        if items:
            candidates[name] = items
    if not candidates:
        raise ValueError(f"{dataset}: no trace set has traces to rate (materialize the traces of a trace-writing condition first)")
    per_condition = min(per_condition, *(len(items) for items in candidates.values()))
    rng = random.Random(seed)
    shared = sorted(set.intersection(*(set(items) for items in candidates.values())))
    paired = len(shared) >= per_condition
    chosen: list[RatingItem] = []
    questions = rng.sample(shared, per_condition) if paired else []
    for name, items in candidates.items():
        ids = questions if paired else rng.sample(sorted(items), per_condition)
        chosen += [items[example_id] for example_id in ids]
    pool = sorted({item.example_id: item for item in chosen}.values(), key=lambda i: (i.example_id, i.condition))
    for k in range(attention_checks):
        base = pool[rng.randrange(len(pool))]
        chosen.append(dataclasses.replace(
            base, item_id=_item_id(seed, "attention", k, base.example_id), condition="attention_check", trace=ATTENTION_TEXT,
            trace_words=len(ATTENTION_TEXT.split()), trace_corrupted=False, attention_check=True,
            expected_interpretability=ATTENTION_EXPECTED["interpretability"],
            expected_cognitive_load=ATTENTION_EXPECTED["cognitive_load"],
        ))  # fmt: skip
    trace_set_versions = {name: next(iter(items.values())).trace_set_version for name, items in candidates.items()}
    content = json.dumps([ITEMS_VERSION, dataset, [dataclasses.asdict(i) for i in chosen]], sort_keys=True)
    return ItemSet(
        version=hashlib.sha256(content.encode()).hexdigest()[:16], dataset=dataset, conditions=tuple(candidates),
        trace_set_versions=trace_set_versions, seed=seed, per_condition=per_condition,
        attention_checks=attention_checks, paired=paired, items=tuple(chosen),
    )  # fmt: skip
