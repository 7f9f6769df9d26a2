"""What every registry backend shares: a registration's record and the interface the training and
evaluation steps call (`work_dir`, `register`, `complete`, `resolve`, `publish_eval_results`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from tracekd_ops.core.lineage import Lineage

LOCAL_BACKEND = "local"
HUB_BACKEND = "hub"
REGISTERED, PENDING = "registered", "pending"
WEIGHT_FILES = ("model.safetensors", "adapter_model.safetensors")
LINEAGE_FILE = "tracekd_lineage.json"
"""Kept next to the model card in every revision: the lineage it was trained with."""
MANIFEST_FILE = "tracekd_manifest.json"
"""Every file of a revision with its SHA-256; its own hash is the revision's content digest."""


class RevisionCorrupted(RuntimeError):
    """A registered revision's files differ from what was registered."""


@dataclass(frozen=True)
class Registered:
    model_name: str
    revision: str
    backend: str
    uri: str
    """Where the revision is: for the local backend a path relative to the TraceKD home
    (`registry/<model>/<revision>`, so a copied home still names it right); the Hub's URL."""
    created_at: datetime
    status: str = REGISTERED
    local_revision: str | None = None
    """The local revision the checkpoint lives under (the Hub backend's on-disk copy)."""
    error: str | None = None
    content_digest: str | None = None
    """SHA-256 of the revision's manifest, checked whenever the revision is resolved."""


class Registry(Protocol):
    """A model registry backend."""

    backend: str

    @property
    def root(self) -> Path: ...

    def work_dir(self, lineage: Lineage, fingerprint: str) -> Path: ...

    def register(self, staged: Path, lineage: Lineage, hyperparameters: dict[str, Any], summary: dict[str, Any]) -> Registered: ...

    def complete(self, registered: Registered) -> Registered: ...

    def resolve(self, lineage: Lineage, digest: str | None = None) -> Path:
        """The checkpoint folder of the revision `lineage.model_revision` names."""
        ...

    def publish_eval_results(self, lineage: Lineage, card_inputs: dict[str, Any], results: dict[str, float]) -> str | None: ...


def write_lineage(folder: Path, lineage: Lineage) -> None:
    (folder / LINEAGE_FILE).write_text(json.dumps(asdict(lineage.training()), sort_keys=True))


def read_lineage(folder: Path) -> Lineage:
    """The lineage a registered checkpoint was written with."""
    return Lineage.from_row(json.loads((folder / LINEAGE_FILE).read_text()))
