"""The model registry: every trained student becomes an immutable, versioned revision.

The local backend is a directory `<root>/<model_name>/<revision>/` holding safetensors weights,
the tokenizer and a model card. A revision is staged elsewhere and moved into place with one
`rename`, so a revision is either complete or absent, and an existing one is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

LOCAL_BACKEND = "local"


@dataclass(frozen=True)
class Lineage:
    """The keys that tie a student (and every number measured on it) to what made it."""

    dataset: str
    condition: str
    base_model: str
    seed: int
    trace_set_version: str

    @property
    def model_name(self) -> str:
        base = self.base_model.replace("/", "--")
        return f"tracekd-{self.dataset}-{self.condition}-{base}-seed{self.seed}"


@dataclass(frozen=True)
class Registered:
    model_name: str
    revision: str
    backend: str
    uri: str
    created_at: datetime


def render_model_card(lineage: Lineage, hyperparameters: dict[str, Any], summary: dict[str, Any]) -> str:
    """A Hugging Face style model card (YAML front matter + Markdown) naming the lineage keys.
    Built only from lineage, hyper-parameters and training summary: no environment, no secrets."""
    front = {
        "library_name": "transformers",
        "base_model": lineage.base_model,
        "datasets": [lineage.dataset],
        "tags": ["tracekd", f"condition:{lineage.condition}", "trl", "sft"],
    }
    lines = ["---", *(f"{k}: {json.dumps(v)}" for k, v in front.items()), "---", ""]
    lines += [
        f"# {lineage.model_name}",
        "",
        "A TraceKD student fine-tuned with TRL `SFTTrainer` (loss on the completion only).",
        "",
        "| key | value |",
        "|---|---|",
        f"| dataset | `{lineage.dataset}` |",
        f"| trace condition | `{lineage.condition}` |",
        f"| trace_set_version | `{lineage.trace_set_version}` |",
        f"| base model | `{lineage.base_model}` |",
        f"| seed | {lineage.seed} |",
        "",
        "## Hyper-parameters",
        "",
        "```json",
        json.dumps(hyperparameters, indent=2, sort_keys=True),
        "```",
        "",
        "## Training summary",
        "",
        "```json",
        json.dumps(summary, indent=2, sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(lines)


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

    def staging_dir(self, lineage: Lineage) -> Path:
        """A fresh folder to train into, on the registry's file system so the final move is a rename."""
        staging = self.root / ".staging"
        staging.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        path = staging / f"{lineage.model_name}-{stamp}-{os.getpid()}"
        path.mkdir()
        return path

    @contextmanager
    def staging(self, lineage: Lineage) -> Iterator[Path]:
        """`staging_dir` that is removed again if the block fails before registering it."""
        path = self.staging_dir(lineage)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)  # gone already once registered (moved away)

    def register(self, staged: Path, lineage: Lineage, hyperparameters: dict[str, Any], summary: dict[str, Any]) -> Registered:
        """Write the model card into `staged` and move it into place as a new revision."""
        for leftover in ("_trainer",):
            shutil.rmtree(staged / leftover, ignore_errors=True)
        (staged / "README.md").write_text(render_model_card(lineage, hyperparameters, summary))
        created = datetime.now(timezone.utc)
        revision = f"{created.strftime('%Y%m%dT%H%M%S%fZ')}-{_content_digest(staged)}"
        target = self.root / lineage.model_name / revision
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged, target)  # fails rather than overwrite: the name is new by construction
        return Registered(lineage.model_name, revision, self.backend, target.as_uri(), created.replace(tzinfo=None))

    def resolve(self, model_name: str, revision: str) -> Path:
        """The folder of a registered revision; an error if it is not (or no longer) there."""
        path = self.root / model_name / revision
        if not (path / "model.safetensors").exists():
            raise FileNotFoundError(f"registry has no complete revision {model_name}@{revision} under {self.root}")
        return path
