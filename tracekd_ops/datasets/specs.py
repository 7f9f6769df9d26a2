"""The dataset spec: the one record that says everything the platform knows about a dataset.

A spec holds its class labels, its answer rule (with the rule's version), how its records are
read (file loader, Hub loader, or generator), the environment variable naming its source, the
loader options it accepts, its split protocol and its rule for wrong facts in `incorrect` traces.
Every other module looks a dataset up by name (`catalog.dataset_spec`) and branches on nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

from tracekd_ops.core.records import QARecord
from tracekd_ops.datasets.answers import AnswerRule

if TYPE_CHECKING:
    from tracekd_ops.datasets.hub import HubSource


@dataclass(frozen=True)
class ProtocolRules:
    """How the `reference` protocol picks a dataset's questions (`protocol.apply_protocol`).

    - `reference_keep`: which loaded questions the reference study used (None: all);
    - `reference_test_share`: the seeded share of each category's test questions it evaluated on;
    - `reference_cap`: the first N questions per (split, category) it used;
    - `holdout_share`: test share of the seeded, category-stratified split made for records that
      come with no split of their own (`split == "all"`), under every protocol.
    """

    reference_keep: Callable[[QARecord], bool] | None = None
    reference_test_share: float | None = None
    reference_cap: Mapping[str, int] | None = None
    holdout_share: float = 0.20


@dataclass(frozen=True)
class WrongFacts:
    """Facts an `incorrect` trace may state instead of the gold ones: candidate ids, how many to
    state, and the rule in words (recorded with each trace)."""

    candidates: list[int]
    count: int
    described: str


def same_count_wrong_facts(record: QARecord) -> WrongFacts:
    """Random non-gold facts of the same story, as many as the gold facts."""
    others = [f.id for f in record.facts if f.id not in record.gold_fact_ids]
    return WrongFacts(others, len(record.gold_fact_ids), "random non-gold facts, as many as gold")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    labels: tuple[str, ...]
    """The known classification labels (the class step's answer set)."""
    answer: AnswerRule
    label_meanings: Mapping[str, str] = field(default_factory=dict)
    """What each label means, in plain words a person who never saw the dataset can use (the rating
    page explains the labels a rater's traces show with it)."""
    env_var: str | None = None
    """Environment variable naming a file dataset's source (a path or `hf:<repo id>`)."""
    load: Callable[..., Iterable[QARecord]] | None = None
    """Reads the dataset from a file or folder."""
    generate: Callable[..., list[QARecord]] | None = None
    """Makes the dataset (the embedded default): no file, no network."""
    from_hub: Callable[..., Iterable[QARecord]] | None = None
    """Reads the dataset's Hub layout, given a `HubSource`."""
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Loader options this dataset accepts, with their allowed values (none listed: any value)."""
    protocol: ProtocolRules = field(default_factory=ProtocolRules)
    reference_wrong_facts: Callable[[QARecord], WrongFacts] = same_count_wrong_facts
    """The reference study's rule for the facts of an `incorrect` trace."""
    vocabulary_phrases: tuple[str, ...] = ()
    """Fixed multi-word wording of the dataset's text (a generator's templates), which the
    from-config student's tokenizer keeps whole (`train.models.train_tokenizer`)."""
    gold_facts: Callable[[str, Sequence[str], Sequence[str]], tuple[int, ...]] | None = None
    """The dataset's rule for its gold (supporting) facts from the question, the facts and the
    answers, where gold facts are derived rather than shipped (CoTempQA): how a record is rebuilt
    from a line of someone's published outputs. None: the outputs must give the gold fact ids."""
    canonical_answers: Callable[[str, Sequence[str]], tuple[str, ...]] = lambda category, answers: tuple(answers)
    """The record's `answers` from a category and its answer items (CoTempQA joins a `mix` set)."""
    definition_hash: str = ""
    """A declared dataset's spec file hash (part of its data's content hash); '' for a module's."""

    @property
    def generated(self) -> bool:
        return self.generate is not None

    @property
    def scorer_version(self) -> str:
        return self.answer.version

    def answer_correct(self, predicted: str | None, gold_answers: Sequence[str], category: str) -> bool:
        return self.answer.correct(predicted, gold_answers, category)

    def check_options(self, options: Mapping[str, str]) -> None:
        for name, value in options.items():
            if name not in self.options:
                known = ", ".join(self.options) or "none"
                raise ValueError(f"dataset {self.name!r} has no loader option {name!r}; known: {known}")
            if self.options[name] and value not in self.options[name]:
                raise ValueError(f"{self.name} option {name} must be one of {', '.join(self.options[name])}; got {value!r}")


def resolve_source(spec: DatasetSpec, configured: str | None) -> str:
    """Where a file dataset is read from: the configured path or `hf:` id, else its environment
    variable; an error saying how to set it when neither is."""
    value = configured or (os.environ.get(spec.env_var) if spec.env_var else None)
    if not value:
        raise ValueError(
            f"no source for dataset {spec.name!r}: set experiment.sources.{spec.name} in the launchpad "
            f"or {spec.env_var} in the environment (a file, a folder, or hf:<repo id>[:<config>])"
        )
    return value


def check_source(dataset: str, source: str, setting: str | None = None) -> None:
    """A source is a `hf:<repo id>` or a file or folder that exists; else an error naming the
    setting (or variable) it came from."""
    from tracekd_ops.datasets.hub import HF_PREFIX, HubSource

    where = setting or f"sources.{dataset}"
    if source.startswith(HF_PREFIX):
        HubSource.parse(source)
    elif not Path(source).exists():
        raise ValueError(f"{where}: no file or folder at {Path(source).resolve()} (a path, or hf:<repo id>[:<config>])")


def split_records(records: Sequence[QARecord], split: str) -> list[QARecord]:
    return [r for r in records if r.split == split]
