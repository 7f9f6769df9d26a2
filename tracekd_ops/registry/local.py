"""The local registry (default): a directory `<root>/<model_name>/<revision>/` holding safetensors
weights (or LoRA adapters), the tokenizer and a model card. A revision is trained in a work folder
and moved into place with one `rename`, so it is either complete or absent, and an existing one is
never overwritten. The work folder of a training run is named by its lineage and settings
fingerprint, so a killed run's checkpoints are found (and resumed) by the next run with the same
settings."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tracekd_ops.core.lineage import Lineage
from tracekd_ops.registry.base import LOCAL_BACKEND, MANIFEST_FILE, WEIGHT_FILES, Registered, RevisionCorrupted, write_lineage
from tracekd_ops.registry.card import render_model_card


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
"""Files that may hold pickled Python objects (code that runs when loaded): never published."""


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path) -> str:
    """Hash every file of a revision into its manifest; the manifest's own hash is the revision's
    content digest (recorded in the registry index and checked whenever the revision is resolved)."""
    files = {p.relative_to(folder).as_posix(): _file_sha256(p) for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST_FILE}
    text = json.dumps(files, indent=1, sort_keys=True)
    (folder / MANIFEST_FILE).write_text(text)
    return hashlib.sha256(text.encode()).hexdigest()


def verify_manifest(folder: Path, expected_digest: str | None, what: str, digest_prefix: str | None = None) -> None:
    """A revision is what was registered: its manifest hashes to the recorded digest and every file
    (none missing, none added) to its manifest entry; else an error naming what differs. Without a
    recorded digest (a registry row edited, or lost), the digest's first characters that a local
    revision carries in its name (`digest_prefix`) must match instead; with neither, the revision
    cannot be trusted and is refused: a missing digest is never a pass."""
    manifest = folder / MANIFEST_FILE
    if not manifest.exists():
        raise RevisionCorrupted(f"{what}: no {MANIFEST_FILE}, cannot verify its content")
    text = manifest.read_text()
    actual = hashlib.sha256(text.encode()).hexdigest()
    if expected_digest is None and digest_prefix is None:
        raise RevisionCorrupted(f"{what}: no content digest is recorded for it in the registry table, so its files cannot be "
                                "trusted; register it again (materialize its student)")  # fmt: skip
    if expected_digest is not None and actual != expected_digest:
        raise RevisionCorrupted(f"{what}: its manifest does not match the digest recorded at registration")
    if expected_digest is None and not actual.startswith(digest_prefix or ""):
        raise RevisionCorrupted(f"{what}: its manifest does not match the digest its revision name carries (no digest recorded in the registry table)")
    recorded = json.loads(text)
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST_FILE}
    changed = sorted(name for name in recorded if name not in present or _file_sha256(folder / name) != recorded[name])
    added = sorted(present - set(recorded) - HOST_FILES)
    if changed or added:
        raise RevisionCorrupted(f"{what}: files changed since registration: {changed + added}")


def name_digest(revision: str) -> str | None:
    """The content digest's first 8 hex characters, which a local revision's name ends with."""
    tail = revision.rsplit("-", 1)[-1]
    return tail if len(tail) == 8 and all(c in "0123456789abcdef" for c in tail) else None


HOST_FILES = {".gitattributes"}
"""Files a host adds to a repository on its own (the Hub's LFS settings): not part of a revision."""


def seal(folder: Path) -> None:
    """Revision files are read-only: immutable in fact, not only in name."""
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


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
        """Write the model card and manifest into `staged`, seal it, and move it into place as a
        new revision. Pickled files are refused: a revision holds weights (safetensors), the
        tokenizer and JSON, nothing that runs code when loaded."""
        shutil.rmtree(staged / "_trainer", ignore_errors=True)
        pickles = sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise ValueError(f"refusing to register {lineage.model_name}: pickled files {pickles} (save JSON or safetensors instead)")
        (staged / "README.md").write_text(render_model_card(lineage, hyperparameters, summary))
        write_lineage(staged, lineage)
        digest = write_manifest(staged)
        seal(staged)
        created = datetime.now(timezone.utc)
        revision = f"{created.strftime('%Y%m%dT%H%M%S%fZ')}-{digest[:8]}"
        target = self.root / lineage.model_name / revision
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged, target)  # fails rather than overwrite: the name is new by construction
        # where it is, relative to the registry's parent (the TraceKD home): a copied or moved home
        # still names its revisions right (an absolute file:// URI pointed at the old place)
        where = target.relative_to(self.root.parent).as_posix()
        return Registered(lineage.model_name, revision, self.backend, where, created.replace(tzinfo=None), content_digest=digest)

    def resolve(self, lineage: Lineage, digest: str | None = None) -> Path:
        """The folder of the registered revision `lineage.model_revision` of its student, checked
        against its manifest and the digest recorded at registration."""
        if lineage.model_revision is None:
            raise ValueError(f"{lineage.model_name}: no revision to resolve")
        folder = self.folder(lineage.model_name, lineage.model_revision)
        verify_manifest(folder, digest, f"revision {lineage.model_name}@{lineage.model_revision}", name_digest(lineage.model_revision))
        return folder

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
