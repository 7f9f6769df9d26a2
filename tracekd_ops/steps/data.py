"""Step `raw_examples`: a dataset's canonical records, loaded (or generated) and split by its
protocol, replacing the dataset's stored partition."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping

from tracekd_ops.core.records import QARecord
from tracekd_ops.datasets import dataset_spec, load_source
from tracekd_ops.datasets.protocol import apply_protocol
from tracekd_ops.datasets.specs import resolve_source
from tracekd_ops.datasets.synthetic import SyntheticConfig
from tracekd_ops.store.store import Store

RAW_TABLE = "raw_examples"


@dataclass(frozen=True)
class RawPartition:
    dataset: str
    source: str
    protocol: str
    records: list[QARecord]

    def metadata(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "source": self.source,
            "rows": len(self.records),
            "without_gold_fact": sum(1 for r in self.records if not r.gold_fact_ids),
            "rows_by_split": dict(Counter(r.split for r in self.records)),
            "rows_by_split_category": dict(sorted(Counter(f"{r.split}/{r.category}" for r in self.records).items())),
            "duckdb_table": RAW_TABLE,
        }


def load_raw(
    dataset: str,
    configured_source: str | None,
    options: Mapping[str, str],
    protocol: str,
    seed: int,
    per_category_limit: int | None,
    synthetic: SyntheticConfig,
) -> RawPartition:
    """A dataset's records: generated (the embedded default) or read from its source (a path or
    `hf:` id, else its environment variable), then subset and split by the protocol."""
    spec = dataset_spec(dataset)
    if spec.generate is not None:
        return RawPartition(dataset, "generated", "generated", spec.generate(synthetic))
    source = resolve_source(spec, configured_source)
    loaded = load_source(dataset, source, **options)
    return RawPartition(dataset, source, protocol, apply_protocol(loaded, protocol, seed, per_category_limit))


def store_raw(store: Store, partition: RawPartition) -> int:
    """Replace the dataset's stored records with these, in one transaction."""
    return store.replace_partition(RAW_TABLE, {"dataset": partition.dataset}, [r.to_row() for r in partition.records])
