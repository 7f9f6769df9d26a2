import os

import pytest

from tracekd_ops.registry import Lineage, LocalRegistry

LINEAGE = Lineage(dataset="synthetic", condition="correct", base_model="tiny", seed=7, trace_set_version="abc123")


def stage(registry: LocalRegistry, payload: bytes):
    staged = registry.staging_dir(LINEAGE)
    (staged / "model.safetensors").write_bytes(payload)
    return staged


def test_each_registration_is_a_new_revision_and_earlier_ones_stay(tmp_path):
    registry = LocalRegistry(tmp_path / "reg")
    first = registry.register(stage(registry, b"one"), LINEAGE, {"lr": 1}, {"steps": 3})
    second = registry.register(stage(registry, b"two"), LINEAGE, {"lr": 1}, {"steps": 3})
    assert first.revision != second.revision
    assert (registry.resolve(first.model_name, first.revision) / "model.safetensors").read_bytes() == b"one"
    assert (registry.resolve(second.model_name, second.revision) / "model.safetensors").read_bytes() == b"two"
    assert not any((tmp_path / "reg" / ".staging").iterdir())


def test_model_card_names_the_lineage_and_hyperparameters_but_no_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_supersecretvalue123")
    registry = LocalRegistry(tmp_path / "reg")
    entry = registry.register(stage(registry, b"w"), LINEAGE, {"learning_rate": 0.002}, {"steps": 3})
    card = (registry.resolve(entry.model_name, entry.revision) / "README.md").read_text()
    for value in ("synthetic", "correct", "tiny", "abc123", "seed | 7", "learning_rate"):
        assert value in card
    assert "supersecret" not in card


def test_resolve_refuses_an_incomplete_or_unknown_revision(tmp_path):
    registry = LocalRegistry(tmp_path / "reg")
    with pytest.raises(FileNotFoundError, match="no complete revision"):
        registry.resolve(LINEAGE.model_name, "nope")
    os.makedirs(tmp_path / "reg" / LINEAGE.model_name / "half")
    with pytest.raises(FileNotFoundError):
        registry.resolve(LINEAGE.model_name, "half")


def test_a_failed_training_leaves_no_staging_folder_behind(tmp_path):
    registry = LocalRegistry(tmp_path / "reg")
    with pytest.raises(RuntimeError):
        with registry.staging(LINEAGE) as staged:
            (staged / "model.safetensors").write_bytes(b"half")
            raise RuntimeError("training died")
    assert not any((tmp_path / "reg" / ".staging").iterdir())
    with registry.staging(LINEAGE) as staged:
        (staged / "model.safetensors").write_bytes(b"ok")
        entry = registry.register(staged, LINEAGE, {}, {})
    assert registry.resolve(entry.model_name, entry.revision).exists()
