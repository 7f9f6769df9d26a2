"""The canonical QA record every loader maps onto (see DESIGN.md).

Nothing downstream of a loader knows a source format: traces, students and scorers see only
`QARecord`s, so adding a dataset means adding a loader and a spec, not touching the pipeline.

Whitespace is normalised here, once, for every loader: runs of spaces, tabs and line breaks in the
question, the facts and the answers become one space, and ends are trimmed. A fact is one line of
a prompt, so a passage with line breaks cannot inject fake facts; `'June 18, 2015. '` and
`'June 18, 2015.'` are one answer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


def fold_whitespace(text: str) -> str:
    """Every run of whitespace (any Unicode space or line break) as one space, ends trimmed."""
    return " ".join(text.split())


@dataclass(frozen=True)
class Fact:
    """One context sentence with an id that is stable within its question (bAbI line number)."""

    id: int
    text: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", fold_whitespace(self.text))


@dataclass(frozen=True)
class QARecord:
    dataset: str
    split: str
    example_id: str
    category: str
    question: str
    facts: tuple[Fact, ...]
    answers: tuple[str, ...]
    gold_fact_ids: tuple[int, ...]
    source: str
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "question", fold_whitespace(self.question))
        object.__setattr__(self, "answers", tuple(a for a in (fold_whitespace(a) for a in self.answers) if a))
        ids = [f.id for f in self.facts]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self.source}: duplicate fact ids {ids}")
        missing = set(self.gold_fact_ids) - set(ids)
        if missing:
            raise ValueError(
                f"{self.source}: field gold_fact_ids points at no fact of the story: {sorted(missing)}"
            )
        if not self.answers:
            raise ValueError(f"{self.source}: field answers is empty")

    @property
    def fact_ids(self) -> tuple[int, ...]:
        return tuple(f.id for f in self.facts)

    def fact(self, fact_id: int) -> Fact:
        for f in self.facts:
            if f.id == fact_id:
                return f
        raise KeyError(fact_id)

    def to_row(self) -> dict[str, Any]:
        """A flat row for DuckDB; lists stay lists (DuckDB LIST / STRUCT columns)."""
        return {
            "dataset": self.dataset,
            "split": self.split,
            "example_id": self.example_id,
            "category": self.category,
            "question": self.question,
            "facts": [asdict(f) for f in self.facts],
            "answers": list(self.answers),
            "gold_fact_ids": list(self.gold_fact_ids),
            "source": self.source,
            "extra": json.dumps(self.extra, sort_keys=True),
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "QARecord":
        extra = row.get("extra") or "{}"
        return cls(
            dataset=row["dataset"],
            split=row["split"],
            example_id=row["example_id"],
            category=row["category"],
            question=row["question"],
            facts=tuple(Fact(int(f["id"]), f["text"]) for f in row["facts"]),
            answers=tuple(row["answers"]),
            gold_fact_ids=tuple(int(i) for i in row["gold_fact_ids"]),
            source=row["source"],
            extra=json.loads(extra) if isinstance(extra, str) else dict(extra),
        )
