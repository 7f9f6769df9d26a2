"""Garbage in TraceKD's settings fails when the definitions load (`dagster definitions validate`),
naming the setting, instead of an hour into a run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_a_bad_setting_fails_definitions_validate_naming_it(tmp_path, faults):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "TRACEKD_TEACHER_BASE_URL": "http://user:hunter2@teacher.example/v1"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "carries credentials" in output, output[-2000:]
    assert "hunter2" not in output
    faults.held("bad_input")


@pytest.mark.parametrize(
    "variable, value, resource, says",
    [
        ("TRACEKD_TEACHER_BASE_URL", "localhost:8000", "TeacherSettings", "http(s) URL with a host"),
        ("TRACEKD_TEACHER_BASE_URL", "http://teacher.example:99999/v1", "TeacherSettings", "not a valid URL"),
        ("TRACEKD_REGISTRY", "s3", "RegistrySettings", "registry backend must be local or hub"),
        ("TRACEKD_BABI_PATH", "/no/such/babi", "ExperimentSettings", "TRACEKD_BABI_PATH: no file or folder"),
        ("TRACEKD_EXPERIMENT_FILE", "/no/such/experiment.yaml", "ExperimentSettings", "cannot read the experiment file"),
    ],
)
def test_each_bad_setting_is_refused_when_the_resource_is_built(monkeypatch, variable, value, resource, says, faults):
    from tracekd_assets.defs import resources

    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=says.replace("(", r"\(").replace(")", r"\)")):
        getattr(resources, resource)()
    faults.held("bad_input")


def test_an_unknown_deployment_is_refused(monkeypatch, faults):
    from tracekd_assets.defs.resources import deployment

    monkeypatch.setenv("TRACEKD_DEPLOYMENT", "moon")
    with pytest.raises(ValueError, match="TRACEKD_DEPLOYMENT must be one of"):
        deployment()
    faults.held("bad_input")


def test_sharding_is_a_typed_training_setting_the_job_file_carries(tmp_path, faults):
    """How torchrun's ranks split the work is `training.sharding`, checked with the other training
    settings and written into the job file the ranks read (no environment variable beside it)."""
    from tracekd_assets.defs.resources import ExperimentSettings
    from tracekd_assets.pipes_training import write_job

    with pytest.raises(ValueError, match="sharding must be one of ddp, fsdp; got 'zero3'"):
        ExperimentSettings(training={"sharding": "zero3"})
    config = ExperimentSettings(training={"sharding": "fsdp"}).training_defaults()
    assert config.sharding == "fsdp" and config.fingerprint() != config.with_changes(sharding="ddp").fingerprint()
    job = write_job(tmp_path, ["p"], ["c"], config.as_dict(), [])
    assert '"sharding": "fsdp"' in job.read_text()
    faults.held("bad_input")
