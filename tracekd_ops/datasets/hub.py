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

    @property
    def config_name(self) -> str | None:
        """The config in use (the one named)."""
        return self.config

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


def _card_configs(readme: Path) -> list[dict[str, Any]] | None:
    """The `configs` a dataset card's YAML front matter declares (how the Hub maps files to
    configs and splits), or None."""
    if not readme.is_file():
        return None
    import yaml

    text = readme.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return None
    front, _, _ = text[3:].partition("\n---")
    try:
        card = yaml.safe_load(front)
    except yaml.YAMLError:
        return None
    configs = card.get("configs") if isinstance(card, dict) else None
    return [c for c in configs if isinstance(c, dict)] if isinstance(configs, list) else None


def downloaded_hub_folder(path: Path) -> bool:
    """A folder laid out as the Hub serves a dataset: a README.md declaring configs, or split
    files named as the Hub names them (`train-00000-of-00001.parquet`, `validation.jsonl`, the
    Parquet conversion's `<split>/0000.parquet`), at most two folders down."""
    if not path.is_dir():
        return False
    if _card_configs(path / "README.md") is not None:
        return True
    for depth in ("*", "*/*", "*/*/*"):
        for file in path.glob(depth):
            if HUB_SPLIT_FILE.match(file.name) or (HUB_SPLIT_FOLDER_FILE.match(file.name) and file.parent.name in ("train", "validation", "test")):
                return True
    return False


def local_source(path: Path, config: str | None) -> "LocalHubFolder | None":
    """A downloaded Hub folder as a Hub source read from its files, else None."""
    return LocalHubFolder(str(path.resolve()), config) if downloaded_hub_folder(path) else None


@dataclass(frozen=True)
class LocalHubFolder(HubSource):
    """A downloaded Hub dataset folder, read as the Hub maps it but from its files, with pyarrow
    (Parquet, a batch at a time) and TraceKD's JSON readers: no network, and memory bounded by a
    Parquet row group (`datasets` streaming the same folder grew with the file: +1.2 GB at 200,000
    MS MARCO queries). Files per split come from the card's `configs` (`data_files` patterns), else
    from the Hub's file names (`train-00000-of-00001.parquet`, `validation.jsonl`,
    `<split>/0000.parquet`), grouped by the folder they are in (the config)."""

    def _configs(self) -> dict[str, dict[str, list[Path]]]:
        """config -> split -> files."""
        root = Path(self.repo_id)
        declared = _card_configs(root / "README.md")
        if declared is not None:
            return {str(c.get("config_name", "default")): self._declared_files(root, c.get("data_files")) for c in declared}
        found: dict[str, dict[str, list[Path]]] = {}
        for file in sorted(p for depth in ("*", "*/*", "*/*/*") for p in root.glob(depth) if p.is_file()):
            named = HUB_SPLIT_FILE.match(file.name)
            in_split_folder = HUB_SPLIT_FOLDER_FILE.match(file.name) and file.parent.name in HUB_SPLITS
            if not named and not in_split_folder:
                continue
            split = named.group(1) if named else file.parent.name
            folder = file.parent.parent if in_split_folder else file.parent
            config = "default" if folder == root else folder.relative_to(root).as_posix()
            found.setdefault(config, {}).setdefault(split, []).append(file)
        return found

    @staticmethod
    def _declared_files(root: Path, data_files: Any) -> dict[str, list[Path]]:
        entries = data_files if isinstance(data_files, list) else [data_files] if data_files else []
        by_split: dict[str, list[Path]] = {}
        for entry in entries:
            split, patterns = (entry.get("split", "train"), entry.get("path")) if isinstance(entry, dict) else ("train", entry)
            for pattern in patterns if isinstance(patterns, list) else [patterns]:
                by_split.setdefault(str(split), []).extend(sorted(p for p in root.glob(str(pattern)) if p.is_file()))
        return by_split

    def _splits(self) -> dict[str, list[Path]]:
        configs = self._configs()
        if self.config is not None:
            if self.config not in configs and list(configs) == ["default"]:
                return configs["default"]  # the folder is that config (`babi_qa/en-qa1/`)
            if self.config not in configs:
                raise ValueError(f"{self.repo_id} has no config {self.config!r}; it has {', '.join(sorted(configs))}")
            return configs[self.config]
        if len(configs) != 1:
            raise ValueError(f"{self.repo_id} holds several configs ({', '.join(sorted(configs))}): choose one with --option config=NAME")
        return next(iter(configs.values()))

    def split_names(self) -> list[str]:
        return [name for name, files in self._splits().items() if files]

    def rows(self, hub_split: str) -> Iterator[dict[str, Any]]:
        from tracekd_ops.datasets.files import data_rows

        for file in self._splits().get(hub_split, []):
            for _, row in data_rows(file):
                yield row

    @property
    def config_name(self) -> str | None:
        """The config in use: the one asked for, else the folder's only one (a bAbI task's name)."""
        configs = self._configs()
        return self.config or (next(iter(configs)) if len(configs) == 1 and next(iter(configs)) != "default" else None)


HUB_SPLITS = {"train": "train", "validation": "test", "test": "test"}
"""A Hub split and the split it is here (as `HubSource.train_and_test` maps them)."""


def hub_split_of(path: Path) -> str | None:
    """The split a Hub-named file states (`validation-00000-of-00001.parquet` -> test), or None."""
    named = HUB_SPLIT_FILE.match(path.name)
    if named:
        return HUB_SPLITS[named.group(1)]
    return HUB_SPLITS.get(path.parent.name) if HUB_SPLIT_FOLDER_FILE.match(path.name) else None
