"""Dataset sources on the Hugging Face Hub: `hf:<repo id>[:<config>]`, read with `datasets`.

Rows are streamed split by split and mapped by the dataset's own loader module (its `from_rows` /
`from_hf_rows`), so Hub rows and files meet the same checks and errors. `train` stays `train`;
`validation` (or `test` when there is no validation split) becomes the evaluation split `test`.
CoTempQA's splits are its relations (a row may instead carry a `relation` field); its train/test
split is the protocol's.
Needs the network unless the id is a local folder in the Hub layout or the dataset is cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from tracekd_ops.records import QARecord

HF_PREFIX = "hf:"


@dataclass(frozen=True)
class HubSource:
    repo_id: str
    config: str | None = None

    @classmethod
    def parse(cls, value: str) -> "HubSource":
        body = value.removeprefix(HF_PREFIX)
        repo_id, _, config = body.partition(":")
        if not repo_id:
            raise ValueError(f"{value!r}: expected hf:<repo id>[:<config>]")
        return cls(repo_id, config or None)


def _eval_splits(names: list[str]) -> list[tuple[str, str]]:
    evaluation = "validation" if "validation" in names else "test" if "test" in names else None
    pairs = [("train", "train")] if "train" in names else []
    return pairs + ([(evaluation, "test")] if evaluation else [])


def load_from_hub(dataset: str, source: HubSource, gold_rule: str = "is_selected") -> Iterator[QARecord]:
    """`gold_rule` applies to MS MARCO (see `msmarco.from_rows`)."""
    from datasets import get_dataset_split_names, load_dataset

    from tracekd_ops.datasets import babi, cotempqa, msmarco

    names = list(get_dataset_split_names(source.repo_id, source.config))
    if dataset == "cotempqa":  # splits are relations (or rows carry one); the protocol splits train/test
        for hub_split in names:
            rows = load_dataset(source.repo_id, source.config, split=hub_split, streaming=True)
            relation = hub_split if hub_split in cotempqa.LABELS else None
            yield from cotempqa.from_rows(rows, relation, f"{source.repo_id}:{hub_split}")
        return
    for hub_split, split in _eval_splits(names):
        rows = load_dataset(source.repo_id, source.config, split=hub_split, streaming=True)
        where = f"{source.repo_id}:{source.config or 'default'}:{hub_split}"
        if dataset == "babi":
            match = re.fullmatch(r"en(?:-10k)?-qa(\d+)", source.config or "")
            if not match:
                raise ValueError(f"{where}: a bAbI Hub source names its task config, e.g. hf:facebook/babi_qa:en-qa1")
            yield from babi.from_hf_rows(rows, int(match.group(1)), split, where)
        elif dataset == "msmarco":
            yield from msmarco.from_rows(rows, split, where, gold_rule)
        else:
            raise ValueError(f"dataset {dataset!r} has no Hub source")
