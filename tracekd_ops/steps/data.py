"""Step `raw_examples`: a dataset's canonical records, loaded (or generated) and split by its
protocol, replacing the dataset's stored partition."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from tracekd_ops.core.records import QARecord
from tracekd_ops.datasets import DatasetSpec, load_source
from tracekd_ops.datasets.files import READ_LIMITS, ReadLimits
from tracekd_ops.datasets.protocol import apply_protocol
from tracekd_ops.datasets.specs import resolve_source
from tracekd_ops.datasets.synthetic import SyntheticConfig
from tracekd_ops.steps.outcome import Level, StepOutcome
from tracekd_ops.store.store import Store

RAW_TABLE = "raw_examples"


@dataclass(frozen=True)
class RawRequest:
    """How a dataset's records are obtained, as one value: the `experiment` resource gives one per
    dataset (`raw_request`), and the preflight of `tracekd run`, the asset and `tracekd plan` read the
    same records from it."""

    source: str | None
    """A path or `hf:` id; None: the dataset's environment variable (a generated dataset needs none)."""
    protocol: str
    options: Mapping[str, str] = field(default_factory=dict)
    seed: int = 0
    per_category_limit: int | None = None
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    limits: ReadLimits = READ_LIMITS


REQUIRED_SPLITS = ("train", "test")
"""A partition trains on `train` and evaluates on `test`: without both, nothing it stores is usable."""


@dataclass(frozen=True)
class RawPartition:
    spec: DatasetSpec
    source: str
    protocol: str
    records: list[QARecord]
    left_out: dict[str, int]
    """Records screening left out, by reason."""
    notes: dict[str, int]
    """What loaders noted on records they kept (e.g. an empty answer list), by note."""

    def check(self) -> None:
        """An empty or unsplit partition is an error, before anything is stored."""
        where = f"{self.spec.name} from {self.source}"
        if not self.records:
            dropped = f" ({sum(self.left_out.values())} left out: {self.left_out})" if self.left_out else ""
            raise ValueError(f"{where}: no questions{dropped}; the stored partition is left as it was")
        splits = Counter(r.split for r in self.records)
        missing = [s for s in REQUIRED_SPLITS if not splits.get(s)]
        if missing:
            raise ValueError(
                f"{where}: no {' and no '.join(missing)} questions (found {dict(splits)}) after protocol {self.protocol!r}; "
                "a dataset needs both splits (name the files *_train / *_test, or give the split in config); "
                "the stored partition is left as it was"
            )

    def content_hash(self) -> str:
        """SHA-256 of the partition's rows in a fixed order, after a declared dataset's spec hash:
        same questions read by the same spec, same hash."""
        digest = hashlib.sha256(self.spec.definition_hash.encode())
        for record in sorted(self.records, key=lambda r: (r.split, r.example_id)):
            digest.update(json.dumps(record.to_row(), sort_keys=True).encode())
        return digest.hexdigest()[:16]

    def repeats(self) -> dict[str, Any]:
        """Questions that repeat an earlier one word for word (story, question, answers), and test
        questions that are also training questions. Reported, not refused: natural bAbI repeats
        some (2,461 of its 40,000), while a file concatenated with itself repeats every one, and a
        test question also in train measures recall rather than reasoning."""
        first_seen: dict[tuple[Any, ...], QARecord] = {}
        repeated, example = 0, None
        in_train = {self._content(r) for r in self.records if r.split == "train"}
        for record in self.records:
            earlier = first_seen.setdefault(self._content(record), record)
            if earlier is not record:
                repeated += 1
                example = example or f"{record.source} repeats {earlier.source}"
        test_in_train = sum(1 for r in self.records if r.split == "test" and self._content(r) in in_train)
        return {"repeated_questions": repeated, "test_questions_also_in_train": test_in_train, "first_repeat": example}

    @staticmethod
    def _content(record: QARecord) -> tuple[Any, ...]:
        return tuple(f.text for f in record.facts), record.question, record.answers

    def version_row(self) -> dict[str, Any]:
        return {
            "dataset": self.spec.name, "source": self.source, "protocol": self.protocol, "content_hash": self.content_hash(),
            "rows": len(self.records), "left_out": json.dumps(self.left_out, sort_keys=True),
            "notes": json.dumps(self.notes, sort_keys=True), "loaded_at": datetime.now(timezone.utc).replace(tzinfo=None),
        }  # fmt: skip

    def metadata(self) -> dict[str, Any]:
        return {
            "dataset": self.spec.name,
            "source": self.source,
            "content_hash": self.content_hash(),
            "rows": len(self.records),
            "without_gold_fact": sum(1 for r in self.records if not r.gold_fact_ids),
            "left_out": self.left_out,
            "notes": self.notes,
            **self.repeats(),
            "rows_by_split": dict(Counter(r.split for r in self.records)),
            "rows_by_split_category": dict(sorted(Counter(f"{r.split}/{r.category}" for r in self.records).items())),
            "duckdb_table": RAW_TABLE,
        }


def load_raw(spec: DatasetSpec, request: RawRequest) -> RawPartition:
    """A dataset's records: generated (the embedded default), or read from its source (a path or
    `hf:` id, else its environment variable) and subset and split by the protocol; at most
    `per_category_limit` per split and category either way."""
    limit = request.per_category_limit
    if spec.generate is not None:  # the limit still applies: a smoke run of the demo (`--per-category-limit`)
        generated = spec.generate(request.synthetic)
        limited = generated if limit is None else apply_protocol(spec.protocol, generated, "full", request.seed, limit)
        return RawPartition(spec, "generated", "generated", limited, {}, {})
    source = resolve_source(spec, request.source)
    loaded = load_source(spec.name, source, request.limits, **request.options)
    records = apply_protocol(spec.protocol, loaded, request.protocol, request.seed, limit)
    return RawPartition(spec, source, request.protocol, records, dict(loaded.left_out), dict(loaded.notes))


def store_raw(store: Store, spec: DatasetSpec, request: RawRequest) -> StepOutcome:
    """Load the dataset's records (`load_raw`), check them, then replace its stored partition with
    them, in one transaction."""
    partition = load_raw(spec, request)
    partition.check()
    keys = {"dataset": spec.name}
    store.replace_partitions([(RAW_TABLE, keys, [r.to_row() for r in partition.records]), ("dataset_versions", keys, [partition.version_row()])])
    metadata = partition.metadata()
    messages: list[tuple[Level, str]] = [("info", f"{spec.name}: {len(partition.records)} records from {partition.source} (protocol {partition.protocol})")]
    if metadata["repeated_questions"]:
        messages.append(("warning", f"{spec.name}: {metadata['repeated_questions']} questions repeat an earlier one word for word "
                                    f"(e.g. {metadata['first_repeat']}); {metadata['test_questions_also_in_train']} test questions "
                                    "are also training questions"))  # fmt: skip
    return StepOutcome(metadata=metadata, tables=(RAW_TABLE, "dataset_versions"), rows=len(partition.records), messages=tuple(messages))
