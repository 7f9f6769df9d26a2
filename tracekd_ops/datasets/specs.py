"""The dataset spec: the one record that says everything the platform knows about a dataset.

A spec holds its class labels, its answer rule (with the rule's version), how its records are
read (file loader, Hub loader, or generator), the environment variable naming its source, the
loader options it accepts, its split protocol and its rule for wrong facts in `incorrect` traces.
Every other module looks a dataset up here (`dataset_spec`) and branches on nothing else.
"""

from __future__ import annotations

import importlib
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

from tracekd_ops.core.records import QARecord
from tracekd_ops.datasets.answers import AnswerRule
from tracekd_ops.datasets.files import READ_LIMITS, ReadLimits
from tracekd_ops.datasets.screening import Screened

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


_MODULES: dict[str, str] = {
    "synthetic": "tracekd_ops.datasets.synthetic",
    "babi": "tracekd_ops.datasets.babi",
    "cotempqa": "tracekd_ops.datasets.cotempqa",
    "msmarco": "tracekd_ops.datasets.msmarco",
}
"""Each dataset's module defines its `SPEC`; imported on first use."""
DECLARED_SPECS: dict[str, Path] = {"hotpotqa": Path(__file__).with_name("declared_specs") / "hotpotqa.yaml"}
"""Built-in datasets declared by a spec file (`declared.py`) rather than a module."""
SPECS_VARIABLE = "TRACEKD_DATASET_SPECS"
"""The user's own dataset spec files, separated by the path separator (`:`); a run's processes
inherit it, so every one of them knows the same datasets."""
_declared_cache: dict[str, dict[str, DatasetSpec]] = {}


def _declared_specs() -> dict[str, DatasetSpec]:
    """The declared datasets: built-in spec files, then the user's (`$TRACEKD_DATASET_SPECS`)."""
    users = os.environ.get(SPECS_VARIABLE, "")
    if users not in _declared_cache:
        from tracekd_ops.datasets.declared import read_spec

        specs: dict[str, DatasetSpec] = {}
        files = [*DECLARED_SPECS.values(), *(Path(p) for p in users.split(os.pathsep) if p.strip())]
        for file in files:
            spec = read_spec(file).spec()
            if spec.name in _MODULES or spec.name in specs:
                raise ValueError(f"{file}: name: dataset {spec.name!r} is already defined; give the spec another name")
            specs[spec.name] = spec
        _declared_cache[users] = specs
    return _declared_cache[users]


def dataset_names() -> tuple[str, ...]:
    """Every dataset: the modules', the built-in declared ones, and the user's spec files."""
    return (*_MODULES, *_declared_specs())


def dataset_spec(name: str) -> DatasetSpec:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name]).SPEC
    declared = _declared_specs()
    if name not in declared:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(dataset_names())} (a dataset of your own: a spec file in ${SPECS_VARIABLE}, or --spec)")
    return declared[name]


def loadable_datasets() -> tuple[str, ...]:
    """Datasets read from files (as opposed to generated)."""
    return tuple(name for name in dataset_names() if not dataset_spec(name).generated)


def scorer_versions() -> dict[str, str]:
    """Every dataset's answer-rule version (the evaluation assets' code version is built from it)."""
    return {name: dataset_spec(name).scorer_version for name in dataset_names()}


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


def load_source(name: str, source: str | Path, limits: ReadLimits = READ_LIMITS, **options: str) -> Screened:
    """Screened records of a file dataset from a path (read within `limits`), or from the Hub given
    `hf:<repo id>[:<config>]`; what screening leaves out is counted on the result."""
    from tracekd_ops.datasets.hub import HF_PREFIX, HubSource

    spec = dataset_spec(name)
    if spec.load is None:
        raise ValueError(f"dataset {name!r} is generated, not loaded from a source")
    spec.check_options(options)
    if str(source).startswith(HF_PREFIX):
        if spec.from_hub is None:
            raise ValueError(f"dataset {name!r} has no Hub source")
        hub, config = HubSource.parse(str(source)), options.pop("config", None)
        if config and hub.config and config != hub.config:
            raise ValueError(f"{source}: names config {hub.config!r}, but the config option says {config!r}")
        return Screened(spec.from_hub(replace(hub, config=hub.config or config), **options))
    return Screened(spec.load(Path(source), limits=limits, **options))


def inspect_dataset(
    name: str, path: Path | str, limits: ReadLimits = READ_LIMITS, protocol: str | None = None, **options: str
) -> dict[str, object]:
    """What `tracekd datasets inspect` prints: sizes per split and category, how many questions the
    decomposition rule gives exactly one, several or no gold fact, and, given a protocol, what it
    would use of them (questions per split and category)."""
    from tracekd_ops.datasets.protocol import apply_protocol

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
        **({"protocol": protocol_use(apply_protocol(records, protocol), protocol)} if protocol else {}),
    }


def protocol_use(records: Sequence[QARecord], protocol: str) -> dict[str, object]:
    """What a protocol uses of a dataset: questions per split, and per split and category."""
    return {
        "name": protocol,
        "questions": len(records),
        "by_split": dict(sorted(Counter(r.split for r in records).items())),
        "by_split_category": dict(sorted(Counter(f"{r.split}/{r.category}" for r in records).items())),
    }
