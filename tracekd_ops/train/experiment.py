"""The experiment file: which students to train on every (dataset, condition) trace set.

A YAML file users edit (default: none, which means one tiny from-config student on seed 0):

    students:
      - name: tiny
        base_model: tiny-llama-from-config
        seeds: [0, 1, 2]
      - name: llama-1b
        base_model: meta-llama/Llama-3.2-1B-Instruct
        preset: reference_qlora
        seeds: [0]
        training: {max_seconds: 3600}

Validated with pydantic (the schema of `settings.py`) before anything trains; an error names the
file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tracekd_ops.train.settings import MODES, PRESETS, TINY_BASE_MODEL, TrainingConfig

_OVERRIDABLE = set(TrainingConfig.model_fields) - {"seed", "base_model"}


class StudentSpec(BaseModel):
    """One kind of student: a base model, how it is fine-tuned, and on which seeds."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)
    base_model: str = TINY_BASE_MODEL
    preset: str | None = None
    mode: str | None = None
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    training: dict[str, Any] = Field(default_factory=dict)

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        if value is not None and value not in PRESETS:
            raise ValueError(f"unknown preset {value!r}; known: {', '.join(PRESETS)}")
        return value

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, value: str | None) -> str | None:
        if value is not None and value not in MODES:
            raise ValueError(f"unknown mode {value!r}; known: {', '.join(MODES)}")
        return value

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, value: list[int]) -> list[int]:
        negative = [s for s in value if s < 0]
        if negative:
            raise ValueError(f"seeds must be 0 or more; got {negative}")
        repeated = sorted({s for s in value if value.count(s) > 1})
        if repeated:
            raise ValueError(f"each seed once: {repeated} repeated (a seed is a student's identity)")
        return value

    @field_validator("training")
    @classmethod
    def _known_settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - _OVERRIDABLE)
        if unknown:
            raise ValueError(f"unknown training settings {unknown}; known: {', '.join(sorted(_OVERRIDABLE))}")
        return value

    @model_validator(mode="after")
    def _buildable(self) -> "StudentSpec":
        self.training_config(self.seeds[0], TrainingConfig())  # any invalid setting or combination fails here, at load
        return self

    @property
    def from_config(self) -> bool:
        return self.base_model == TINY_BASE_MODEL

    def training_config(self, seed: int, defaults: TrainingConfig) -> TrainingConfig:
        """`defaults`, then the preset, then the file's `training` and `mode`, for one seed."""
        changes: dict[str, Any] = {**PRESETS.get(self.preset or "", {}), **self.training}
        if self.mode:
            changes["mode"] = self.mode
        return defaults.with_changes(**changes, seed=seed, base_model=self.base_model)


class ExperimentFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    students: list[StudentSpec] = Field(min_length=1)
    evaluate_base_models: bool = True
    """Evaluate each pretrained base model untuned, as its own baseline row."""
    datasets: list[str] | None = None
    """The datasets the experiment runs on (what `tracekd plan` lays out; checked against the known
    datasets there, since this wing knows none); None: as the run chooses."""
    conditions: list[str] | None = None
    """The trace conditions it trains (checked likewise); None: every one that can run."""

    @model_validator(mode="after")
    def _unique_names(self) -> "ExperimentFile":
        names = [s.name for s in self.students]
        if len(set(names)) != len(names):
            raise ValueError(f"student names must be unique; got {names}")
        return self


def default_experiment(seeds: list[int] | None = None) -> ExperimentFile:
    """Without an experiment file: one tiny from-config student, on seed 0 or the seeds given."""
    return ExperimentFile(students=[StudentSpec(name="tiny", seeds=seeds or [0])])


def describe_validation_error(error: ValidationError) -> str:
    """Each problem as `field.path: message`, for errors that must name the field."""
    return "; ".join(f"{'.'.join(str(part) for part in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors())


def load_experiment_file(path: str | Path) -> ExperimentFile:
    """Read and validate an experiment file; a `ValueError` names the file and each bad field."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ValueError(f"{path}: cannot read the experiment file: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from error
    try:
        return ExperimentFile.model_validate(raw if raw is not None else {})
    except ValidationError as error:
        raise ValueError(f"{path}: invalid experiment file: {describe_validation_error(error)}") from error
