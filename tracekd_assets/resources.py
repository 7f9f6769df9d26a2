"""Dagster resources: where TraceKD keeps its files, and the experiment's knobs.

Both are plain configuration over `tracekd_ops` objects, so the UI's launchpad can change them and
tests can swap in a temp dir and a tiny budget without touching asset code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from tracekd_ops.conditions import Corruption, TraceOptions
from tracekd_ops.datasets.synthetic import SyntheticConfig
from tracekd_ops.experiment import ExperimentFile, default_experiment, load_experiment_file
from tracekd_ops.registry import HUB_BACKEND, LOCAL_BACKEND, HubRegistry, LocalRegistry, Registry
from tracekd_ops.store import Store
from tracekd_ops.student import TinyModelConfig, TrainingConfig
from tracekd_ops.teacher import TeacherConfig
from tracekd_ops.traces import SENTENCES


def env_field(variable: str, description: str) -> Any:
    """A setting that defaults to an environment variable (read when the resource is built)."""
    return Field(default_factory=lambda: os.environ.get(variable), description=f"{description} (default: ${variable})")


class Settings(ConfigurableResource):
    """A resource of plain settings."""

    def as_config(self) -> dict[str, object]:
        """Plain values of every field: what crosses to worker processes (resources do not pickle)."""
        return {name: getattr(self, name) for name in type(self).model_fields}


def default_home() -> str:
    """`$TRACEKD_HOME`, else `var/` under the current directory (absolute, so every step process agrees)."""
    return str(Path(os.environ.get("TRACEKD_HOME", "var")).resolve())


class TraceKDHome(ConfigurableResource):
    """The folder holding the DuckDB file, the local model registry and the reports."""

    home: str = Field(default_factory=default_home)

    @property
    def root(self) -> Path:
        return Path(self.home)

    def store(self) -> Store:
        return Store(self.root / "tracekd.duckdb")

    def local_registry(self) -> LocalRegistry:
        return LocalRegistry(self.root / "registry")

    def reports_dir(self) -> Path:
        path = self.root / "reports"
        path.mkdir(parents=True, exist_ok=True)
        return path


class ExperimentSettings(Settings):
    """Data size, trace corruption, student shape and training/eval budget of one experiment."""

    seed: int = 0
    experiment_file: str | None = env_field(
        "TRACEKD_EXPERIMENT_FILE", "YAML file listing the students (base models, modes, seeds); unset: one tiny student"
    )
    babi_path: str | None = env_field("TRACEKD_BABI_PATH", "bAbI v1.2 file or folder, or hf:facebook/babi_qa:en-qa1")
    cotempqa_path: str | None = env_field("TRACEKD_COTEMPQA_PATH", "CoTempQA JSON Lines file or folder, or hf:<repo id>")
    msmarco_path: str | None = env_field("TRACEKD_MSMARCO_PATH", "MS MARCO v2.1 JSON / v1.1 JSON Lines file or folder, or hf:microsoft/ms_marco:v2.1")
    msmarco_gold_rule: str = Field(
        default="is_selected", description="MS MARCO gold passages: is_selected | max_overlap (the reference study's)"
    )
    protocol: str = Field(default="reference", description="question subset and split: reference | full")
    per_category_limit: int | None = Field(default=None, description="cap on questions per split and category")
    synthetic_train_per_task: int = SyntheticConfig.train_per_task
    synthetic_test_per_task: int = SyntheticConfig.test_per_task
    synthetic_min_facts: int = SyntheticConfig.min_facts
    synthetic_max_facts: int = SyntheticConfig.max_facts
    trace_style: str = Field(default=SENTENCES, description="how traces are written: sentences (the reference study's) | compact")
    corruption_steps: list[str] = Field(
        default_factory=lambda: list(Corruption.steps), description="incorrect traces: steps made wrong (class, facts)"
    )
    corruption_rate: float = Field(default=Corruption.rate, description="incorrect traces: share of questions corrupted, 0-1")
    corruption_facts_rule: str = Field(
        default=Corruption.facts_rule,
        description="incorrect traces: how wrong facts are chosen: same_count | reference (the study's per-dataset rule)",
    )
    max_steps: int = TrainingConfig.max_steps
    max_train_seconds: float | None = 420.0
    learning_rate: float = TrainingConfig.learning_rate
    batch_size: int = TrainingConfig.batch_size
    hidden_size: int = TinyModelConfig.hidden_size
    num_layers: int = TinyModelConfig.num_layers
    num_heads: int = TinyModelConfig.num_heads
    intermediate_size: int = TinyModelConfig.intermediate_size
    init_std: float = TinyModelConfig.init_std
    max_length: int = TinyModelConfig.max_positions
    eval_batch_size: int = 64
    eval_max_new_tokens: int = 64

    def with_changes(self, **changes: object) -> "ExperimentSettings":
        """A new settings resource with some fields changed. (Dagster builds a resource from the
        config it was constructed with, so pydantic's `model_copy(update=...)` would not stick.)"""
        return ExperimentSettings(**{**self.as_config(), **changes})

    def source(self, dataset: str) -> str:
        """Where a dataset is read from (a path or `hf:<repo id>[:<config>]`); an error saying how
        to set it when unset."""
        value = {"babi": self.babi_path, "cotempqa": self.cotempqa_path, "msmarco": self.msmarco_path}.get(dataset)
        if not value:
            raise ValueError(
                f"no source for dataset {dataset!r}: set experiment.{dataset}_path in the launchpad "
                f"or TRACEKD_{dataset.upper()}_PATH in the environment"
            )
        return value

    def loader_options(self, dataset: str) -> dict[str, str]:
        return {"gold_rule": self.msmarco_gold_rule} if dataset == "msmarco" else {}

    def synthetic(self) -> SyntheticConfig:
        return SyntheticConfig(
            seed=self.seed,
            train_per_task=self.synthetic_train_per_task,
            test_per_task=self.synthetic_test_per_task,
            min_facts=self.synthetic_min_facts,
            max_facts=self.synthetic_max_facts,
        )

    def corruption(self) -> Corruption:
        return Corruption(steps=tuple(self.corruption_steps), rate=self.corruption_rate, facts_rule=self.corruption_facts_rule)

    def trace_options(self) -> TraceOptions:
        return TraceOptions(seed=self.seed, style=self.trace_style, corruption=self.corruption())

    def experiment(self) -> ExperimentFile:
        """The students to train: from `experiment_file`, else one tiny student on `seed`."""
        return load_experiment_file(self.experiment_file) if self.experiment_file else default_experiment(self.seed)

    def training(self) -> TrainingConfig:
        return TrainingConfig(
            seed=self.seed,
            max_steps=self.max_steps,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            max_seconds=self.max_train_seconds,
            model=TinyModelConfig(
                hidden_size=self.hidden_size,
                num_layers=self.num_layers,
                num_heads=self.num_heads,
                intermediate_size=self.intermediate_size,
                init_std=self.init_std,
                max_positions=self.max_length,
            ),
        )


NO_TEACHER = (
    "no teacher configured, so the teacher conditions (teacher, teacher_summary, posthoc) are skipped: set "
    "TRACEKD_TEACHER_BASE_URL and TRACEKD_TEACHER_MODEL (and the key in TRACEKD_TEACHER_API_KEY), or the "
    "`teacher` resource's base_url and model in the launchpad"
)


class TeacherSettings(Settings):
    """The teacher model behind an OpenAI-compatible endpoint. Holds the *name* of the environment
    variable with the API key, never the key, so no config, log or metadata can show it."""

    base_url: str | None = env_field("TRACEKD_TEACHER_BASE_URL", "OpenAI-compatible base URL, e.g. http://localhost:8000/v1")
    model: str | None = env_field("TRACEKD_TEACHER_MODEL", "teacher model name as the server knows it")
    summary_model: str | None = env_field("TRACEKD_TEACHER_SUMMARY_MODEL", "model that writes teacher_summary traces; unset: the teacher itself")
    api_key_env: str = Field(default=TeacherConfig.api_key_env, description="environment variable holding the API key")
    max_concurrency: int = Field(default=TeacherConfig.max_concurrency, description="requests in flight at once")
    max_attempts: int = Field(default=TeacherConfig.max_attempts, description="tries per request before it is stored as failed")
    timeout_s: float = TeacherConfig.timeout_s
    backoff_s: float = Field(default=TeacherConfig.backoff_s, description="first retry delay; doubles per try")
    temperature: float = TeacherConfig.temperature
    top_p: float = TeacherConfig.top_p
    max_tokens: int = TeacherConfig.max_tokens
    seed: int | None = TeacherConfig.seed
    flush_every_s: float = Field(
        default=TeacherConfig.flush_every_s, description="replies are written to DuckDB at least this often (a killed run loses at most this much)"
    )

    def config(self) -> TeacherConfig:
        return TeacherConfig(**self.as_config())

    @property
    def configured(self) -> bool:
        return self.config().configured


class RegistrySettings(Settings):
    """Where student checkpoints are registered: the local folder (default) or the Hugging Face Hub."""

    backend: str = Field(
        default_factory=lambda: os.environ.get("TRACEKD_REGISTRY", LOCAL_BACKEND),
        description="local | hub (default: $TRACEKD_REGISTRY, else local)",
    )
    hub_namespace: str | None = env_field("TRACEKD_HUB_NAMESPACE", "Hub user or organisation the student repos are created in")
    hub_endpoint: str | None = env_field("HF_ENDPOINT", "Hub URL; unset: https://huggingface.co")
    token_env: str = Field(default="HF_TOKEN", description="environment variable holding the Hub token")
    private: bool = True
    max_attempts: int = Field(default=4, description="tries per push before the registration is left pending")
    backoff_s: float = 2.0

    def build(self, home: TraceKDHome) -> Registry:
        local = home.local_registry()
        if self.backend == LOCAL_BACKEND:
            return local
        if self.backend != HUB_BACKEND:
            raise ValueError(f"registry.backend must be {LOCAL_BACKEND} or {HUB_BACKEND}; got {self.backend!r}")
        return HubRegistry(
            local,
            namespace=self.hub_namespace or "",
            endpoint=self.hub_endpoint,
            token_env=self.token_env,
            private=self.private,
            max_attempts=self.max_attempts,
            backoff_s=self.backoff_s,
        )
