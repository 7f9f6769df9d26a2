import os

import pytest

from tracekd_ops.core.lineage import Lineage
from tracekd_ops.registry.local import LocalRegistry

LINEAGE = Lineage(dataset="synthetic", condition="correct", student="tiny", base_model="tiny", seed=7, trace_set_version="abc123")


def stage(registry: LocalRegistry, payload: bytes):
    staged = registry.work_dir(LINEAGE, "f1")
    (staged / "model.safetensors").write_bytes(payload)
    return staged


def test_each_registration_is_a_new_revision_and_earlier_ones_stay(tmp_path):
    registry = LocalRegistry(tmp_path / "reg")
    first = registry.register(stage(registry, b"one"), LINEAGE, {"lr": 1}, {"steps": 3})
    second = registry.register(stage(registry, b"two"), LINEAGE, {"lr": 1}, {"steps": 3})
    assert first.revision != second.revision
    assert (registry.folder(first.model_name, first.revision) / "model.safetensors").read_bytes() == b"one"
    assert (registry.folder(second.model_name, second.revision) / "model.safetensors").read_bytes() == b"two"
    assert not any((tmp_path / "reg" / ".work").iterdir())  # registering moves the work folder away


def test_model_card_names_the_lineage_and_hyperparameters_but_no_secret(tmp_path, monkeypatch, faults):
    monkeypatch.setenv("HF_TOKEN", "hf_supersecretvalue123")
    registry = LocalRegistry(tmp_path / "reg")
    entry = registry.register(stage(registry, b"w"), LINEAGE, {"learning_rate": 0.002}, {"steps": 3})
    card = (registry.folder(entry.model_name, entry.revision) / "README.md").read_text()
    for value in ("synthetic", "correct", "tiny", "abc123", "seed | 7", "learning_rate", "seed:7"):
        assert value in card
    assert "supersecret" not in card
    from huggingface_hub import ModelCard

    data = ModelCard(card).data  # the front matter is what the Hub reads
    assert data.datasets == ["synthetic"] and "condition:correct" in data.tags
    faults.held("secret")


def test_resolve_refuses_an_incomplete_or_unknown_revision(tmp_path, faults):
    registry = LocalRegistry(tmp_path / "reg")
    with pytest.raises(FileNotFoundError, match="no complete revision"):
        registry.folder(LINEAGE.model_name, "nope")
    os.makedirs(tmp_path / "reg" / LINEAGE.model_name / "half")
    with pytest.raises(FileNotFoundError):
        registry.folder(LINEAGE.model_name, "half")
    faults.held("bad_input")


def test_an_interrupted_training_leaves_its_work_folder_for_the_next_run_with_the_same_settings(tmp_path):
    registry = LocalRegistry(tmp_path / "reg")
    work = registry.work_dir(LINEAGE, "f1")
    (work / "_trainer" / "checkpoint-5").mkdir(parents=True)  # what a killed run leaves
    assert registry.work_dir(LINEAGE, "f1") == work and (work / "_trainer" / "checkpoint-5").exists()
    assert registry.work_dir(LINEAGE, "f2") != work  # other settings never resume it
    (work / "model.safetensors").write_bytes(b"ok")
    entry = registry.register(work, LINEAGE, {}, {})
    assert not work.exists() and not (registry.folder(entry.model_name, entry.revision) / "_trainer").exists()


def test_a_revision_holds_no_pickle_its_files_are_read_only_and_tampering_is_caught(tmp_path, faults):
    import stat
    from dataclasses import replace

    from tracekd_ops.registry.base import RevisionCorrupted

    registry = LocalRegistry(tmp_path / "reg")
    entry = registry.register(stage(registry, b"weights"), LINEAGE, {}, {})
    lineage = replace(LINEAGE, model_revision=entry.revision)
    folder = registry.resolve(lineage, entry.content_digest)
    assert not [p for p in folder.rglob("*") if p.suffix in (".bin", ".pt", ".pkl")]
    assert all(not p.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) for p in folder.rglob("*") if p.is_file())
    weights = folder / "model.safetensors"
    weights.chmod(0o644)
    weights.write_bytes(b"tampered")
    with pytest.raises(RevisionCorrupted, match="model.safetensors"):
        registry.resolve(lineage, entry.content_digest)
    with pytest.raises(RevisionCorrupted, match="digest"):
        registry.resolve(lineage, "0" * 64)

    pickled = stage(registry, b"w")
    (pickled / "training_args.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(ValueError, match="pickled files"):
        registry.register(pickled, LINEAGE, {}, {})
    faults.held("bad_input")


@pytest.mark.parametrize("edit", ["rewrite the manifest", "delete the manifest", "no name digest either"])
def test_a_revision_without_its_recorded_digest_is_not_trusted(tmp_path, edit, faults):
    """The attack that used to pass: the registry row's digest set to NULL, 4 KB of the weights
    zeroed, and the manifest rewritten to match (or deleted). Without a recorded digest, the digest
    a local revision carries in its name must match; without that too, it is refused."""
    import json
    from dataclasses import replace

    from tracekd_ops.registry.base import RevisionCorrupted
    from tracekd_ops.registry.local import MANIFEST_FILE, verify_manifest, write_manifest

    registry = LocalRegistry(tmp_path / "reg")
    entry = registry.register(stage(registry, b"w" * 8192), LINEAGE, {}, {})
    lineage = replace(LINEAGE, model_revision=entry.revision)
    assert registry.resolve(lineage, None) == registry.folder(entry.model_name, entry.revision)  # untouched: the name's digest holds
    folder = registry.folder(entry.model_name, entry.revision)
    for path in folder.iterdir():
        path.chmod(0o644)
    (folder / "model.safetensors").write_bytes(b"\0" * 4096 + b"w" * 4096)
    if edit == "delete the manifest":
        (folder / MANIFEST_FILE).unlink()
        with pytest.raises(RevisionCorrupted, match="no tracekd_manifest.json"):
            registry.resolve(lineage, None)
        return
    write_manifest(folder)  # the attacker makes the manifest match the damaged files
    assert json.loads((folder / MANIFEST_FILE).read_text())
    if edit == "rewrite the manifest":
        with pytest.raises(RevisionCorrupted, match="digest its revision name carries"):
            registry.resolve(lineage, None)
    else:  # a revision whose name carries no digest (a Hub commit id)
        with pytest.raises(RevisionCorrupted, match="no content digest is recorded"):
            verify_manifest(folder, None, "revision x@deadbeefcafe0123")
    faults.held("bad_input")


def test_a_local_revision_is_named_relative_to_the_home(tmp_path):
    """A copied home keeps pointing at its own revisions: the stored uri is not an absolute path."""
    registry = LocalRegistry(tmp_path / "home" / "registry")
    registered = registry.register(stage(registry, b"weights"), LINEAGE, {}, {})
    assert registered.uri == f"registry/{LINEAGE.model_name}/{registered.revision}"
    assert (tmp_path / "home" / registered.uri).is_dir()
