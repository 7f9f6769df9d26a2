"""MS MARCO QA loader: the official v2.1 JSON (columnar), v1.1 JSON Lines, and the Hugging Face
row layout (`passages: {is_selected: [...], passage_text: [...], url: [...]}`) as JSON Lines or
as one JSON array (what `json.dump` of `datasets` rows writes).

The split of a record is, in this order: its own `split` field, the `split` option
(`dataset_options: {msmarco: {split: train}}`), or its file's name (`train...` is `train`;
`dev`, `valid`, `validation`, `test`, `eval` are the evaluation split `test`). It is never guessed:
with none of the three, loading fails and says so. An empty `answers` list is read as
`No Answer Present.` (the official evaluation's reference for unanswerable queries) and counted.

The v2.1 train file (808,731 queries, several GB) is one JSON object whose fields each map row
keys to values. It is read in one streaming pass (ijson) that spills each (field, row) cell to a
temporary SQLite file, which then hands the rows back assembled, in row order: memory stays
bounded by one row, not by the file.

Decomposition rule:
- class: `query_type`, upper case (`DESCRIPTION | NUMERIC | ENTITY | LOCATION | PERSON`);
- facts: the query's passages, ids 1..n in the given order;
- gold facts: the `is_selected` passages (`gold_rule="is_selected"`, default), or the reference
  study's alternative, the single passage sharing the most words with the answer
  (`gold_rule="max_overlap"`). Queries answered `No Answer Present.` usually select no passage:
  they get no gold fact and are counted, not dropped.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from tracekd_ops.core.records import Fact, QARecord
from tracekd_ops.datasets.answers import MSMARCO_EXACT_MATCH
from tracekd_ops.datasets.errors import DatasetFormatError
from tracekd_ops.datasets.hub import HubSource, local_source
from tracekd_ops.datasets.files import (READ_LIMITS, ReadLimits, check_json_shape, check_kind, dataset_files, json_records, open_json,
                                        parquet_rows)  # fmt: skip
from tracekd_ops.datasets.specs import DatasetSpec, ProtocolRules, WrongFacts

DATASET = "msmarco"
LABELS: tuple[str, ...] = ("DESCRIPTION", "NUMERIC", "ENTITY", "LOCATION", "PERSON")
NO_ANSWER = "No Answer Present."
GOLD_RULES = ("is_selected", "max_overlap")
COLUMNAR_FIELDS = frozenset({"answers", "passages", "query", "query_id", "query_type", "wellFormedAnswers"})
_WORD = re.compile(r"\w+")
MAX_SHARED_WORDS = 8
"""The reference study's wrong passage shares fewer than this many words with the answer."""


SPLIT_WORDS = {"train": "train", "dev": "test", "valid": "test", "validation": "test", "test": "test", "eval": "test"}
"""Words that name a split, in file names and `split` fields, and the split each means here."""
NO_ANSWER_NOTE = "answers: [] read as No Answer Present."


def split_of(path: Path) -> str | None:
    """The split a file's name states (`train_v2.1.json`, `dev_v2.1.json`), or None."""
    named = [SPLIT_WORDS[word] for word in re.split(r"[^a-z]+", path.name.lower()) if word in SPLIT_WORDS]
    return named[0] if len(set(named)) == 1 else None


def msmarco_files(path: Path) -> list[Path]:
    return dataset_files(
        path, "MS MARCO", lambda folder: (p for p in folder.iterdir() if p.suffix in (".json", ".jsonl", ".parquet")),
        ".json, .jsonl or .parquet",
    )  # fmt: skip


def load_msmarco(
    path: Path | str, gold_rule: str = "is_selected", split: str | None = None, config: str | None = None,
    limits: ReadLimits = READ_LIMITS,
) -> Iterator[QARecord]:  # fmt: skip
    """A file (v2.1 columnar JSON, JSON Lines or a JSON array of rows, Parquet), a folder of them,
    or a downloaded Hub folder (its config by `config`: v1.1, v2.1)."""
    if split is not None and split not in ("train", "test"):
        raise ValueError(f"msmarco option split must be train or test; got {split!r}")
    hub = local_source(Path(path), config)
    if hub is not None:
        yield from from_hub(hub, gold_rule)
        return
    for file in msmarco_files(Path(path)):
        if check_kind(file) == "parquet":
            rows = parquet_rows(file)
        else:
            rows = _columnar_rows(file, limits) if _is_columnar(file) else json_records(file, limits)
        yield from from_rows(rows, split or split_of(file), file.name, gold_rule, path=file)


def _is_columnar(path: Path) -> bool:
    """v2.1: a top-level object whose fields are objects keyed by row (JSON Lines rows hold lists).
    Decided on the file's first 64 KB, so a hostile first key is never read whole."""
    import ijson

    with open_json(path) as handle:
        head = io.BytesIO(handle.read(64 * 1024))
        try:
            events = ijson.parse(head)
            first = next(events, None)
            key = next(events, None)
            value = next(events, None)
        except ijson.JSONError:
            return False  # let the line reader name the line
    return bool(first and key and value) and key[1] == "map_key" and key[2] in COLUMNAR_FIELDS and value[1] == "start_map"


def _columnar_rows(path: Path, limits: ReadLimits) -> Iterator[tuple[str, dict[str, Any]]]:
    import ijson
    from ijson.common import ObjectBuilder

    check_json_shape(path, limits, record_depth=2, word="cell")
    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(Path(folder) / "cells.sqlite")
        db.execute("CREATE TABLE cells (row_key TEXT, field TEXT, value TEXT)")
        batch: list[tuple[str, str, str]] = []
        builder, depth, level, field, key = None, 0, 0, "", ""
        with open_json(path) as handle:
            try:  # basic_parse: no prefix strings (`parse` builds one per event, as long as the nesting)
                for event, value in ijson.basic_parse(handle, use_float=True):
                    if builder is not None:  # inside one cell's value
                        builder.event(event, value)
                        depth += event in ("start_map", "start_array")
                        depth -= event in ("end_map", "end_array")
                        if depth == 0:
                            batch.append((key, field, json.dumps(builder.value)))
                            builder = None
                            if len(batch) >= 10_000:
                                db.executemany("INSERT INTO cells VALUES (?, ?, ?)", batch)
                                batch.clear()
                    elif event in ("start_map", "start_array"):
                        level += 1
                    elif event in ("end_map", "end_array"):
                        level -= 1
                    elif event == "map_key" and level == 1:  # a column: {"answers": {...}, "passages": {...}}
                        field = value
                    elif event == "map_key" and level == 2:  # a row of that column
                        key, builder, depth = value, ObjectBuilder(), 0
            except ijson.JSONError as error:
                raise DatasetFormatError(path, f"after row {key or '(none)'}", field or "json", f"not valid JSON: {error}") from None
        db.executemany("INSERT INTO cells VALUES (?, ?, ?)", batch)
        db.execute("CREATE INDEX by_row ON cells (row_key)")
        row: dict[str, Any] = {}
        current = None
        order = "ORDER BY CAST(row_key AS INTEGER), row_key"
        for row_key, name, value in db.execute(f"SELECT row_key, field, value FROM cells {order}"):
            if row_key != current and current is not None:
                yield f"row {current}", row
                row = {}
            current = row_key
            row[name] = json.loads(value)
        if current is not None:
            yield f"row {current}", row
        db.close()


def _passages(row: dict[str, Any], source: str, where: str) -> list[tuple[bool, str]]:
    """(is_selected, text) pairs from either passages layout."""
    if "passages" not in row:
        raise DatasetFormatError(source, where, "passages", "missing")
    passages = row["passages"]
    if isinstance(passages, dict):  # Hugging Face: parallel lists
        selected, texts = passages.get("is_selected"), passages.get("passage_text")
        if not isinstance(selected, list) or not isinstance(texts, list) or len(selected) != len(texts):
            raise DatasetFormatError(source, where, "passages", "needs lists is_selected and passage_text of one length")
        pairs = list(zip(selected, texts))
    elif isinstance(passages, list):
        try:
            pairs = [(p["is_selected"], p["passage_text"]) for p in passages]
        except (KeyError, TypeError):
            raise DatasetFormatError(source, where, "passages", "each passage needs is_selected and passage_text") from None
    else:
        raise DatasetFormatError(source, where, "passages", f"expected a list or an object, got {type(passages).__name__}")
    if not all(isinstance(t, str) for _, t in pairs):
        raise DatasetFormatError(source, where, "passages", "passage_text must be text")
    return [(bool(s), t) for s, t in pairs]


def _max_overlap(facts: list[Fact], answer: str) -> tuple[int, ...]:
    words = set(_WORD.findall(answer.lower()))
    if not words or answer == NO_ANSWER or not facts:
        return ()
    best = max(facts, key=lambda f: len(words & set(_WORD.findall(f.text.lower()))))
    return (best.id,) if words & set(_WORD.findall(best.text.lower())) else ()


def _split(row: dict[str, Any], default: str | None, source: str, where: str) -> str:
    """The record's own `split`, else the file's (option or name); an error naming all three."""
    if "split" in row:
        value = row["split"]
        if not isinstance(value, str) or value.lower() not in SPLIT_WORDS:
            raise DatasetFormatError(source, where, "split", f"{value!r} is not one of {', '.join(SPLIT_WORDS)}")
        return SPLIT_WORDS[value.lower()]
    if default is None:
        raise DatasetFormatError(
            source, where, "split",
            "unknown: the file name says neither train nor dev/validation/test, the record has no `split` field, and no "
            "split is configured (dataset_options: {msmarco: {split: train}} or {split: test}); it is never guessed",
        )  # fmt: skip
    return default


def from_rows(
    rows: Iterable[tuple[str, Any]] | Iterable[Any], split: str | None, source: str, gold_rule: str = "is_selected",
    path: Path | str | None = None,
) -> Iterator[QARecord]:  # fmt: skip
    """Records from (where, row) pairs or plain rows; `split` is the file's (None: each record
    must say). `source` labels records; errors name `path` (the full path) when given."""
    if gold_rule not in GOLD_RULES:
        raise ValueError(f"unknown MS MARCO gold rule {gold_rule!r}; known: {', '.join(GOLD_RULES)}")
    named = str(path) if path is not None else source
    for number, item in enumerate(rows, start=1):
        where, row = item if isinstance(item, tuple) else (f"row {number}", item)
        if not isinstance(row, dict):
            raise DatasetFormatError(named, where, "record", f"expected an object, got {type(row).__name__}")
        for name in ("query", "query_type", "answers"):
            if name not in row:
                raise DatasetFormatError(named, where, name, "missing")
        query, query_type, answers = row["query"], row["query_type"], row["answers"]
        if not isinstance(query, str):
            raise DatasetFormatError(named, where, "query", f"expected text, got {type(query).__name__}")
        if not isinstance(query_type, str) or query_type.upper() not in LABELS:
            raise DatasetFormatError(named, where, "query_type", f"{query_type!r} is not one of {', '.join(LABELS)}")
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise DatasetFormatError(named, where, "answers", "expected a list of strings")
        record_split = _split(row, split, named, where)
        given = [a for a in answers if a.strip()]
        answers = given or [NO_ANSWER]
        pairs = _passages(row, named, where)
        facts = [Fact(i, " ".join(text.split())) for i, (_, text) in enumerate(pairs, start=1)]
        if gold_rule == "is_selected":
            gold = tuple(f.id for f, (selected, _) in zip(facts, pairs) if selected)
        else:
            gold = _max_overlap(facts, answers[0])
        query_id = row.get("query_id", number)
        extra: dict[str, Any] = {"query_id": query_id}
        if not given:
            extra["note"] = NO_ANSWER_NOTE
        yield QARecord(
            dataset=DATASET, split=record_split, example_id=f"{record_split}-{query_id}", category=query_type.upper(),
            question=query, facts=tuple(facts), answers=tuple(answers), gold_fact_ids=gold,
            source=f"{source}:{where}", extra=extra,
        )  # fmt: skip


def from_hub(source: HubSource, gold_rule: str = "is_selected") -> Iterator[QARecord]:
    """`microsoft/ms_marco` rows by config, e.g. `hf:microsoft/ms_marco:v2.1`."""
    for hub_split, split in source.train_and_test():
        yield from from_rows(source.rows(hub_split), split, source.where(hub_split), gold_rule)


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def reference_wrong_facts(record: QARecord) -> WrongFacts:
    """The reference study's wrong MS MARCO passage: one sharing few words with the answer."""
    answer_words = set().union(*(_words(a) for a in record.answers))
    far = [f.id for f in record.facts if f.id not in record.gold_fact_ids and len(_words(f.text) & answer_words) < MAX_SHARED_WORDS]
    return WrongFacts(far, 1, f"one passage sharing < {MAX_SHARED_WORDS} words with the answer")


SPEC = DatasetSpec(
    name=DATASET,
    labels=LABELS,
    answer=MSMARCO_EXACT_MATCH,
    label_meanings={  # the kind of answer the query asks for, in plain words
        "DESCRIPTION": "the answer is a description or explanation",
        "NUMERIC": "the answer is a number, an amount or a date",
        "ENTITY": "the answer is a thing or the name of something",
        "LOCATION": "the answer is a place",
        "PERSON": "the answer is a person",
    },
    env_var="TRACEKD_MSMARCO_PATH",
    load=load_msmarco,
    from_hub=from_hub,
    options={"gold_rule": GOLD_RULES, "split": ("train", "test"), "config": ()},
    protocol=ProtocolRules(reference_cap={"train": 1000, "test": 200}),
    reference_wrong_facts=reference_wrong_facts,
)
