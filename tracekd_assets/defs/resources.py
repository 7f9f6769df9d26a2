"""Dagster resources: where TraceKD keeps its files, and the experiment's knobs, chosen per
deployment from one map (`RESOURCES_BY_DEPLOYMENT`, picked by `TRACEKD_DEPLOYMENT`).

Every resource is plain configuration over `tracekd_ops` values, so the UI's launchpad can change
it and tests can swap in a temp dir and a tiny budget without touching asset code. The training
settings are not restated here: their Dagster config class is generated from the library's
pydantic schema (`tracekd_ops.train.settings.TrainingConfig`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, get_args, get_origin

from dagster import Config, ConfigurableResource, Definitions, ExecutorDefinition, InitResourceContext
from dagster.components import definitions
from pydantic import BaseModel, Field, create_model, model_validator

from tracekd_assets.defs.recovery import die_with_parent, recovering_executor
from tracekd_assets.home import STORE_DATA_VARIABLE, STORE_VARIABLE, default_home

from tracekd_ops.core.secrets import url_secrets
from tracekd_ops.datasets import dataset_spec, loadable_datasets
from tracekd_ops.datasets.files import READ_LIMITS, ReadLimits
from tracekd_ops.datasets.protocol import PROTOCOLS
from tracekd_ops.datasets.specs import check_source
from tracekd_ops.datasets.synthetic import SyntheticConfig
from tracekd_ops.published.settings import PublishedConfig, PublishedSource
from tracekd_ops.registry.base import HUB_BACKEND, LOCAL_BACKEND, Registry
from tracekd_ops.registry.hub import HubRegistry
from tracekd_ops.registry.local import LocalRegistry
from tracekd_ops.steps.data import RawRequest
from tracekd_ops.steps.catalog import open_store
from tracekd_ops.store.store import Store
from tracekd_ops.teacher.config import TeacherConfig, check_endpoint
from tracekd_ops.traces.build import Corruption, TraceOptions
from tracekd_ops.traces.render import SENTENCES
from tracekd_ops.train.experiment import ExperimentFile, default_experiment, load_experiment_file
from tracekd_ops.train.settings import PLATFORM_DEFAULTS, TrainingConfig


def env_field(variable: str, description: str) -> Any:
    """A setting that defaults to an environment variable (read when the resource is built)."""
    return Field(default_factory=lambda: os.environ.get(variable), description=f"{description} (default: ${variable})")


def dagster_config(schema: type[BaseModel], exclude: tuple[str, ...] = ()) -> type[Config]:
    """A Dagster config class with the fields, defaults and descriptions of a pydantic schema
    (nested sections become nested config classes), so a setting is declared once, in the library."""
    fields: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        if name in exclude:
            continue
        annotation, description = info.annotation, info.description
        item = get_args(annotation)[0] if get_origin(annotation) is list and get_args(annotation) else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested = dagster_config(annotation)
            fields[name] = (nested, Field(default_factory=nested, description=description))
        elif isinstance(item, type) and issubclass(item, BaseModel):
            fields[name] = (list[dagster_config(item)], Field(default=info.get_default(call_default_factory=True), description=description))  # type: ignore[misc]
        else:
            fields[name] = (annotation, Field(default=info.get_default(call_default_factory=True), description=description))
    return create_model(schema.__name__, __base__=Config, __doc__=schema.__doc__, **fields)


PublishedDefaults = dagster_config(PublishedConfig)
"""Published outputs to import as students (launchpad: `experiment` -> `published`)."""


def _published_from_environment() -> Any:
    paths = [p.strip() for p in os.environ.get("TRACEKD_PUBLISHED_PATHS", "").split(",") if p.strip()]
    return PublishedDefaults(sources=[{"path": path} for path in paths])


TrainingDefaults = dagster_config(TrainingConfig, exclude=("seed", "base_model"))
"""Every student's training settings before its experiment-file overrides (launchpad: `training`);
the base model and seeds are the experiment file's (or the tiny student on `seed`)."""


def _plain(value: Any) -> Any:
    return value.model_dump() if isinstance(value, BaseModel) else value


class Settings(ConfigurableResource):
    """A resource of plain settings."""

    def as_config(self) -> dict[str, Any]:
        """Plain values of every field: what crosses to worker processes (resources do not pickle)
        and what a run config file holds."""
        return {name: _plain(getattr(self, name)) for name in type(self).model_fields}

    def with_changes(self, **changes: Any) -> Any:
        """A new resource with some fields changed; nested sections (dicts) merge key by key.
        (Dagster builds a resource from the config it was constructed with, so pydantic's
        `model_copy(update=...)` would not stick.)"""
        merged = self.as_config()
        for key, value in changes.items():
            value = _plain(value)
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                value = _deep_merge(merged[key], value)
            merged[key] = value
        return type(self)(**merged)


def _deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = _deep_merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


class TraceKDHome(ConfigurableResource):
    """The folder holding the results store (by default a DuckDB file in it), the local model
    registry and the reports."""

    home: str = Field(default_factory=default_home)
    store_location: str | None = env_field(
        STORE_VARIABLE, "where results are stored: unset, tracekd.duckdb in the home; ducklake:postgres:<libpq string>, a "
        "DuckLake many writers share (cluster profile; the password in $PGPASSWORD, not here)",
    )
    store_data_path: str | None = env_field(STORE_DATA_VARIABLE, "DuckLake's Parquet folder; unset: lake/ in the home")

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Every step uses the home: a step process started by a run dies with that run."""
        die_with_parent()

    @property
    def root(self) -> Path:
        return Path(self.home)

    def store(self) -> Store:
        return open_store(self.store_location, self.root, self.store_data_path)

    def local_registry(self) -> LocalRegistry:
        return LocalRegistry(self.root / "registry")

    def reports_dir(self) -> Path:
        path = self.root / "reports"
        path.mkdir(parents=True, exist_ok=True)
        return path


class ExperimentSettings(Settings):
    """Data sources and sizes, trace construction, training defaults and evaluation budget."""

    seed: int = 0
    seeds: list[int] | None = Field(default=None, description="seeds of the default tiny student (no experiment file); unset: [seed]")
    experiment_file: str | None = env_field(
        "TRACEKD_EXPERIMENT_FILE", "YAML file listing the students (base models, modes, seeds); unset: one tiny student"
    )
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="dataset -> a file, a folder or hf:<repo id>[:<config>]; unset: the dataset's variable "
        "(TRACEKD_BABI_PATH, TRACEKD_COTEMPQA_PATH, TRACEKD_MSMARCO_PATH)",
    )
    dataset_options: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="dataset -> loader options, e.g. msmarco: {gold_rule: max_overlap}"
    )
    protocol: str = Field(default="reference", description="question subset and split: reference | full")
    per_category_limit: int | None = Field(default=None, description="cap on questions per split and category")
    read_limits: dict[str, int] = Field(
        default_factory=dict,
        description="what one record of a dataset file may cost before it is parsed, over the defaults "
        f"{asdict(READ_LIMITS)}: max_depth (JSON nesting), max_record_bytes (a JSON record, a text line), "
        "max_field_bytes (one JSON string); a file past one is refused, naming the file, the line or record and the field",
    )
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
    training: TrainingDefaults = Field(  # type: ignore[valid-type]
        default_factory=lambda: TrainingDefaults(**PLATFORM_DEFAULTS),
        description="every student's training settings, before the experiment file's per-student overrides",
    )
    eval_batch_size: int = 64
    eval_max_new_tokens: int = 64
    training_processes: int = Field(
        default=0, ge=0, le=1024,
        description="0: train inside the step's process (on the cluster profile: in a pod of its own with one GPU); "
        "N: launch `torchrun` with N processes (one per GPU, or gloo on CPU) through Dagster Pipes, the global "
        "batch spread over them (it must divide by N), as DDP or FSDP as `training.sharding` says",
    )
    published: PublishedDefaults = Field(  # type: ignore[valid-type]
        default_factory=_published_from_environment,
        description="another study's published outputs, imported as students by `published_students` (default sources: "
        "$TRACEKD_PUBLISHED_PATHS, comma-separated folders read with the default settings), and the scoring choices",
    )

    @model_validator(mode="after")
    def _usable(self) -> "ExperimentSettings":
        """Settings are checked when the definitions load (and when a run's config is built), so a
        typo fails `dagster definitions validate`, not a run an hour later."""
        for dataset, source in self.sources.items():
            spec = dataset_spec(dataset)  # an unknown dataset name fails here
            check_source(spec.name, source)
        for dataset in loadable_datasets():
            variable = dataset_spec(dataset).env_var
            if variable and os.environ.get(variable) and dataset not in self.sources:
                check_source(dataset, os.environ[variable], variable)
        for dataset, options in self.dataset_options.items():
            dataset_spec(dataset).check_options(options)
        self.file_limits()
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {self.protocol!r}")
        for source in self.published_config().sources:
            if not Path(source.path).expanduser().exists():
                raise ValueError(f"published.sources: no file or folder at {Path(source.path).expanduser().resolve()}")
        self.trace_options()
        self.training_defaults()
        self.experiment()  # reads and validates the experiment file, naming file and field
        return self

    def file_limits(self) -> ReadLimits:
        unknown = set(self.read_limits) - set(asdict(READ_LIMITS))
        if unknown:
            raise ValueError(f"read_limits: unknown {', '.join(sorted(unknown))}; known: {', '.join(asdict(READ_LIMITS))}")
        return replace(READ_LIMITS, **self.read_limits)

    def raw_request(self, dataset: str) -> RawRequest:
        """How `raw_examples` reads the dataset under these settings (and `tracekd run`'s preflight, the same way)."""
        return RawRequest(self.sources.get(dataset), self.protocol, dict(self.dataset_options.get(dataset, {})), self.seed,
                          self.per_category_limit, self.synthetic(), self.file_limits())  # fmt: skip

    def synthetic(self) -> SyntheticConfig:
        return SyntheticConfig(
            seed=self.seed,
            train_per_task=self.synthetic_train_per_task,
            test_per_task=self.synthetic_test_per_task,
            min_facts=self.synthetic_min_facts,
            max_facts=self.synthetic_max_facts,
        )

    def trace_options(self) -> TraceOptions:
        corruption = Corruption(steps=tuple(self.corruption_steps), rate=self.corruption_rate, facts_rule=self.corruption_facts_rule)
        return TraceOptions(seed=self.seed, style=self.trace_style, corruption=corruption)

    def experiment(self) -> ExperimentFile:
        """The students to train: from `experiment_file`, else one tiny student on `seeds` (or `seed`)."""
        return load_experiment_file(self.experiment_file) if self.experiment_file else default_experiment(self.seeds or [self.seed])

    def published_config(self) -> PublishedConfig:
        return PublishedConfig.model_validate(_plain(self.published))

    def training_defaults(self) -> TrainingConfig:
        return TrainingConfig.model_validate({**_plain(self.training), "seed": self.seed})


class TeacherSettings(Settings):
    """The teacher model behind an OpenAI-compatible endpoint. Holds the *name* of the environment
    variable with the API key, never the key, so no config, log or metadata can show it."""

    base_url: str | None = env_field("TRACEKD_TEACHER_BASE_URL", "OpenAI-compatible base URL, e.g. http://localhost:8000/v1")
    model: str | None = env_field("TRACEKD_TEACHER_MODEL", "teacher model name as the server knows it")
    extra_urls: list[str] = Field(
        default_factory=lambda: [u for u in os.environ.get("TRACEKD_TEACHER_EXTRA_URLS", "").split(",") if u.strip()],
        description="more endpoints serving the same model; each request goes to the least busy (default: "
        "$TRACEKD_TEACHER_EXTRA_URLS, comma-separated)",
    )
    summary_model: str | None = env_field("TRACEKD_TEACHER_SUMMARY_MODEL", "model that writes teacher_summary traces; unset: the teacher itself")
    api_key_env: str = Field(default=TeacherConfig.api_key_env, description="environment variable holding the API key")
    max_concurrency: int = Field(default=TeacherConfig.max_concurrency, description="requests in flight at once, per endpoint")
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
    max_questions: int | None = Field(
        default=None, description="ask about at most this many training questions per dataset (a seeded sample); unset: all"
    )
    worked_example: bool = Field(
        default=TeacherConfig.worked_example,
        description="show the teacher one solved training question first (for a small model that does not follow the instruction alone)",
    )

    @model_validator(mode="after")
    def _valid(self) -> "TeacherSettings":
        """Checked when the definitions load (defaults from the environment included)."""
        for name, url in [("base_url", self.base_url), *(("extra_urls", u) for u in self.extra_urls)]:
            if not url:
                continue
            check_endpoint(url)
            if url_secrets(url):
                raise ValueError(
                    f"the teacher {name} carries credentials (user:password@); they would show in every run's config: "
                    "put the key in the variable api_key_env names (TRACEKD_TEACHER_API_KEY) instead"
                )
        self.config()
        return self

    def config(self) -> TeacherConfig:
        return TeacherConfig(**{**self.as_config(), "extra_urls": tuple(self.extra_urls)})

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

    @model_validator(mode="after")
    def _valid(self) -> "RegistrySettings":
        if self.backend not in (LOCAL_BACKEND, HUB_BACKEND):
            raise ValueError(f"registry backend must be {LOCAL_BACKEND} or {HUB_BACKEND}; got {self.backend!r} (TRACEKD_REGISTRY?)")
        if self.backend == HUB_BACKEND and not self.hub_namespace:
            raise ValueError("the hub registry needs hub_namespace (TRACEKD_HUB_NAMESPACE): the user or organisation to create repos in")
        if self.max_attempts < 1:
            raise ValueError(f"registry max_attempts must be 1 or more; got {self.max_attempts}")
        return self

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


def _resources() -> dict[str, Any]:
    return {"home": TraceKDHome(), "experiment": ExperimentSettings(), "teacher": TeacherSettings(), "registry": RegistrySettings()}


RESOURCES_BY_DEPLOYMENT: dict[str, Callable[[], dict[str, Any]]] = {
    "local": _resources,
    # the same settings; on a cluster TRACEKD_HOME is a volume every pod mounts (deploy/values.yaml)
    "cluster": _resources,
}
"""The resources of each deployment profile (`TRACEKD_DEPLOYMENT`). `local`: one machine, the
embedded default. `cluster`: the Dagster instance on Postgres (the profile of the same name in
tracekd_assets/instance.yaml) and every step in its own Kubernetes pod (`EXECUTORS_BY_DEPLOYMENT`)."""


def _k8s_executor() -> ExecutorDefinition:
    """Each step a Kubernetes job (dagster-k8s, the `cluster` extra); the step's op tag
    `dagster-k8s/config` (e.g. the student's GPU request) shapes its pod."""
    from dagster_k8s import k8s_job_executor

    from tracekd_assets.defs.pools import CLUSTER_ENV_VARS, CLUSTER_SECRET, HOME_MOUNT, HOME_VOLUME

    return k8s_job_executor.configured(
        {"job_namespace": {"env": "TRACEKD_K8S_NAMESPACE"}, "image_pull_policy": "IfNotPresent",
         "env_vars": CLUSTER_ENV_VARS, "env_secrets": [CLUSTER_SECRET], "volume_mounts": [HOME_MOUNT], "volumes": [HOME_VOLUME]},  # fmt: skip
        name="tracekd_k8s_job_executor",
    )


EXECUTORS_BY_DEPLOYMENT: dict[str, Callable[[], ExecutorDefinition]] = {
    "local": lambda: recovering_executor,
    "cluster": _k8s_executor,
}


def deployment() -> str:
    name = os.environ.get("TRACEKD_DEPLOYMENT", "local")
    if name not in RESOURCES_BY_DEPLOYMENT:
        raise ValueError(f"TRACEKD_DEPLOYMENT must be one of {', '.join(RESOURCES_BY_DEPLOYMENT)}; got {name!r}")
    return name


@definitions
def defs() -> Definitions:
    """The deployment's resources and executor (locally, the one that frees what killed runs left behind)."""
    name = deployment()
    return Definitions(resources=RESOURCES_BY_DEPLOYMENT[name](), executor=EXECUTORS_BY_DEPLOYMENT[name]())
