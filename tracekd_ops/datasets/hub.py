"""Dataset sources on the Hugging Face Hub: `hf:<repo id>[:<config>]`, read with `datasets`.

Each dataset's module reads its own Hub layout (its `from_hub`): rows streamed split by split
through `datasets` (bAbI, MS MARCO: `train` stays `train`; `validation`, or `test` when there is
none, becomes the evaluation split `test`), or the repo's files fetched and read like a download
(CoTempQA, whose repo holds one file per relation). Hub rows and files meet the same checks and
errors. Needs the network unless the id is a local folder in the Hub layout or is cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

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

    def where(self, hub_split: str) -> str:
        """How a row's source names the repo, config and split."""
        return f"{self.repo_id}:{self.config or 'default'}:{hub_split}"

    def split_names(self) -> list[str]:
        from datasets import get_dataset_split_names

        return list(get_dataset_split_names(self.repo_id, self.config))

    def rows(self, hub_split: str) -> Iterator[dict[str, Any]]:
        from datasets import load_dataset

        return iter(load_dataset(self.repo_id, self.config, split=hub_split, streaming=True))

    def download(self, patterns: tuple[str, ...]) -> Path:
        """A folder with the repo's files matching `patterns`: the id itself when it is a local
        folder, else a snapshot of the dataset repo in the Hugging Face cache."""
        if Path(self.repo_id).is_dir():
            return Path(self.repo_id)
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(self.repo_id, repo_type="dataset", allow_patterns=list(patterns)))

    def train_and_test(self) -> list[tuple[str, str]]:
        """(Hub split, our split) pairs: train, and validation (else test) as our `test`."""
        names = self.split_names()
        evaluation = "validation" if "validation" in names else "test" if "test" in names else None
        pairs = [("train", "train")] if "train" in names else []
        return pairs + ([(evaluation, "test")] if evaluation else [])
