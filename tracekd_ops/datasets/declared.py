"""Any open-book QA dataset through a declarative spec: a small YAML file that maps a dataset's
fields onto the canonical record, so that a dataset with supporting facts needs no new module.

A spec names (fields are dotted paths into a row: `context.title`):
- `question`, `answers` (a string or a list; `aliases` adds more right answers), `id` (optional);
- `facts`: `list: <field>` (a list of strings, numbered 1..N), or `paragraphs: <field>` — titled
  paragraphs in any of the published shapes (`[[title, [sentences]], ...]` as HotpotQA's JSON;
  `{title: [...], sentences: [[...], ...]}` as its Hub Parquet; `[{title, paragraph_text}, ...]` as
  MuSiQue's, a text split into sentences) — flattened in order into facts numbered 1..N, so a
  sentence's id is stable across runs; a fact reads `<title>: <sentence>`;
- `gold`: exactly one of `ids` (fact numbers as above), `indices` (0-based), `title_sentence`
  (`[title, sentence index]` pairs, or the Hub's `{title: [...], sent_id: [...]}`), `flags`
  (booleans per fact, or a per-paragraph key marking all its sentences);
- `category`: `field` with the known `labels` (the classification step's answer set), or `value`
  for a dataset with one class; optionally `meanings`, each label in plain words for raters;
- `split` (optional field; else the file's Hub-style name, else a seeded hold-out);
- `answer`: `scorer` exact_match (SQuAD normalisation, any alias) or token_f1 (right when the
  SQuAD token F1 reaches `threshold`), with a `version` that travels into every metric row;
- `protocol` (hold-out share, per-split caps) and `templates` (fixed phrases of the dataset's
  wording, kept whole by the from-config student's tokenizer).

A spec is checked when read (an error names the spec file and key), a row when loaded (an error
names the data file, the line or record, and the field). The spec's content hash is part of the
dataset's content hash, so changing a mapping re-versions the data it produced.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Iterator, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tracekd_ops.core.records import Fact, QARecord
from tracekd_ops.datasets.answers import AnswerRule, official_normalize, token_f1
from tracekd_ops.datasets.errors import DatasetFormatError
from tracekd_ops.datasets.files import READ_LIMITS, ReadLimits, data_rows, dataset_files
from tracekd_ops.datasets.hub import HUB_SPLITS, HubSource, hub_split_of, local_source
from tracekd_ops.datasets.specs import DatasetSpec, ProtocolRules

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
SPLIT_VALUES = {**HUB_SPLITS, "dev": "test", "valid": "test", "eval": "test"}
_SUFFIXES = (".json", ".jsonl", ".parquet")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactsMapping(_Strict):
    list: str | None = Field(default=None, description="a field holding a list of fact strings")
    paragraphs: str | None = Field(default=None, description="a field holding titled paragraphs")
    title: str = "title"
    """Key of a paragraph's title in dict-shaped paragraphs."""
    sentences: str = "sentences"
    """Key of a paragraph's sentences (a list, or a text split at sentence ends)."""

    @model_validator(mode="after")
    def _one_source(self) -> "FactsMapping":
        if (self.list is None) == (self.paragraphs is None):
            raise ValueError("give exactly one of list, paragraphs")
        return self


class GoldMapping(_Strict):
    ids: str | None = None
    indices: str | None = None
    title_sentence: str | None = None
    flags: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "GoldMapping":
        given = [k for k in ("ids", "indices", "title_sentence", "flags") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of ids, indices, title_sentence, flags (got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("ids", "indices", "title_sentence", "flags") if getattr(self, k) is not None)

    @property
    def field(self) -> str:
        return getattr(self, self.kind)


class CategoryMapping(_Strict):
    field: str | None = None
    labels: tuple[str, ...] = ()
    value: str | None = None
    meanings: dict[str, str] = {}
    """Each label in plain words, for raters (optional; a label without one is explained generically)."""

    @model_validator(mode="after")
    def _field_or_value(self) -> "CategoryMapping":
        if (self.field is None) == (self.value is None):
            raise ValueError("give a field (with its labels) or a value")
        if self.field is not None and not self.labels:
            raise ValueError("a category field needs its labels: the classification step's answer set")
        unknown = sorted(set(self.meanings) - set(self.known))
        if unknown:
            raise ValueError(f"meanings given for labels the category does not have: {', '.join(unknown)}")
        return self

    @property
    def known(self) -> tuple[str, ...]:
        return (self.value,) if self.value is not None else self.labels


class AnswerMapping(_Strict):
    field: str
    aliases: str | None = None


class ScorerSpec(_Strict):
    scorer: Literal["exact_match", "token_f1"] = "exact_match"
    version: int = Field(default=1, ge=1)
    threshold: float = Field(default=0.5, gt=0, le=1, description="token_f1: the F1 from which an answer counts as right")


class ProtocolSpec(_Strict):
    holdout_share: float = Field(default=0.20, gt=0, lt=1)
    reference_cap: dict[Literal["train", "test"], int] | None = None


class DeclaredDataset(_Strict):
    """A dataset as its spec file declares it."""

    name: str
    description: str = ""
    source_variable: str | None = None
    id: str | tuple[str, ...] | None = None
    """The example id's field, or fields tried in order (one spec for several layouts); none: file and row number."""
    question: str
    answers: AnswerMapping
    facts: FactsMapping
    gold: GoldMapping
    category: CategoryMapping
    split: str | None = None
    answer: ScorerSpec = ScorerSpec()
    protocol: ProtocolSpec = ProtocolSpec()
    templates: tuple[str, ...] = ()
    spec_hash: str = Field(default="", exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("lower-case letters, digits and _, starting with a letter (it names a partition and DuckDB rows)")
        return value

    @field_validator("answers", mode="before")
    @classmethod
    def _answers_shorthand(cls, value: Any) -> Any:
        return {"field": value} if isinstance(value, str) else value

    @field_validator("category", mode="before")
    @classmethod
    def _category_shorthand(cls, value: Any) -> Any:
        return {"value": value} if isinstance(value, str) else value

    def rule(self) -> AnswerRule:
        scorer = self.answer
        if scorer.scorer == "exact_match":
            check = lambda predicted, gold, category: predicted is not None and any(  # noqa: E731
                official_normalize(predicted) == official_normalize(g) for g in gold)
            return AnswerRule(f"{self.name}-em-{scorer.version}", check)
        check = lambda predicted, gold, category: token_f1(predicted, gold) >= scorer.threshold  # noqa: E731
        return AnswerRule(f"{self.name}-f1ge{scorer.threshold:g}-{scorer.version}", check)

    def spec(self) -> DatasetSpec:
        return DatasetSpec(
            name=self.name, labels=self.category.known, answer=self.rule(), label_meanings=self.category.meanings,
            env_var=self.source_variable or f"TRACEKD_{self.name.upper()}_PATH",
            load=self.load, options={"config": (), "split": ("train", "test", "all")},
            protocol=ProtocolRules(holdout_share=self.protocol.holdout_share, reference_cap=self.protocol.reference_cap),
            vocabulary_phrases=self.templates, definition_hash=self.spec_hash,
        )  # fmt: skip

    # -- reading rows ------------------------------------------------------------------------

    def load(
        self, path: Path | str, config: str | None = None, split: str | None = None, limits: ReadLimits = READ_LIMITS
    ) -> Iterator[QARecord]:
        """A file (JSON array, JSON Lines, Parquet), a folder of them, or a downloaded Hub folder.
        The split is the row's (`split` field), else the file's name (`train`, `dev`, Hub split
        files), else none: the protocol holds out a seeded share for test. The `split` option
        overrides the file name (`all`: ignore it, e.g. for a sample of one split)."""
        path = Path(path)
        named = (lambda file: None) if split == "all" else (lambda file: split) if split else (lambda file: hub_split_of(file) or _split_word(file))
        hub = local_source(path, config)
        if hub is not None:
            for hub_split, split in hub.train_and_test():
                yield from self.records(((f"row {n}", row) for n, row in enumerate(hub.rows(hub_split), start=1)), hub.where(hub_split),
                                        split)  # fmt: skip
            return
        files = dataset_files(path, self.name, lambda folder: (p for p in folder.iterdir() if p.suffix in _SUFFIXES),
                              ".json, .jsonl or .parquet")  # fmt: skip
        for file in files:
            yield from self.records(data_rows(file, limits), str(file), named(file))

    def records(self, rows: Iterator[tuple[str, Any]], source: str, file_split: str | None) -> Iterator[QARecord]:
        for number, (where, row) in enumerate(rows, start=1):
            yield self.record(row, source, where, number, file_split)

    def record(self, row: Any, source: str, where: str, number: int, file_split: str | None) -> QARecord:
        def fail(field: str, problem: str) -> DatasetFormatError:
            return DatasetFormatError(source, where, field, problem)

        if not isinstance(row, dict):
            raise fail("record", f"expected an object, got {type(row).__name__}")
        question = _text(_get(row, self.question, fail), self.question, fail)
        answers = _strings(_get(row, self.answers.field, fail), self.answers.field, fail)
        if self.answers.aliases is not None:
            answers += _strings(_get(row, self.answers.aliases, fail, missing_ok=True) or [], self.answers.aliases, fail)
        if not any(a.strip() for a in answers):
            raise fail(self.answers.field, "no non-empty answer")
        facts, places, flags = self._facts(row, fail)
        gold = self._gold(row, facts, places, flags, fail)
        category = self.category.value if self.category.value is not None else _text(_get(row, self.category.field, fail), self.category.field, fail)
        if category not in self.category.known:
            raise fail(self.category.field or "category", f"{category!r} is not one of the spec's labels ({', '.join(self.category.known)})")
        split = file_split or "all"
        if self.split is not None:
            value = _get(row, self.split, fail)
            if not isinstance(value, str) or value.lower() not in SPLIT_VALUES:
                raise fail(self.split, f"expected one of {', '.join(SPLIT_VALUES)}, got {value!r}")
            split = SPLIT_VALUES[value.lower()]
        example_id = self._example_id(row, fail) if self.id is not None else f"{Path(source).stem}-{number:06d}"
        return QARecord(dataset=self.name, split=split, example_id=example_id, category=category, question=question,
                        facts=tuple(facts), answers=tuple(answers), gold_fact_ids=gold, source=f"{source}:{where}")  # fmt: skip

    def _example_id(self, row: dict, fail) -> str:
        fields = (self.id,) if isinstance(self.id, str) else self.id or ()
        for field in fields:
            value = _get(row, field, fail, missing_ok=True)
            if value is not None:
                return str(value)
        raise fail(" or ".join(fields), "missing")

    def _facts(self, row: dict, fail) -> tuple[list[Fact], dict[tuple[str, int], int], list[bool] | None]:
        """Facts numbered from 1; (title, sentence index) -> fact id; per-fact flags from a
        per-paragraph flag key, when the gold is given that way."""
        mapping = self.facts
        if mapping.list is not None:
            texts = _strings(_get(row, mapping.list, fail), mapping.list, fail)
            return [Fact(i, t) for i, t in enumerate(texts, start=1)], {}, None
        paragraphs = _paragraphs(_get(row, mapping.paragraphs, fail), mapping, self.gold.flags if self.gold.kind == "flags" else None, fail)
        facts: list[Fact] = []
        places: dict[tuple[str, int], int] = {}
        flags: list[bool] = []
        for title, sentences, flag in paragraphs:
            for index, sentence in enumerate(sentences):
                facts.append(Fact(len(facts) + 1, f"{title}: {sentence.strip()}" if title else sentence))
                places.setdefault((title, index), len(facts))
                flags.append(bool(flag))
        per_paragraph = self.gold.kind == "flags" and self.gold.flags not in row
        return facts, places, flags if per_paragraph else None

    def _gold(self, row: dict, facts: list[Fact], places: dict[tuple[str, int], int], flags: list[bool] | None, fail) -> tuple[int, ...]:
        gold, field = self.gold, self.gold.field
        if gold.kind == "flags" and flags is not None:
            return tuple(i for i, flag in enumerate(flags, start=1) if flag)
        value = _get(row, field, fail)
        if gold.kind == "title_sentence":
            pairs = _pairs(value, field, fail)
            ids = []
            for title, index in pairs:
                if (title, index) not in places:
                    raise fail(field, f"[{title!r}, {index}] points at no sentence of the record's paragraphs")
                ids.append(places[(title, index)])
            return tuple(dict.fromkeys(ids))
        if not isinstance(value, list):
            raise fail(field, f"expected a list, got {type(value).__name__}")
        if gold.kind == "flags":
            if len(value) != len(facts) or not all(isinstance(v, (bool, int)) for v in value):
                raise fail(field, f"expected {len(facts)} flags, one per fact, got {value!r}"[:300])
            return tuple(i for i, flag in enumerate(value, start=1) if flag)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise fail(field, f"expected integers, got {value!r}"[:300])
        ids = [v + 1 for v in value] if gold.kind == "indices" else list(value)
        outside = [v for v, i in zip(value, ids) if not 1 <= i <= len(facts)]
        if outside:
            allowed = f"0..{len(facts) - 1}" if gold.kind == "indices" else f"1..{len(facts)}"
            raise fail(field, f"{outside} out of range: the record has {len(facts)} facts ({allowed})")
        return tuple(dict.fromkeys(ids))


def _split_word(path: Path) -> str | None:
    words = [SPLIT_VALUES[w] for w in re.split(r"[^a-z]+", path.stem.lower()) if w in SPLIT_VALUES]
    return words[0] if len(set(words)) == 1 else None


def _get(row: dict, dotted: str, fail, missing_ok: bool = False) -> Any:
    value: Any = row
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            if missing_ok:
                return None
            raise fail(dotted, "missing")
        value = value[key]
    return value


def _text(value: Any, field: str, fail) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(field, f"expected text, got {value!r}"[:200])
    return value


def _strings(value: Any, field: str, fail) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(field, f"expected a string or a list of strings, got {type(value).__name__}")
    return list(value)


def _paragraphs(value: Any, mapping: FactsMapping, flag_key: str | None, fail) -> list[tuple[str, list[str], Any]]:
    """(title, sentences, flag) for each paragraph, in any of the published shapes."""
    field = mapping.paragraphs or ""
    if isinstance(value, dict):  # the Hub's struct of lists
        titles, sentences = value.get(mapping.title), value.get(mapping.sentences)
        if not isinstance(titles, list) or not isinstance(sentences, list) or len(titles) != len(sentences):
            raise fail(field, f"expected lists {mapping.title} and {mapping.sentences} of one length")
        flags = value.get(flag_key) if flag_key else None
        value = [{mapping.title: t, mapping.sentences: s, **({flag_key: f} if flags else {})} for t, s, f in
                 zip(titles, sentences, flags or [None] * len(titles))]  # fmt: skip
    if not isinstance(value, list):
        raise fail(field, f"expected a list of paragraphs, got {type(value).__name__}")
    out = []
    for k, paragraph in enumerate(value):
        if isinstance(paragraph, list) and len(paragraph) == 2:  # [title, sentences]
            title, sentences, flag = paragraph[0], paragraph[1], None
        elif isinstance(paragraph, dict) and mapping.sentences in paragraph:
            title, sentences, flag = paragraph.get(mapping.title, ""), paragraph[mapping.sentences], paragraph.get(flag_key) if flag_key else None
        else:
            raise fail(f"{field}[{k}]", f"expected [title, sentences] or an object with {mapping.sentences!r}")
        if isinstance(sentences, str):
            sentences = [s for s in _SENTENCE_END.split(sentences) if s.strip()]
        if not isinstance(title, str) or not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
            raise fail(f"{field}[{k}]", "expected a title and a list of sentences (text)")
        out.append((title, sentences, flag))
    return out


def _pairs(value: Any, field: str, fail) -> list[tuple[str, int]]:
    """[title, sentence index] pairs, as a list of pairs or the Hub's `{title, sent_id}` lists."""
    if isinstance(value, dict):
        titles, indices = value.get("title"), value.get("sent_id")
        if not isinstance(titles, list) or not isinstance(indices, list) or len(titles) != len(indices):
            raise fail(field, "expected lists title and sent_id of one length")
        value = [list(p) for p in zip(titles, indices)]
    if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], int)
                                              and not isinstance(p[1], bool) for p in value):  # fmt: skip
        raise fail(field, f"expected [title, sentence index] pairs, got {value!r}"[:300])
    return [(p[0], p[1]) for p in value]


def read_spec(path: Path | str) -> DeclaredDataset:
    """A spec file, checked; an error names the file and the key."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ValueError(f"{path}: cannot read the dataset spec ({error.strerror})") from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{path}{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: a dataset spec is a YAML mapping (name, question, answers, facts, gold, category, ...); got {type(data).__name__}")
    try:
        return DeclaredDataset(**data, spec_hash=hashlib.sha256(raw).hexdigest()[:16])
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg'].removeprefix('Value error, ')}" for e in error.errors())
        raise ValueError(f"{path}: {problems}") from None
    except TypeError as error:
        raise ValueError(f"{path}: {error}") from None
