"""Dataset sources on the Hugging Face Hub: `hf:<repo id>[:<config>]`, read with `datasets`, and
a Hub dataset folder as downloaded (`huggingface-cli download --repo-type dataset`), read the same
way from its path, without `hf:` and without the network.

Each dataset's module reads its own Hub layout (its `from_hub`): rows streamed split by split
through `datasets` (bAbI, MS MARCO: `train` stays `train`; `validation`, or `test` when there is
none, becomes the evaluation split `test`), or the repo's files fetched and read like a download
(CoTempQA, whose repo holds one file per relation). Hub rows and files meet the same checks and
errors. Needs the network unless the id is a local folder in the Hub layout or is cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

HF_PREFIX = "hf:"
HUB_SPLIT_FILE = re.compile(r"^(train|validation|test)(-\d{5}-of-\d{5})?\.(parquet|jsonl|json|csv|arrow)$")
"""How the Hub names split files: `train-00000-of-00001.parquet`, or `validation.jsonl`."""
HUB_SPLIT_FOLDER_FILE = re.compile(r"^\d{4}\.parquet$")
"""The Parquet conversion's layout: `<config>/<split>/0000.parquet`."""


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
        from datasets import get_dataset_config_names, get_dataset_split_names

        try:
            return list(get_dataset_split_names(self.repo_id, self.config))
        except ValueError as error:
            if self.config is None and "config" in str(error).lower():
                configs = ", ".join(get_dataset_config_names(self.repo_id))
                raise ValueError(f"{self.repo_id} holds several configs ({configs}): choose one with --option config=NAME "
                                 "(or hf:<repo id>:<config>)") from None  # fmt: skip
            raise

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


def _declares_configs(readme: Path) -> bool:
    """A dataset card whose YAML front matter lists `configs` (how the Hub maps files to configs
    and splits)."""
    if not readme.is_file():
        return False
    import yaml

    text = readme.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return False
    front, _, _ = text[3:].partition("\n---")
    try:
        card = yaml.safe_load(front)
    except yaml.YAMLError:
        return False
    return isinstance(card, dict) and isinstance(card.get("configs"), list)


def downloaded_hub_folder(path: Path) -> bool:
    """A folder laid out as the Hub serves a dataset: a README.md declaring configs, or split
    files named as the Hub names them (`train-00000-of-00001.parquet`, `validation.jsonl`, the
    Parquet conversion's `<split>/0000.parquet`), at most two folders down."""
    if not path.is_dir():
        return False
    if _declares_configs(path / "README.md"):
        return True
    for depth in ("*", "*/*", "*/*/*"):
        for file in path.glob(depth):
            if HUB_SPLIT_FILE.match(file.name) or (HUB_SPLIT_FOLDER_FILE.match(file.name) and file.parent.name in ("train", "validation", "test")):
                return True
    return False


def local_source(path: Path, config: str | None) -> HubSource | None:
    """A downloaded Hub folder as a Hub source (read by `datasets`, offline), else None."""
    return HubSource(str(path.resolve()), config) if downloaded_hub_folder(path) else None


HUB_SPLITS = {"train": "train", "validation": "test", "test": "test"}
"""A Hub split and the split it is here (as `HubSource.train_and_test` maps them)."""


def hub_split_of(path: Path) -> str | None:
    """The split a Hub-named file states (`validation-00000-of-00001.parquet` -> test), or None."""
    named = HUB_SPLIT_FILE.match(path.name)
    if named:
        return HUB_SPLITS[named.group(1)]
    return HUB_SPLITS.get(path.parent.name) if HUB_SPLIT_FOLDER_FILE.match(path.name) else None
