"""CoTempQA loader: the released files (one per relation, JSON Lines with CRLF line ends, or a
JSON array) and the Hugging Face repo `Warrieryes/CotempQA` (the same files at the repo root).

Records are `{"index", "triple_element", "question", "facts": [str], "answer": [str]}`. The
relation (`equal | overlap | during | mix`) is, in this order: the record's own `relation` field,
the `relation` option (`dataset_options: {cotempqa: {relation: mix}}`, for a file named otherwise),
or the file name (`mix.json`); an error says which of the three is missing when none gives it.

Decomposition rule (documented in docs/datasets/cotempqa.md):
- class: the relation;
- gold facts: the facts that fill the question's asked slot with a gold answer exactly: for "which
  position/party/employer/school did S ..." the fact's subject is S and its object an answer; for
  "who also ... O1 ..." the fact's subject is an answer and its object O1 (`cotempqa_gold.py`, with
  its measured precision). A question none of whose facts gives it a gold fact is counted
  (`tracekd datasets inspect`), not dropped.
- answers: `mix` questions ask for every co-temporal answer, so their answers are one comma-joined
  set answer (scored set-wise). In the other relations, several answers are distinct co-temporal
  objects, each stated by its own fact; the question asks for one, so any of them is right.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from tracekd_ops.core.records import Fact, QARecord, fold_whitespace
from tracekd_ops.datasets.answers import COTEMPQA_EXACT_MATCH
from tracekd_ops.datasets.cotempqa_gold import gold_fact_ids
from tracekd_ops.datasets.errors import DatasetFormatError
from tracekd_ops.datasets.hub import HubSource, local_source
from tracekd_ops.datasets.files import READ_LIMITS, ReadLimits, data_rows, dataset_files
from tracekd_ops.datasets.specs import DatasetSpec, ProtocolRules, WrongFacts

DATASET = "cotempqa"
LABELS: tuple[str, ...] = ("equal", "overlap", "during", "mix")
SET_ANSWER_LABELS = frozenset({"mix"})


_SUFFIXES = (".json", ".jsonl", ".parquet")


def cotempqa_files(path: Path) -> list[Path]:
    """A file, or every .json/.jsonl/.parquet file of a folder (the release and the Hub repo alike)."""
    return dataset_files(path, "CoTempQA", lambda folder: (p for p in folder.iterdir() if p.suffix in _SUFFIXES), ".json, .jsonl or .parquet")


def load_cotempqa(
    path: Path | str, relation: str | None = None, config: str | None = None, limits: ReadLimits = READ_LIMITS
) -> Iterator[QARecord]:
    """The release's files (one per relation, JSON or JSON Lines), Parquet files of the same rows,
    or a downloaded Hub folder of them (its splits named by relation, else the option)."""
    if relation is not None and relation not in LABELS:
        raise ValueError(f"cotempqa option relation must be one of {', '.join(LABELS)}; got {relation!r}")
    path = Path(path)
    hub = None if path.is_dir() and any(p.suffix in _SUFFIXES for p in path.iterdir()) else local_source(path, config)
    if hub is not None:
        for split in hub.split_names():
            yield from from_rows(hub.rows(split), relation or (split if split in LABELS else None), hub.where(split))
        return
    for file in cotempqa_files(path):
        named = file.stem if file.stem in LABELS else None
        yield from from_rows(data_rows(file, limits), relation or named, file.name, path=file)


def _field(row: dict[str, Any], name: str, kind: type, source: str, where: str) -> Any:
    if name not in row:
        raise DatasetFormatError(source, where, name, "missing")
    value = row[name]
    if kind is int and isinstance(value, bool):  # JSON true is a bool, which Python counts as an int
        raise DatasetFormatError(source, where, name, "expected int, got bool")
    if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
        expected = "list of strings" if kind is list else kind.__name__
        raise DatasetFormatError(source, where, name, f"expected {expected}, got {type(value).__name__}")
    return value


def _relation(row: dict[str, Any], default: str | None, source: str, where: str) -> str:
    """The row's own `relation`, else the file's (option or file name); an error naming all three."""
    label = row.get("relation", default)
    if label is None:
        raise DatasetFormatError(
            source, where, "relation",
            f"unknown: the record has no `relation` field, the file name is not one of {', '.join(f'{l}.json' for l in LABELS)}, "
            "and no relation is configured (dataset_options: {cotempqa: {relation: <one of them>}})",
        )  # fmt: skip
    if label not in LABELS:
        raise DatasetFormatError(source, where, "relation", f"{label!r} is not one of {', '.join(LABELS)}")
    return label


def from_rows(
    rows: Iterable[tuple[str, Any]] | Iterable[Any], relation: str | None, source: str, path: Path | str | None = None
) -> Iterator[QARecord]:
    """Records from (where, row) pairs or plain rows. `relation` is the file's (its name, or the
    option); a row's own `relation` field wins. `source` labels each record (`<source>:<where>`);
    errors name `path` (the full path) when given, else `source`."""
    named = str(path) if path is not None else source
    for number, item in enumerate(rows, start=1):
        where, row = item if isinstance(item, tuple) else (f"row {number}", item)
        if not isinstance(row, dict):
            raise DatasetFormatError(named, where, "record", f"expected an object, got {type(row).__name__}")
        label = _relation(row, relation, named, where)
        index = _field(row, "index", int, named, where)
        question = _field(row, "question", str, named, where)
        facts = [Fact(i, text) for i, text in enumerate(_field(row, "facts", list, named, where), start=1)]
        answers = [fold_whitespace(a) for a in _field(row, "answer", list, named, where) if a.strip()]
        if not answers:
            raise DatasetFormatError(named, where, "answer", "no non-empty answer")
        joined = canonical_answers(label, answers)
        yield QARecord(
            dataset=DATASET, split="all", example_id=f"{label}-{index:05d}", category=label, question=question,
            facts=tuple(facts), answers=joined, gold_fact_ids=gold_fact_ids(question, [f.text for f in facts], answers),
            source=f"{source}:{where}", extra={"triple_element": row.get("triple_element"), "answer_items": answers},
        )  # fmt: skip


def canonical_answers(label: str, answers: Sequence[str]) -> tuple[str, ...]:
    """A record's answers: a `mix` question's several answers are one set answer (comma-joined),
    any other question's are alternatives. The items stay in `extra["answer_items"]`."""
    items = [fold_whitespace(a) for a in answers if a.strip()]
    return (", ".join(items),) if label in SET_ANSWER_LABELS and len(items) > 1 else tuple(items)


def from_hub(source: HubSource, relation: str | None = None) -> Iterator[QARecord]:
    """`Warrieryes/CotempQA` publishes one file per relation at the repo root (its parquet
    conversion is a single `default/train` split, so Hub splits say nothing about relations): the
    repo's JSON files are fetched and read as the release is. The protocol makes the split."""
    yield from load_cotempqa(source.download(("*.json", "*.jsonl")), relation)


def reference_wrong_facts(record: QARecord) -> WrongFacts:
    """The reference study's wrong CoTempQA fact: one fact that does not contain the answer."""
    answers = [a.lower() for a in record.answers]
    free = [f.id for f in record.facts if f.id not in record.gold_fact_ids and not any(a in f.text.lower() for a in answers)]
    return WrongFacts(free, 1, "one fact not containing the answer")


SPEC = DatasetSpec(
    name=DATASET,
    labels=LABELS,
    answer=COTEMPQA_EXACT_MATCH,
    label_meanings={  # how the times of the two facts relate, in plain words
        "equal": "a question about what held at exactly the same time as something else",
        "overlap": "a question about what held at a time overlapping with something else",
        "during": "a question about what held while something else held",
        "mix": "a question mixing these time relations; the answer may list several things",
    },
    env_var="TRACEKD_COTEMPQA_PATH",
    load=load_cotempqa,
    from_hub=from_hub,
    options={"relation": LABELS, "config": ()},
    protocol=ProtocolRules(holdout_share=0.20),
    reference_wrong_facts=reference_wrong_facts,
    gold_facts=gold_fact_ids,
    canonical_answers=canonical_answers,
)
