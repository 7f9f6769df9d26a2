"""Training settings: the one typed schema (pydantic) for how a student is fine-tuned.

The experiment file's `training` sections, the Dagster `experiment` resource (its config is
generated from these classes) and the TRL/PEFT mapping (`hf.py`) all read these classes, so a
setting is declared once. Invalid values fail at load, naming the field.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

TINY_BASE_MODEL = "tiny-llama-from-config"
"""Base-model name recorded in lineage for the from-config student (there is no hub id)."""
FULL, LORA, QLORA = "full", "lora", "qlora"
MODES: tuple[str, ...] = (FULL, LORA, QLORA)
COSINE, COSINE_MIN_LR, WSD, CONSTANT_WARMUP = "cosine", "cosine_with_min_lr", "warmup_stable_decay", "constant_with_warmup"
LR_SCHEDULERS: tuple[str, ...] = (COSINE, COSINE_MIN_LR, WSD, CONSTANT_WARMUP)
"""Learning-rate schedules (transformers' names), each after a linear warmup of `warmup_ratio`:
`cosine` decays to 0; `cosine_with_min_lr` decays to `min_lr_ratio` of the peak;
`warmup_stable_decay` holds the peak, then decays (cosine) over the last `decay_ratio` of the
steps to `min_lr_ratio` of the peak; `constant_with_warmup` holds the peak."""
AUTO, PADDED, PACKED = "auto", "padded", "packed"
BATCHINGS: tuple[str, ...] = (AUTO, PADDED, PACKED)
"""How examples become batches (`train.hf.batching` decides `auto`)."""
DDP, FSDP = "ddp", "fsdp"
SHARDINGS: tuple[str, ...] = (DDP, FSDP)
CHOICES: dict[str, tuple[str, ...]] = {"mode": MODES, "lr_scheduler": LR_SCHEDULERS, "batching": BATCHINGS, "sharding": SHARDINGS}
"""The settings that take one of a few names: checked on load, offered as choices by `tracekd --help`."""
MAX_STEPS_LIMIT = 10_000_000
"""More optimizer steps than any study here needs: a larger number is a typo, not a plan."""
DEFAULT_WALL_SECONDS = 600.0
"""The wall-time cap per student of the platform's own runs (`tracekd demo`, `tracekd run` without
`--max-steps`, the launchpad's default): a busy machine cannot hold a demo hostage. A student it
stops is marked `stopped early` wherever its numbers appear."""
PLATFORM_DEFAULTS: dict[str, Any] = {"max_seconds": DEFAULT_WALL_SECONDS}
"""Where the platform's runs (the launchpad's default, `tracekd demo` and `run`) start from other
values than `TrainingConfig`'s own, which an experiment file's students start from."""


class _Settings(BaseModel):
    """Each field's docstring is its description: what the launchpad and `tracekd --help` show."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()


class TinyModelConfig(_Settings):
    """Shape of the from-config student. A larger init std than the Llama default (0.02) is what
    lets a model this small leave the chance plateau within a CPU minute (measured: docs/results.md)."""

    hidden_size: int = Field(default=128, ge=8, le=16384)
    """Width of the hidden states."""
    num_layers: int = Field(default=2, ge=1, le=256)
    """Transformer blocks."""
    num_heads: int = Field(default=4, ge=1, le=256)
    """Attention heads per block; they must divide hidden_size."""
    intermediate_size: int = Field(default=256, ge=8, le=65536)
    """Width of each block's MLP."""
    init_std: float = Field(default=0.08, gt=0.0, le=1.0)
    """Standard deviation of the initial weights."""
    vocab_size: int = Field(default=600, ge=16, le=1_000_000)
    """Tokens the student's tokenizer is trained to know."""
    max_positions: int = Field(default=1024, ge=16, le=1_048_576)
    """Longest sequence the student can hold, in tokens."""
    canon_kernel: int = Field(default=6, ge=0, le=64)
    """Tokens each Canon layer mixes (itself and the ones before it); 0: a plain Llama (`canon.py`)."""

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "TinyModelConfig":
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} must be a multiple of num_heads {self.num_heads}")
        return self


class LoraSettings(_Settings):
    """PEFT LoRA adapters; `["all-linear"]` means every linear projection of attention and MLP
    (not the LM head)."""

    r: int = Field(default=16, ge=1, le=4096)
    """Rank of each adapter."""
    alpha: int = Field(default=32, ge=1)
    """Scale of the adapters' update (alpha / r)."""
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    """Dropout on the adapters' input."""
    target_modules: list[str] = Field(default_factory=lambda: ["all-linear"], min_length=1)
    """Module names the adapters wrap; all-linear: every linear projection."""


class TrainingConfig(_Settings):
    """SFT settings of one student on one seed. `max_steps` > 0 bounds steps, else (-1) `epochs`
    does. `max_seconds` bounds wall time; the step at which it stopped is recorded."""

    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    """Seed of the initial weights, the data order and dropout."""
    base_model: str = Field(default=TINY_BASE_MODEL, min_length=1)
    """A Hub id or local folder, or the from-config tiny student."""
    mode: str = FULL
    """full (every weight), lora, or qlora (LoRA over a 4-bit base; CUDA only)."""
    max_steps: int = Field(default=1000, ge=-1, le=MAX_STEPS_LIMIT)
    """Optimizer steps; -1: train for `epochs` instead."""
    epochs: float = Field(default=1.0, gt=0.0, le=1000.0)
    """Passes over the training traces, when max_steps is -1."""
    learning_rate: float = Field(default=1e-3, gt=0.0, lt=1.0)
    """Peak learning rate."""
    batch_size: int = Field(default=32, ge=1, le=65536)
    """Examples per optimizer step and device, before accumulation."""
    grad_accumulation: int = Field(default=1, ge=1, le=65536)
    """Batches whose gradients are summed before each optimizer step."""
    warmup_ratio: float = Field(default=0.05, ge=0.0, lt=1.0)
    """Share of the steps the learning rate warms up linearly over."""
    weight_decay: float = Field(default=0.0, ge=0.0, lt=1.0)
    """AdamW weight decay."""
    lr_scheduler: str = WSD
    """Learning-rate schedule (`LR_SCHEDULERS`). Warmup-stable-decay by default: the tiny student keeps learning the
    two-fact task at the peak rate, where cosine had already decayed (measured: docs/results.md)."""
    min_lr_ratio: float = Field(default=0.1, ge=0.0, le=1.0)
    """Share of the peak learning rate the schedule ends at (used by `cosine_with_min_lr` and
    `warmup_stable_decay`; the others ignore it)."""
    decay_ratio: float = Field(default=0.2, gt=0.0, le=1.0)
    """Share of the steps `warmup_stable_decay` spends decaying (the last ones)."""
    max_seconds: float | None = Field(default=None, gt=0.0)
    """Wall-time cap in seconds; the step it stopped at is recorded, and the student marked stopped early."""
    log_every: int = Field(default=50, ge=1)
    """Steps between loss logs."""
    save_every: int = Field(default=100, ge=1)
    """Steps between checkpoints a killed run resumes from."""
    lora: LoraSettings = Field(default_factory=LoraSettings)
    """LoRA adapters (modes lora and qlora)."""
    model: TinyModelConfig = Field(default_factory=TinyModelConfig)
    """Shape of the from-config tiny student."""
    max_length: int | None = Field(default=None, ge=8)
    """Longest training sequence in tokens; None: the tiny model's `max_positions`, else 1024."""
    memory_gib: float | None = Field(default=None, gt=0.0)
    """Memory this student may use (GiB): activation checkpointing and micro-batches are chosen to
    fit it (`train.memory`); None: what the machine has when training starts (the GPU's on CUDA)."""
    batching: str = AUTO
    """`padded` (one example a row), `packed` (several a row, no padding: `batch_size` examples'
    worth of tokens a step), or `auto` (packed where packing is correct and pays: `train.hf.batching`)."""
    sharding: str = DDP
    """How the processes of a multi-process (torchrun) training split the work: `ddp` (a whole copy
    of the student per process) or `fsdp` (FSDP2: parameters, gradients and optimizer state
    sharded). Set by the launcher in the job file the ranks read; one process ignores it."""

    @field_validator(*CHOICES)
    @classmethod
    def _known_choice(cls, value: str, info: ValidationInfo) -> str:
        allowed = CHOICES[info.field_name]
        if value not in allowed:
            raise ValueError(f"{'training mode' if info.field_name == 'mode' else info.field_name} must be one of {', '.join(allowed)}; got {value!r}")
        return value

    @field_validator("max_steps")
    @classmethod
    def _steps_or_epochs(cls, value: int) -> int:
        if value == 0:
            raise ValueError("max_steps must be positive, or -1 to train for `epochs`")
        return value

    @model_validator(mode="after")
    def _tiny_is_full(self) -> "TrainingConfig":
        if self.base_model == TINY_BASE_MODEL and self.mode != FULL:
            raise ValueError(f"{TINY_BASE_MODEL} is trained from scratch: mode must be {FULL}, got {self.mode}")
        return self

    @model_validator(mode="after")
    def _schedule_fits(self) -> "TrainingConfig":
        if self.lr_scheduler == WSD:
            if self.max_steps < 0:
                raise ValueError(f"{WSD} needs max_steps (its decay is a number of steps), not epochs: give max_steps, "
                                 f"or lr_scheduler {COSINE}")  # fmt: skip
            if self.warmup_ratio + self.decay_ratio > 1:
                raise ValueError(f"warmup_ratio {self.warmup_ratio} + decay_ratio {self.decay_ratio} leave no room for the steps between them")
        return self

    @property
    def warmup_steps(self) -> int:
        """Warmup steps when `max_steps` bounds training (transformers rounds the share up)."""
        return math.ceil(self.warmup_ratio * self.max_steps)

    @property
    def decay_steps(self) -> int:
        """Steps `warmup_stable_decay` spends decaying, when `max_steps` bounds training: at least
        one, at most what warmup leaves (a run of a few steps, e.g. a smoke test, still has a schedule)."""
        return max(1, min(round(self.decay_ratio * self.max_steps), self.max_steps - self.warmup_steps))

    @property
    def from_config(self) -> bool:
        return self.base_model == TINY_BASE_MODEL

    @property
    def sequence_limit(self) -> int:
        return self.max_length or (self.model.max_positions if self.from_config else 1024)

    def fingerprint(self) -> str:
        """A hash of every setting that shapes what is learned: a checkpoint is resumed only by a run
        with the same settings. `memory_gib` is left out: it changes how a step is split into
        micro-batches (same effective batch), which a machine with other memory must be free to do.
        `sharding` counts only when it is not the default `ddp` (an FSDP checkpoint is saved in shards
        a DDP run cannot resume), so checkpoints made before the setting existed stay resumable."""
        settings = {k: v for k, v in self.as_dict().items() if k != "memory_gib" and not (k == "sharding" and v == DDP)}
        return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]

    def with_changes(self, **changes: Any) -> "TrainingConfig":
        """A validated copy with some settings changed (nested sections merge key by key)."""
        merged = self.as_dict()
        for key, value in changes.items():
            if isinstance(value, BaseModel):
                value = value.model_dump()
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                value = {**merged[key], **value}
            merged[key] = value
        return TrainingConfig.model_validate(merged)


PRESETS: dict[str, dict[str, Any]] = {
    "tiny_cpu": {},
    "reference_qlora": {
        "mode": QLORA,
        "lora": {"r": 16, "alpha": 32, "dropout": 0.05},
        "learning_rate": 2e-4,
        "lr_scheduler": COSINE,
        "warmup_ratio": 0.1,
        "epochs": 3.0,
        "max_steps": -1,
        "batch_size": 4,
        "grad_accumulation": 4,
        "max_seconds": None,
    },
}
"""Named training settings. `reference_qlora` is the reference study's: QLoRA r=16, alpha=32,
dropout 0.05 on all attention and MLP projections, lr 2e-4, cosine, warmup 0.1, 3 epochs,
batch 4 x accumulation 4."""
