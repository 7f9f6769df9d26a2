"""Lineage: the keys that tie a student, and every number measured on it, to what made it.

DESIGN.md's keys: dataset, condition, student (its name in the experiment file: two students may
share a base model and seed), base model, seed, trace set version, and, once the student is
evaluated, the model revision, the evaluation split, the dataset scorer's version, and where the
evaluated data came from (the source, a path or Hub id, and a content hash of the raw partition:
a 1k and a 10k bAbI never look the same). One value,
one way to become a table row (`row`), a partition of the result tables (`run_keys`) and Dagster
metadata (`metadata`), so no caller assembles them by hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

TRAINING_KEYS = ("dataset", "condition", "student", "base_model", "seed", "trace_set_version")
"""What made a student."""
EVALUATION_KEYS = ("model_revision", "eval_split", "scorer_version", "dataset_source", "dataset_hash")
"""What an evaluation of it adds."""
RUN_KEYS = ("dataset", "condition", "student", "base_model", "seed")
"""The partition one evaluated student's rows are stored under (newer results replace older)."""
EXTERNAL_TRACE_SET = "external"
"""The `trace_set_version` of a student TraceKD did not train (another study's published outputs):
its training traces are unknown here, and its metrics are computed when its outputs are imported."""


@dataclass(frozen=True)
class Lineage:
    dataset: str
    condition: str
    student: str
    base_model: str
    seed: int
    trace_set_version: str
    model_revision: str | None = None
    eval_split: str | None = None
    scorer_version: str | None = None
    dataset_source: str | None = None
    dataset_hash: str | None = None

    @property
    def model_name(self) -> str:
        """The registry name of a student: unique per (dataset, condition, student, base, seed)."""
        base = self.base_model.replace("/", "--").replace("\\", "--")
        return f"tracekd-{self.dataset}-{self.condition}-{self.student}-{base}-seed{self.seed}"

    def evaluated(self, model_revision: str, eval_split: str, scorer_version: str, dataset_source: str, dataset_hash: str) -> "Lineage":
        return replace(self, model_revision=model_revision, eval_split=eval_split, scorer_version=scorer_version,
                       dataset_source=dataset_source, dataset_hash=dataset_hash)  # fmt: skip

    def training(self) -> "Lineage":
        """The student's lineage alone (what a checkpoint is written with)."""
        return replace(self, **{key: None for key in EVALUATION_KEYS})

    def run_keys(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in RUN_KEYS}

    def row(self) -> dict[str, Any]:
        """Every key, for a result row; an evaluation row needs the evaluation keys set."""
        missing = [key for key in EVALUATION_KEYS if getattr(self, key) is None]
        if missing:
            raise ValueError(f"lineage of {self.model_name} lacks {', '.join(missing)}: not an evaluated run")
        return asdict(self)

    def training_row(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in TRAINING_KEYS}

    def metadata(self) -> dict[str, str | int]:
        """The keys that are set, as Dagster metadata values (plain strings and ints)."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Lineage":
        """From any row carrying the keys (registry, predictions, metrics); extra columns ignored."""
        return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in row})
