"""The model registry: every trained student becomes an immutable, versioned revision.

Two backends behind one interface (`work_dir`, `register`, `resolve`, `complete`):

- `LocalRegistry` (default): a directory `<root>/<model_name>/<revision>/` holding safetensors
  weights (or LoRA adapters), the tokenizer and a model card. A revision is trained in a work
  folder and moved into place with one `rename`, so it is either complete or absent, and an
  existing one is never overwritten.
- `HubRegistry`: the Hugging Face Hub through `huggingface_hub.HfApi`. The checkpoint is first
  registered locally (so it is on disk whatever happens), then pushed as one commit to a branch
  per (dataset, condition) of a repo per base model, tagged per training run; the commit id is the
  revision. A push that still fails after its retries leaves the registration `pending`, and
  `complete` pushes it later. Evaluation downloads the registered commit, never a local folder.

The work folder of a training run is named by its lineage and settings fingerprint, so a killed
run's checkpoints are found (and resumed) by the next run with the same settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tracekd_ops.secrets import redact

LOCAL_BACKEND = "local"
HUB_BACKEND = "hub"
REGISTERED, PENDING = "registered", "pending"


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
    status: str = REGISTERED
    local_revision: str | None = None
    """The local revision the checkpoint lives under (the Hub backend's on-disk copy)."""
    error: str | None = None


def render_model_card(
    lineage: Lineage,
    hyperparameters: dict[str, Any],
    summary: dict[str, Any],
    eval_results: dict[str, float] | None = None,
) -> str:
    """A Hugging Face model card (YAML front matter from `ModelCardData` + Markdown) naming the
    lineage keys. Built only from lineage, hyper-parameters, the training summary and, when
    known, evaluation results: no environment, no secrets."""
    from huggingface_hub import EvalResult, ModelCardData

    results = [
        EvalResult(
            task_type="question-answering",
            dataset_type=lineage.dataset,
            dataset_name=lineage.dataset,
            metric_type=name,
            metric_value=value,
        )
        for name, value in sorted((eval_results or {}).items())
    ]
    data = ModelCardData(
        library_name="peft" if hyperparameters.get("mode") in ("lora", "qlora") else "transformers",
        base_model=None if lineage.base_model.startswith("tiny-") else lineage.base_model,
        datasets=[lineage.dataset],
        tags=["tracekd", f"condition:{lineage.condition}", f"seed:{lineage.seed}", "trl", "sft"],
        model_name=lineage.model_name,
        eval_results=results or None,
    )
    lines = ["---", data.to_yaml(), "---", ""]
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
        (staged / LINEAGE_FILE).write_text(json.dumps(asdict(lineage), sort_keys=True))
        created = datetime.now(timezone.utc)
        revision = f"{created.strftime('%Y%m%dT%H%M%S%fZ')}-{_content_digest(staged)}"
        target = self.root / lineage.model_name / revision
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged, target)  # fails rather than overwrite: the name is new by construction
        return Registered(lineage.model_name, revision, self.backend, target.as_uri(), created.replace(tzinfo=None))

    def resolve(self, model_name: str, revision: str, lineage: Lineage | None = None) -> Path:
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


WEIGHT_FILES = ("model.safetensors", "adapter_model.safetensors")


class HubRegistry:
    """The Hugging Face Hub as registry backend, with the local registry as its on-disk copy."""

    backend = HUB_BACKEND

    def __init__(
        self,
        local: LocalRegistry,
        namespace: str,
        endpoint: str | None = None,
        token_env: str = "HF_TOKEN",
        private: bool = True,
        max_attempts: int = 4,
        backoff_s: float = 2.0,
    ) -> None:
        if not namespace:
            raise ValueError("the Hub registry needs a namespace (user or organisation) to create repos in")
        self.local = local
        self.namespace = namespace
        self.endpoint = endpoint
        self.token_env = token_env
        self.private = private
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s

    @property
    def root(self) -> Path:
        return self.local.root

    def _api(self) -> Any:
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.endpoint, token=os.environ.get(self.token_env) or None)

    def repo_id(self, lineage: Lineage) -> str:
        return f"{self.namespace}/tracekd-{_slug(lineage.base_model)}"

    @staticmethod
    def branch(lineage: Lineage) -> str:
        return f"{lineage.dataset}--{lineage.condition}"

    def work_dir(self, lineage: Lineage, fingerprint: str) -> Path:
        return self.local.work_dir(lineage, fingerprint)

    def register(self, staged: Path, lineage: Lineage, hyperparameters: dict[str, Any], summary: dict[str, Any]) -> Registered:
        """Register locally, then push; a push that keeps failing returns a `pending` registration."""
        local = self.local.register(staged, lineage, hyperparameters, summary)
        return self.complete(
            Registered(local.model_name, local.revision, HUB_BACKEND, local.uri, local.created_at, PENDING, local.revision)
        )

    def complete(self, registered: Registered) -> Registered:
        """Push a pending registration's checkpoint (retrying transient errors); returns it
        registered under the commit id, or still pending with the last error."""
        if registered.status != PENDING:
            return registered
        local_revision = registered.local_revision or registered.revision
        folder = self.local.resolve(registered.model_name, local_revision)
        lineage = _lineage_from_card(folder)
        error = "not attempted"
        for attempt in range(1, self.max_attempts + 1):
            try:
                commit, url = self._push(folder, lineage, local_revision)
                return Registered(registered.model_name, commit, HUB_BACKEND, url, registered.created_at, REGISTERED, local_revision)
            except Exception as fault:  # noqa: BLE001 - every failure is retried, then recorded
                error = redact(f"{type(fault).__name__}: {fault}", os.environ.get(self.token_env))
                if attempt < self.max_attempts:
                    time.sleep(self.backoff_s * 2 ** (attempt - 1))
        return Registered(registered.model_name, local_revision, HUB_BACKEND, registered.uri, registered.created_at, PENDING, local_revision, error)

    def _push(self, folder: Path, lineage: Lineage, local_revision: str) -> tuple[str, str]:
        api = self._api()
        repo_id, branch = self.repo_id(lineage), self.branch(lineage)
        api.create_repo(repo_id, repo_type="model", private=self.private, exist_ok=True)
        api.create_branch(repo_id, branch=branch, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            revision=branch,
            commit_message=f"TraceKD student {lineage.model_name} ({local_revision})",
        )
        commit = info.oid
        tag = f"{branch}--seed{lineage.seed}--{local_revision}"
        api.create_tag(repo_id, tag=tag, revision=commit, tag_message=f"training run {local_revision}", exist_ok=True)
        base = (self.endpoint or "https://huggingface.co").rstrip("/")
        return commit, f"{base}/{repo_id}/tree/{commit}"

    def publish_eval_results(self, lineage: Lineage, card_inputs: dict[str, Any], results: dict[str, float]) -> str | None:
        """Commit the model card, now with its evaluation results (`ModelCardData.eval_results`), to
        the student's branch; returns the card commit. The evaluated revision stays the training
        commit: only README.md changes."""
        card = render_model_card(lineage, card_inputs["hyperparameters"], card_inputs["summary"], results)
        try:
            info = self._api().upload_file(
                path_or_fileobj=card.encode(),
                path_in_repo="README.md",
                repo_id=self.repo_id(lineage),
                revision=self.branch(lineage),
                commit_message=f"Evaluation results of {lineage.model_name} (seed {lineage.seed})",
            )
        except Exception as fault:  # noqa: BLE001 - re-raised with the token scrubbed
            raise RuntimeError(redact(f"{type(fault).__name__}: {fault}", os.environ.get(self.token_env))) from None
        return info.oid

    def resolve(self, model_name: str, revision: str, lineage: Lineage | None = None) -> Path:
        """The registered commit, downloaded from the Hub into the registry's cache."""
        from huggingface_hub import snapshot_download

        if lineage is None:
            raise ValueError("resolving a Hub revision needs its lineage (to name the repo)")
        return Path(
            snapshot_download(
                self.repo_id(lineage),
                revision=revision,
                cache_dir=str(self.root / ".hub_cache"),
                endpoint=self.endpoint,
                token=os.environ.get(self.token_env) or None,
            )
        )


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text.replace("/", "--"))[:80]


def _lineage_from_card(folder: Path) -> Lineage:
    """The lineage a registered checkpoint was written with (kept next to its card)."""
    return Lineage(**json.loads((folder / LINEAGE_FILE).read_text()))


LINEAGE_FILE = "tracekd_lineage.json"


Registry = LocalRegistry | HubRegistry
