"""The Hugging Face Hub as registry backend, through `huggingface_hub.HfApi`.

The checkpoint is first registered locally (so it is on disk whatever happens), then pushed as one
commit to a branch per (dataset, condition) of a repo per base model, tagged per training run; the
commit id is the revision. A push that still fails after its retries leaves the registration
`pending`, and `complete` pushes it later. Evaluation downloads the registered commit, never a
local folder.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from tracekd_ops.core.lineage import Lineage
from tracekd_ops.core.retry import with_retries
from tracekd_ops.core.secrets import redact
from tracekd_ops.registry.base import HUB_BACKEND, PENDING, REGISTERED, Registered, read_lineage
from tracekd_ops.registry.card import render_model_card
from tracekd_ops.registry.local import LocalRegistry, verify_manifest


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
        return self.complete(replace(local, backend=HUB_BACKEND, status=PENDING, local_revision=local.revision))

    def complete(self, registered: Registered) -> Registered:
        """Push a pending registration's checkpoint (retrying transient errors); returns it
        registered under the commit id, or still pending with the last error."""
        if registered.status != PENDING:
            return registered
        local_revision = registered.local_revision or registered.revision
        folder = self.local.folder(registered.model_name, local_revision)
        lineage = read_lineage(folder)
        pushed = with_retries(
            lambda attempt: self._push(folder, lineage, local_revision),
            self.max_attempts,
            lambda attempt, fault: self.backoff_s * 2 ** (attempt - 1),  # every failure is worth another try
            lambda fault: redact(f"{type(fault).__name__}: {fault}", os.environ.get(self.token_env)),
        )
        if pushed.value is not None:
            commit, url = pushed.value
            return replace(registered, revision=commit, uri=url, status=REGISTERED, local_revision=local_revision, error=None)
        return replace(registered, revision=local_revision, status=PENDING, local_revision=local_revision, error=pushed.error)

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
        tag = f"{branch}--seed{lineage.seed}--{_slug(lineage.student)}--{local_revision}"
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

    def resolve(self, lineage: Lineage, digest: str | None = None) -> Path:
        """The registered commit, downloaded from the Hub into the registry's cache and checked
        against its manifest and the digest recorded at registration."""
        from huggingface_hub import snapshot_download

        folder = Path(
            snapshot_download(
                self.repo_id(lineage),
                revision=lineage.model_revision,
                cache_dir=str(self.root / ".hub_cache"),
                endpoint=self.endpoint,
                token=os.environ.get(self.token_env) or None,
            )
        )
        verify_manifest(folder, digest, f"Hub revision {self.repo_id(lineage)}@{lineage.model_revision}")
        return folder


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text.replace("/", "--"))[:80]
