"""CoTempQA loader: the released JSON Lines files (one per relation) and the Hugging Face
`Warrieryes/CotempQA` layout (one file, the relation given per row or by the caller).

Records are `{"index", "triple_element", "question", "facts": [str], "answer": [str]}`; CRLF line
ends are tolerated; the relation (`equal | overlap | during | mix`) comes from the file name.

Decomposition rule (documented in the README):
- class: the relation;
- gold facts: the context facts that contain a gold answer as a whole phrase (case-insensitive,
  word boundaries, so `bishop` does not match `archbishop`). This is the reference study's rule made
  stricter; it still misses the fact that anchors the time interval (the question's own event), and
  a question none of whose facts contains an answer gets no gold fact: such questions are counted
  (`tracekd datasets inspect`), not dropped.
- answers: `mix` questions ask for every co-temporal answer, so their answers are one comma-joined
  set answer (scored set-wise); in the other relations several answers are aliases.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from tracekd_ops.core.records import Fact, QARecord
from tracekd_ops.datasets.answers import COTEMPQA_EXACT_MATCH
from tracekd_ops.datasets.errors import DatasetFormatError
from tracekd_ops.datasets.hub import HubSource
from tracekd_ops.datasets.lines import dataset_files, json_lines
from tracekd_ops.datasets.specs import DatasetSpec, ProtocolRules, WrongFacts

DATASET = "cotempqa"
LABELS: tuple[str, ...] = ("equal", "overlap", "during", "mix")
SET_ANSWER_LABELS = frozenset({"mix"})


def cotempqa_files(path: Path) -> list[Path]:
    return dataset_files(
        path, "CoTempQA", lambda folder: (p for p in folder.glob("*.json*") if p.stem in LABELS), f"{'/'.join(LABELS)}.json"
    )


def load_cotempqa(path: Path | str) -> Iterator[QARecord]:
    for file in cotempqa_files(Path(path)):
        relation = file.stem if file.stem in LABELS else None
        yield from from_rows(json_lines(file), relation, file.name)


def _field(row: dict[str, Any], name: str, kind: type, source: str, where: str) -> Any:
    if name not in row:
        raise DatasetFormatError(source, where, name, "missing")
    value = row[name]
    if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
        expected = "list of strings" if kind is list else kind.__name__
        raise DatasetFormatError(source, where, name, f"expected {expected}, got {type(value).__name__}")
    return value


def gold_fact_ids(facts: list[Fact], answers: Iterable[str]) -> tuple[int, ...]:
    """Facts containing a gold answer as a whole phrase (see the module docstring)."""
    patterns = [re.compile(rf"(?<!\w){re.escape(a.strip())}(?!\w)", re.I) for a in answers if a.strip()]
    return tuple(f.id for f in facts if any(p.search(f.text) for p in patterns))


def from_rows(rows: Iterable[tuple[str, Any]] | Iterable[Any], relation: str | None, source: str) -> Iterator[QARecord]:
    """Records from (where, row) pairs or plain rows; `relation` None reads it from each row's `relation`."""
    for number, item in enumerate(rows, start=1):
        where, row = item if isinstance(item, tuple) else (f"row {number}", item)
        if not isinstance(row, dict):
            raise DatasetFormatError(source, where, "record", f"expected an object, got {type(row).__name__}")
        label = relation or _field(row, "relation", str, source, where)
        if label not in LABELS:
            raise DatasetFormatError(source, where, "relation", f"{label!r} is not one of {', '.join(LABELS)}")
        index = _field(row, "index", int, source, where)
        question = _field(row, "question", str, source, where)
        facts = [Fact(i, text) for i, text in enumerate(_field(row, "facts", list, source, where), start=1)]
        answers = [a for a in _field(row, "answer", list, source, where) if a.strip()]
        if not answers:
            raise DatasetFormatError(source, where, "answer", "no non-empty answer")
        joined = (", ".join(answers),) if label in SET_ANSWER_LABELS and len(answers) > 1 else tuple(answers)
        yield QARecord(
            dataset=DATASET, split="all", example_id=f"{label}-{index:05d}", category=label, question=question,
            facts=tuple(facts), answers=joined, gold_fact_ids=gold_fact_ids(facts, answers),
            source=f"{source}:{where}", extra={"triple_element": row.get("triple_element"), "answer_items": answers},
        )  # fmt: skip


def from_hub(source: HubSource) -> Iterator[QARecord]:
    """Each Hub split is read as one relation when it is named after one; otherwise every row
    must carry its `relation`. The protocol makes the train/test split."""
    for hub_split in source.split_names():
        relation = hub_split if hub_split in LABELS else None
        yield from from_rows(source.rows(hub_split), relation, f"{source.repo_id}:{hub_split}")


def reference_wrong_facts(record: QARecord) -> WrongFacts:
    """The reference study's wrong CoTempQA fact: one fact that does not contain the answer."""
    answers = [a.lower() for a in record.answers]
    free = [f.id for f in record.facts if f.id not in record.gold_fact_ids and not any(a in f.text.lower() for a in answers)]
    return WrongFacts(free, 1, "one fact not containing the answer")


SPEC = DatasetSpec(
    name=DATASET,
    labels=LABELS,
    answer=COTEMPQA_EXACT_MATCH,
    env_var="TRACEKD_COTEMPQA_PATH",
    load=load_cotempqa,
    from_hub=from_hub,
    protocol=ProtocolRules(holdout_share=0.20),
    reference_wrong_facts=reference_wrong_facts,
)
