"""The local registry (default): a directory `<root>/<model_name>/<revision>/` holding safetensors
weights (or LoRA adapters), the tokenizer and a model card. A revision is trained in a work folder
and moved into place with one `rename`, so it is either complete or absent, and an existing one is
never overwritten. The work folder of a training run is named by its lineage and settings
fingerprint, so a killed run's checkpoints are found (and resumed) by the next run with the same
settings."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tracekd_ops.core.lineage import Lineage
from tracekd_ops.registry.base import LOCAL_BACKEND, WEIGHT_FILES, Registered, write_lineage
from tracekd_ops.registry.card import render_model_card


def _content_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


class LocalRegistry:
    """Directory-backed registry; revisions are `<UTC timestamp>-<content digest>`."""

    backend = LOCAL_BACKEND

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def work_dir(self, lineage: Lineage, fingerprint: str) -> Path:
        """The folder a training run works in, on the registry's file system so the final move is
        a rename. Named by lineage and settings, so an interrupted run's checkpoints are found by
        the next run with the same ones; it disappears when the revision is registered."""
        path = self.root / ".work" / f"{lineage.model_name}-{lineage.trace_set_version}-{fingerprint}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def register(self, staged: Path, lineage: Lineage, hyperparameters: dict[str, Any], summary: dict[str, Any]) -> Registered:
        """Write the model card into `staged` and move it into place as a new revision."""
        for leftover in ("_trainer",):
            shutil.rmtree(staged / leftover, ignore_errors=True)
        (staged / "README.md").write_text(render_model_card(lineage, hyperparameters, summary))
        write_lineage(staged, lineage)
        created = datetime.now(timezone.utc)
        revision = f"{created.strftime('%Y%m%dT%H%M%S%fZ')}-{_content_digest(staged)}"
        target = self.root / lineage.model_name / revision
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged, target)  # fails rather than overwrite: the name is new by construction
        return Registered(lineage.model_name, revision, self.backend, target.as_uri(), created.replace(tzinfo=None))

    def resolve(self, lineage: Lineage) -> Path:
        """The folder of the registered revision `lineage.model_revision` of its student."""
        if lineage.model_revision is None:
            raise ValueError(f"{lineage.model_name}: no revision to resolve")
        return self.folder(lineage.model_name, lineage.model_revision)

    def folder(self, model_name: str, revision: str) -> Path:
        """The folder of a registered revision; an error if it is not (or no longer) there."""
        path = self.root / model_name / revision
        if not any((path / name).exists() for name in WEIGHT_FILES):
            raise FileNotFoundError(f"registry has no complete revision {model_name}@{revision} under {self.root}")
        return path

    def complete(self, registered: Registered) -> Registered:
        return registered  # a local registration is complete when it exists

    def publish_eval_results(self, lineage: Lineage, card_inputs: dict[str, Any], results: dict[str, float]) -> str | None:
        """Local revisions are immutable and their metrics live in the `registry` table: nothing to publish."""
        return None
